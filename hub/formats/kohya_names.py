"""Canonical module keys <-> kohya LoRA names (``lora_unet_*``, ``lora_te_*``, ``lora_te1_*``, ``lora_te2_*``).

kohya flattens every ``.`` of a module path to ``_``, so the way back is ambiguous as a string
(``proj_out`` vs ``proj.out``). We split the flat name into the segments a Stable Diffusion module path
is made of (a fixed vocabulary plus numbers) and keep the parse that names a known module of the
architecture, or else the single parse with the fewest segments. Pure Python, no torch.

Text encoders are always named from ``text_model.encoder.layers...`` (the transformers 4.x layout that
every kohya file uses), whatever layout the installed transformers has.

SDXL files from kohya's trainer name the UNet with the original LDM paths
(``input_blocks_4_1_transformer_blocks_0_attn1_to_q``); others use diffusers paths. Both load; we
write LDM paths for SDXL, as kohya does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from hub.errors import IncompatibleError
from hub.formats.known_modules import all_known_modules, known_modules

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


def kohya_prefix(component: str, arch: str) -> str:
    if component == "unet":
        return "lora_unet"
    if component == "text_encoder":
        return "lora_te1" if arch in ("sdxl", "tiny-sdxl") else "lora_te"
    if component == "text_encoder_2":
        return "lora_te2"
    raise IncompatibleError(f"kohya format has no prefix for component {component!r}")


_PREFIXES = (("lora_unet_", "unet"), ("lora_te1_", "text_encoder"), ("lora_te2_", "text_encoder_2"))


# ----- LDM (original Stable Diffusion) UNet paths -------------------------------------------------------


@dataclass(frozen=True)
class UnetLayout:
    layers_per_block: int
    down_attn: tuple[bool, ...]  # per down level: has transformers
    up_attn: tuple[bool, ...]


LDM_LAYOUTS = {
    "sd1": UnetLayout(2, (True, True, True, False), (False, True, True, True)),
    "sd2": UnetLayout(2, (True, True, True, False), (False, True, True, True)),
    "sdxl": UnetLayout(2, (False, True, True), (True, True, False)),
    # hub.testing's tiny pipelines: two cross-attention levels, one layer per block.
    "tiny-sd1": UnetLayout(1, (True, True), (True, True)),
    "tiny-sdxl": UnetLayout(1, (True, True), (True, True)),
}
_RESNET_TO_LDM = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_TOP_TO_LDM = {
    "conv_in": "input_blocks.0.0",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}


@cache
def _ldm_maps(arch: str) -> tuple[dict[str, str], dict[str, str]]:
    """(diffusers block prefix -> LDM block prefix, inverse) for a real base's UNet layout."""
    lay = LDM_LAYOUTS[arch]
    n = lay.layers_per_block
    fwd: dict[str, str] = {}
    for i, has_attn in enumerate(lay.down_attn):
        for j in range(n):
            fwd[f"down_blocks.{i}.resnets.{j}"] = f"input_blocks.{(n + 1) * i + j + 1}.0"
            if has_attn:
                fwd[f"down_blocks.{i}.attentions.{j}"] = f"input_blocks.{(n + 1) * i + j + 1}.1"
        if i < len(lay.down_attn) - 1:
            fwd[f"down_blocks.{i}.downsamplers.0.conv"] = f"input_blocks.{(n + 1) * (i + 1)}.0.op"
    fwd["mid_block.resnets.0"] = "middle_block.0"
    fwd["mid_block.attentions.0"] = "middle_block.1"
    fwd["mid_block.resnets.1"] = "middle_block.2"
    for i, has_attn in enumerate(lay.up_attn):
        for j in range(n + 1):
            fwd[f"up_blocks.{i}.resnets.{j}"] = f"output_blocks.{(n + 1) * i + j}.0"
            if has_attn:
                fwd[f"up_blocks.{i}.attentions.{j}"] = f"output_blocks.{(n + 1) * i + j}.1"
        if i < len(lay.up_attn) - 1:
            fwd[f"up_blocks.{i}.upsamplers.0.conv"] = f"output_blocks.{(n + 1) * i + n}.{2 if has_attn else 1}.conv"
    return fwd, {v: k for k, v in fwd.items()}


def _longest_prefix(parts: list[str], table: dict[str, str]) -> tuple[str, list[str]] | None:
    for cut in range(len(parts), 1, -1):
        head = ".".join(parts[:cut])
        if head in table:
            return head, parts[cut:]
    return None


