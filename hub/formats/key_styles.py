"""Tensor key names -> adapted modules: every historical LoRA key style, read from names and shapes only.

Each key style names a module and the role of the tensor in it differently:

========================  ==========================================================================
style                     example key
========================  ==========================================================================
kohya (+ LyCORIS)         ``lora_unet_down_blocks_0_..._attn2_to_k.lora_down.weight`` / ``.lokr_w1_a``
broken                    ``lora_unet_unet_down_blocks_0_..._to_k_lora_down.weight`` (bad conversion)
attn-procs                ``[unet.]down_blocks.0...attn2.processor.to_k_lora.down.weight``
diffusers-old             ``unet.<module>.lora.down.weight``, ``text_encoder.<module>.lora_linear_layer.up.weight``
lora-ab                   ``[unet.|base_model.model.]<module>.lora_A.weight`` (PEFT)
cloneofsimo               ``unet:12:down`` (modules named by index only)
========================  ==========================================================================

:func:`group_modules` turns a ``{key: shape}`` mapping into :class:`ModuleEntry` records with a
component (unet, text_encoder, text_encoder_2, transformer, t5, other) and an ``_``-joined module
path that the arch rules in :mod:`hub.formats.arch_detect` read.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

Shape = tuple[int, ...]

KOHYA_PREFIXES: dict[str, str] = {
    "lora_unet_": "unet",
    "lora_te1_": "text_encoder",
    "lora_te2_": "text_encoder_2",
    "lora_te3_": "t5",  # sd-scripts' FLUX T5 prefix
    "lora_te_": "text_encoder",
    "lora_transformer_": "transformer",
}
DIFFUSERS_PREFIXES = ("unet", "text_encoder", "text_encoder_2", "transformer")

# kohya / LyCORIS suffix (after the first ".") -> role
KOHYA_ROLES: dict[str, str] = {
    "lora_down.weight": "down",
    "lora_up.weight": "up",
    "lora_mid.weight": "mid",
    "alpha": "alpha",
    "dora_scale": "dora_scale",
}
LYCORIS_ROLES = (
    "hada_w1_a",
    "hada_w1_b",
    "hada_w2_a",
    "hada_w2_b",
    "hada_t1",
    "hada_t2",
    "lokr_w1",
    "lokr_w1_a",
    "lokr_w1_b",
    "lokr_w2",
    "lokr_w2_a",
    "lokr_w2_b",
    "lokr_t2",
    "diff",
    "diff_b",
    "oft_blocks",
    "oft_diag",
    "w_norm",
    "b_norm",
)

_UNET_NAMES = re.compile(
    r"^(down_blocks|up_blocks|mid_block|conv_in|conv_out|conv_norm_out|time_embedding|add_embedding|"
    r"input_blocks|output_blocks|middle_block|time_embed|label_emb|out_\d)"
)
_CLIP_NAMES = re.compile(
    r"^(text_model_(encoder_layers|embeddings|final_layer_norm)|encoder_layers_\d+_(self_attn|mlp))"
)
_FLUX_NAMES = re.compile(
    r"^(double_blocks|single_blocks|transformer_blocks|single_transformer_blocks|x_embedder|context_embedder|"
    r"proj_out|norm_out|time_text_embed|img_in|txt_in|final_layer|guidance_in|time_in|vector_in)"
)
_T5_NAMES = re.compile(r"^(encoder_block_\d+_layer_\d+_(selfattention|densereluedense))")
_CLONEOFSIMO = re.compile(r"^(unet|text_encoder|text_encoder_2):(\d+):(up|down)$")


@dataclass
class ModuleEntry:
    name: str  # the module as the file names it (its keys minus their role suffix)
    component: str  # unet | text_encoder | text_encoder_2 | transformer | t5 | other
    path: str  # module path below the component, "_"-joined and lowercase, e.g. "down_blocks_0_..._attn2_to_k"
    parts: dict[str, Shape] = field(default_factory=dict)  # role -> shape
    keys: dict[str, str] = field(default_factory=dict)  # role -> full tensor key

    @property
    def known(self) -> bool:
        """True when the module path is a recognisable SD UNet / CLIP / FLUX / T5 name for its component."""
        return is_known_path(self.component, self.path)


@dataclass
class KeyGroups:
    modules: dict[str, ModuleEntry]
    styles: Counter[str]  # style -> number of keys
    rest: dict[str, Shape]  # keys no style claimed (embeddings, stray tensors)
    peft_wrapped: bool = False  # keys start with base_model.model.


def flat_path(dotted: str) -> str:
    return dotted.replace(".", "_").lower()


def is_known_path(component: str, path: str) -> bool:
    if component == "unet":
        return bool(_UNET_NAMES.match(path)) or bool(_FLUX_NAMES.match(path))
    if component in ("text_encoder", "text_encoder_2"):
        return bool(_CLIP_NAMES.match(path))
    if component == "transformer":
        return bool(_FLUX_NAMES.match(path))
    if component == "t5":
        return bool(_T5_NAMES.match(path))
    return False


def infer_component(path: str) -> str:
    """Component of an unprefixed module path (PEFT ``base_model.model.*`` or bare diffusers keys)."""
    if _CLIP_NAMES.match(path):
        return "text_encoder"
    if _UNET_NAMES.match(path):
        return "unet"
    if _FLUX_NAMES.match(path):
        return "transformer"
    return "other"


def split_key(key: str) -> tuple[str, str, str, str] | None:
    """``(style, component, module name, role)`` of one key, or None when it names no adapter tensor."""
    m = _CLONEOFSIMO.match(key)
    if m:
        return "cloneofsimo", m.group(1), f"{m.group(1)}:{m.group(2)}", m.group(3)
    for prefix, component in KOHYA_PREFIXES.items():
        if key.startswith(prefix):
            return _split_kohya(key, prefix, component)
    return _split_diffusers(key)


def _split_kohya(key: str, prefix: str, component: str) -> tuple[str, str, str, str] | None:
    module, _, suffix = key.partition(".")
    if suffix == "weight" and module.endswith(("_lora_down", "_lora_up")):
        # diffusers names run through a naive kohya converter: lora_unet_unet_..._to_k_lora_down.weight
        base, _, role = module.rpartition("_lora_")
        return "broken", component, base, role
    tensor_role = KOHYA_ROLES.get(suffix) or (suffix if suffix in LYCORIS_ROLES else None)
    if tensor_role is None:
        return None
    return "kohya", component, module, tensor_role


def _split_diffusers(key: str) -> tuple[str, str, str, str] | None:
    for suffix, style, role in (
        (".lora_A.weight", "lora-ab", "down"),
        (".lora_B.weight", "lora-ab", "up"),
        (".lora_A.default.weight", "lora-ab", "down"),
        (".lora_B.default.weight", "lora-ab", "up"),
        (".lora_magnitude_vector", "lora-ab", "dora_scale"),
        (".lora_magnitude_vector.weight", "lora-ab", "dora_scale"),
        ("_lora.down.weight", "attn-procs", "down"),
        ("_lora.up.weight", "attn-procs", "up"),
        (".lora.down.weight", "diffusers-old", "down"),
        (".lora.up.weight", "diffusers-old", "up"),
        (".lora_linear_layer.down.weight", "diffusers-old", "down"),
        (".lora_linear_layer.up.weight", "diffusers-old", "up"),
        (".alpha", "alpha", "alpha"),
    ):
        if key.endswith(suffix):
            module = key[: -len(suffix)]
            if style == "attn-procs":
                module = module.replace(".processor.", ".")
            return style, "", module, role
    return None


def group_modules(shapes: dict[str, Shape]) -> KeyGroups:
    """Group tensor keys into adapted modules, each with its component and a path the arch rules read."""
    modules: dict[str, ModuleEntry] = {}
    styles: Counter[str] = Counter()
    rest: dict[str, Shape] = {}
    peft_wrapped = False
    for key, shape in shapes.items():
        split = split_key(key)
        if split is None:
            rest[key] = shape
            continue
        style, component, module, role = split
        if style != "alpha":
            styles[style] += 1
        entry = modules.get(module)
        if entry is None:
            entry = modules[module] = _new_entry(style, component, module)
            peft_wrapped = peft_wrapped or module.startswith("base_model.model.")
        entry.parts[role] = shape
        entry.keys[role] = key
    # A lone ".alpha" with no weights beside it is not a module (e.g. a stray scalar); give it back.
    for name in [n for n, e in modules.items() if set(e.parts) == {"alpha"}]:
        rest[modules[name].keys["alpha"]] = modules[name].parts["alpha"]
        del modules[name]
    return KeyGroups(modules, styles, rest, peft_wrapped)


def _new_entry(style: str, component: str, module: str) -> ModuleEntry:
    if style == "cloneofsimo":
        return ModuleEntry(module, component, module.replace(":", "_"))
    if style in ("kohya", "broken"):
        prefix = next(p for p, c in KOHYA_PREFIXES.items() if module.startswith(p))
        path = module[len(prefix) :].lower()
        if style == "broken":
            # lora_unet_unet_down_blocks_... : the second component name is the diffusers prefix left in
            for dup in ("unet_", "text_encoder_2_", "text_encoder_"):
                if path.startswith(dup):
                    path = path[len(dup) :]
                    break
        if component == "unet" and _FLUX_NAMES.match(path) and not _UNET_NAMES.match(path):
            component = "transformer"  # sd-scripts' FLUX LoRA keeps the lora_unet_ prefix
        return ModuleEntry(module, component, path)
    dotted = module
    if dotted.startswith("base_model.model."):
        dotted = dotted[len("base_model.model.") :]
    head, _, tail = dotted.partition(".")
    if head in DIFFUSERS_PREFIXES and tail:
        return ModuleEntry(module, head, flat_path(tail))
    path = flat_path(dotted)
    return ModuleEntry(module, infer_component(path), path)
