"""Canonical module keys <-> kohya LoRA names (``lora_unet_*``, ``lora_te_*``, ``lora_te1_*``, ``lora_te2_*``).

kohya flattens every ``.`` of a module path to ``_``, so the way back is ambiguous as a string
(``proj_out`` vs ``proj.out``). We split the flat name into the segments a Stable Diffusion module path
is made of (a fixed vocabulary plus numbers) and keep the parse that names a module of the model's
:class:`~hub.formats.module_tables.ModuleTable`; with no table (two files for a model we have no table of are
still combined by name), the single parse with the fewest segments, which writes the same name back. Pure
Python, no torch.

Text encoders are always named from ``text_model.encoder.layers...`` (the transformers 4.x layout that
every kohya file uses), whatever layout the installed transformers has.

SDXL files from kohya's trainer name the UNet with the original LDM paths
(``input_blocks_4_1_transformer_blocks_0_attn1_to_q``); others use diffusers paths. Both load; we
write LDM paths for SDXL, as kohya does. The LDM<->diffusers map is :mod:`hub.formats.unet_layout`'s.
"""

from __future__ import annotations

from hub.errors import IncompatibleError
from hub.formats.module_tables import ModuleTable
from hub.formats.unet_layout import UnetLayout

COMPONENTS = ("unet", "text_encoder", "text_encoder_2")

# Every multi- or single-word segment of a diffusers or LDM module path in an SD UNet or CLIP text encoder.
_VOCAB = frozenset(
    [
        "down_blocks",
        "up_blocks",
        "mid_block",
        "attentions",
        "resnets",
        "downsamplers",
        "upsamplers",
        "conv",
        "conv1",
        "conv2",
        "conv_shortcut",
        "time_emb_proj",
        "norm",
        "norm1",
        "norm2",
        "norm3",
        "proj_in",
        "proj_out",
        "transformer_blocks",
        "attn1",
        "attn2",
        "to_q",
        "to_k",
        "to_v",
        "to_out",
        "ff",
        "net",
        "proj",
        "conv_in",
        "conv_out",
        "conv_norm_out",
        "time_embedding",
        "linear_1",
        "linear_2",
        "add_embedding",
        "time_proj",
        "add_time_proj",
        "class_embedding",
        "encoder_hid_proj",
        "text_model",
        "encoder",
        "layers",
        "self_attn",
        "q_proj",
        "k_proj",
        "v_proj",
        "out_proj",
        "mlp",
        "fc1",
        "fc2",
        "embeddings",
        "token_embedding",
        "position_embedding",
        "final_layer_norm",
        "text_projection",
        "layer_norm1",
        "layer_norm2",
        "input_blocks",
        "middle_block",
        "output_blocks",
        "in_layers",
        "out_layers",
        "emb_layers",
        "skip_connection",
        "op",
        "time_embed",
        "label_emb",
        "out",
    ]
)


def kohya_prefix(component: str, *, two_text_encoders: bool = False) -> str:
    if component == "unet":
        return "lora_unet"
    if component == "text_encoder":
        return "lora_te1" if two_text_encoders else "lora_te"
    if component == "text_encoder_2":
        return "lora_te2"
    raise IncompatibleError(f"kohya format has no prefix for component {component!r}")


_PREFIXES = (("lora_unet_", "unet"), ("lora_te1_", "text_encoder"), ("lora_te2_", "text_encoder_2"))
_LDM_STARTS = ("input_blocks_", "middle_block_", "output_blocks_", "time_embed_", "label_emb_", "out_")
_LDM_STARTS_DOTTED = ("input_blocks.", "middle_block.", "output_blocks.", "time_embed.", "label_emb.", "out.")


# ----- flat-name parsing ----------------------------------------------------------------------------------


def _parses(flat: str) -> list[list[str]]:
    """Every way to cut ``flat`` at underscores into vocabulary words and numbers."""
    tokens = flat.split("_")
    results: list[list[str]] = []

    def walk(i: int, acc: list[str]) -> None:
        if i == len(tokens):
            results.append(list(acc))
            return
        for j in range(i + 1, len(tokens) + 1):
            seg = "_".join(tokens[i:j])
            if seg.isdigit() or seg in _VOCAB:
                acc.append(seg)
                walk(j, acc)
                acc.pop()
            if len(results) > 64:  # a pathological name; no SD path comes close
                return

    walk(0, [])
    return results