def unet_path_to_ldm(path: str, arch: str) -> str | None:
    """diffusers UNet module path -> LDM path, or None when the layout has no such module."""
    if path in _TOP_TO_LDM:
        return _TOP_TO_LDM[path]
    fwd, _ = _ldm_maps(arch)
    found = _longest_prefix(path.split("."), fwd)
    if found is None:
        return None
    head, tail = found
    if ".resnets." in head:
        inner = ".".join(tail)
        return f"{fwd[head]}.{_RESNET_TO_LDM[inner]}" if inner in _RESNET_TO_LDM else None
    return ".".join([fwd[head], *tail])


_LDM_STARTS = ("input_blocks_", "middle_block_", "output_blocks_", "time_embed_", "label_emb_", "out_")
_RESNET_FROM_LDM = {v: k for k, v in _RESNET_TO_LDM.items()}


def ldm_path_to_unet(path: str, arch: str) -> str | None:
    """LDM UNet module path -> diffusers path, or None."""
    for diff, ldm in _TOP_TO_LDM.items():
        if path == ldm:
            return diff
    _, inv = _ldm_maps(arch)
    found = _longest_prefix(path.split("."), inv)
    if found is None:
        return None
    head, tail = found
    target = inv[head]
    if ".resnets." in target:
        inner = ".".join(tail)
        return f"{target}.{_RESNET_FROM_LDM[inner]}" if inner in _RESNET_FROM_LDM else None
    return ".".join([target, *tail])


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


def _choose(candidates: list[str], known: set[str] | dict, *, strict: bool = False) -> str | None:
    """The one candidate path the model has. ``strict`` (a real base's full table): no guessing beyond it."""
    if not candidates:
        return None
    hits = [c for c in candidates if c in known]
    if len(hits) == 1:
        return hits[0]
    if strict:
        return None
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


def from_kohya(name: str, arch: str = "unknown", known: set[str] | dict | None = None) -> str | None:
    """A kohya module name (no ``.lora_down.weight`` suffix) -> canonical key, or None when it cannot be placed.

    ``known``: canonical keys of the target model (e.g. a tiny pipeline's); the real bases' tables are used
    otherwise. UNet names in LDM form are mapped to diffusers paths with the base's layout (SDXL unless
    ``arch`` says sd1/sd2).
    """
    component, flat = split_kohya_name(name)
    # A model's table (given, or a real base's) lists every module it has: a name outside it cannot be placed.
    strict = bool(known) or bool(known_modules(arch))
    if known is None:
        known = known_modules(arch) or all_known_modules()
    if component != "unet":
        if flat.startswith("encoder_layers_"):  # a converter that used transformers 5's flattened CLIP paths
            flat = "text_model_" + flat
        elif not flat.startswith("text_model_"):
            return None
    paths = [".".join(p) for p in _parses(flat)]
    if component == "unet" and flat.startswith(_LDM_STARTS):
        layout_arch = arch if arch in LDM_LAYOUTS else "sdxl"
        paths = [p for p in (ldm_path_to_unet(p, layout_arch) for p in paths) if p]
    return _choose([f"{component}.{p}" for p in dict.fromkeys(paths)], known, strict=strict)


def to_kohya(key: str, arch: str = "unknown", *, ldm_unet: bool | None = None) -> str:
    """Canonical key -> kohya module name. SDXL UNet paths become LDM paths (kohya's trainer naming) unless
    ``ldm_unet=False``; a module the real SDXL layout lacks keeps its diffusers path."""
    component, path = key.split(".", 1)
    if component != "unet" and path.startswith("encoder."):
        path = "text_model." + path
    if component == "unet" and (ldm_unet if ldm_unet is not None else arch in ("sdxl", "tiny-sdxl")):
        ldm = unet_path_to_ldm(path, arch if arch in LDM_LAYOUTS else "sdxl")
        if ldm is None:
            raise IncompatibleError(f"{key} has no LDM name in the {arch} UNet layout")
        path = ldm
    return f"{kohya_prefix(component, arch)}_{path.replace('.', '_')}"


def ldm_names_fit(keys: list[str], arch: str) -> bool:
    """Whether every UNet key has an LDM name in ``arch``'s layout."""
    if arch not in LDM_LAYOUTS:
        return False
    return all(unet_path_to_ldm(k.split(".", 1)[1], arch) is not None for k in keys if k.startswith("unet."))


_CANONICAL_TE = re.compile(r"^(text_encoder(?:_2)?)\.(?:text_model\.)?(encoder\..*)$")


def canonical_text_encoder_key(key: str) -> str:
    """``text_encoder.encoder.layers.0...`` (transformers 5) -> ``text_encoder.text_model.encoder.layers.0...``."""
    m = _CANONICAL_TE.match(key)
    return f"{m.group(1)}.text_model.{m.group(2)}" if m else key