def _choose(candidates: list[str], table: ModuleTable | None) -> str | None:
    """The one candidate path the table has; without a table, the only parse or the one with fewest segments
    (the reading that writes the same kohya name back, whatever the model)."""
    if not candidates:
        return None
    if table is not None:
        hits = [c for c in candidates if c in table.modules]
        return hits[0] if len(hits) == 1 else None
    if len(candidates) == 1:
        return candidates[0]
    fewest = min(c.count(".") for c in candidates)
    best = [c for c in candidates if c.count(".") == fewest]
    return best[0] if len(best) == 1 else None


def split_kohya_name(name: str) -> tuple[str, str]:
    """``lora_unet_down_blocks_0_...`` -> (component, flat path). Raises IncompatibleError on another prefix."""
    for prefix, component in _PREFIXES:
        if name.startswith(prefix):
            return component, name[len(prefix) :]
    if name.startswith("lora_te_"):
        return "text_encoder", name[len("lora_te_") :]
    raise IncompatibleError(f"not a kohya module name: {name!r}")


def is_ldm_name(name: str) -> bool:
    """Whether a kohya UNet name uses the original (LDM) module paths, as kohya's SDXL trainer writes them."""
    component, flat = split_kohya_name(name)
    return component == "unet" and flat.startswith(_LDM_STARTS)


def from_kohya(name: str, table: ModuleTable | None = None) -> str | None:
    """A kohya module name (no ``.lora_down.weight`` suffix) -> canonical key, or None when it cannot be placed.

    With a ``table`` (a real base's, or the user's base read from its files) the name must parse to one of its
    modules, and LDM-path UNet names are translated with its UNet layout. Without one, the name is only parsed:
    ``<component>.<dotted path>``, LDM paths kept as they are; such keys name the same module in two files that
    name it the same way, and write back to the same kohya name, but are not placed on any model.
    """
    component, flat = split_kohya_name(name)
    if component != "unet":
        if flat.startswith("encoder_layers_"):  # a converter that used transformers 5's flattened CLIP paths
            flat = "text_model_" + flat
        elif not flat.startswith("text_model_"):
            return None
    paths = [".".join(p) for p in _parses(flat)]
    if component == "unet" and flat.startswith(_LDM_STARTS) and table is not None:
        layout = table.unet
        paths = [p for p in (layout.from_ldm(p) for p in paths) if p] if layout else []
    return _choose([f"{component}.{p}" for p in dict.fromkeys(paths)], table)


def to_kohya(key: str, *, ldm_unet: UnetLayout | None = None, two_text_encoders: bool = False) -> str:
    """Canonical key -> kohya module name. ``ldm_unet``: write UNet paths in that layout's LDM form (kohya's SDXL
    naming); a module the layout lacks is an error. ``two_text_encoders``: ``lora_te1_`` for the first (SDXL)."""
    component, path = key.split(".", 1)
    if component != "unet" and path.startswith("encoder."):
        path = "text_model." + path
    if component == "unet" and ldm_unet is not None and not path.startswith(_LDM_STARTS_DOTTED):
        ldm = ldm_unet.to_ldm(path)
        if ldm is None:
            raise IncompatibleError(f"{key} has no LDM name in this UNet layout")
        path = ldm
    return f"{kohya_prefix(component, two_text_encoders=two_text_encoders)}_{path.replace('.', '_')}"


def ldm_names_fit(keys: list[str], layout: UnetLayout) -> bool:
    """Whether every UNet key has an LDM name in ``layout``."""
    return all(layout.to_ldm(k.split(".", 1)[1]) is not None for k in keys if k.startswith("unet."))


def is_ldm_key(key: str) -> bool:
    """Whether a canonical-looking key holds an LDM UNet path (a kohya name parsed without a table)."""
    return key.startswith("unet.") and key[5:].startswith(_LDM_STARTS_DOTTED)
