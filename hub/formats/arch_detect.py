"""Which base model an adapter was trained for, decided from tensor SHAPES (metadata only breaks ties).

Metadata lies (a FLUX file in the wild says ``ss_base_model_version=sd_1.5``) and dims alone
mislead (a T5 adapter has in-dim 768 like SD1), so the rules need recognisable module names and
read the dims those modules must have:

- UNet cross-attention ``attn2.to_k``/``to_v`` in-dim is the text embedding width:
  768 -> sd1, 1024 -> sd2, 2048 -> sdxl (CLIP-L 768 + OpenCLIP-bigG 1280).
- Text encoder widths: 768 CLIP-L (sd1, or SDXL's te1), 1024 OpenCLIP-H (sd2), 1280 bigG (SDXL te2).
- A second text encoder exists only in SDXL.
- UNet-only files without cross-attention k/v: SDXL's layout has 10 transformer blocks per deep
  attention (index >= 2) and no attention at 320 channels; SD1 uses 1x1 conv proj_in, SD2 linear.
- FLUX: double/single blocks with hidden size 3072.
- The embedded ``tiny`` base (``--base tiny``, :mod:`hub.bases.tiny`): every module is one of its modules with its
  widths, as its packaged module table lists them (no real base has its 32-wide text or 32/64-channel UNet).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from hub.formats.key_styles import ModuleEntry, Shape
from hub.formats.module_tables import TINY_ARCH, TINY_LABEL, tiny_module_shapes, tiny_path, tiny_text_width

CROSS_ATTN_DIMS = {768: "sd1", 1024: "sd2", 2048: "sdxl"}
TEXT_ENCODER_DIMS = {768: "sd1", 1024: "sd2", 1280: "sdxl"}
EMBEDDING_DIMS = {768: "sd1", 1024: "sd2", 1280: "sdxl"}
FLUX_HIDDEN = 3072

_CROSS_KV = re.compile(r"attn2_(to_k|to_v)$")
_TE_ATTN = re.compile(r"(self_attn_(q|k|v)_proj|mlp_fc1)$")
_BLOCK_INDEX = re.compile(r"transformer_blocks_(\d+)_")
_ATTN_MODULE = re.compile(r"attn[12]_(to_q|to_k|to_v|to_out)")


def module_in_dim(e: ModuleEntry) -> int | None:
    """Input width of the adapted layer (in-channels for convs)."""
    p = e.parts
    if "down" in p and len(p["down"]) >= 2:
        return p["down"][1]
    if "hada_w1_b" in p and len(p["hada_w1_b"]) >= 2:
        return p["hada_w1_b"][1]
    a = _second(p.get("lokr_w1")) or _second(p.get("lokr_w1_b"))
    b = _second(p.get("lokr_w2")) or _second(p.get("lokr_w2_b"))
    if a and b:
        return a * b
    if "diff" in p and len(p["diff"]) >= 2:
        return p["diff"][1]
    return None


def module_out_dim(e: ModuleEntry) -> int | None:
    p = e.parts
    if p.get("up"):
        return p["up"][0]
    if p.get("hada_w1_a"):
        return p["hada_w1_a"][0]
    a = _first(p.get("lokr_w1")) or _first(p.get("lokr_w1_a"))
    b = _first(p.get("lokr_w2")) or _first(p.get("lokr_w2_a"))
    if a and b:
        return a * b
    if p.get("diff"):
        return p["diff"][0]
    return None


def module_rank(e: ModuleEntry) -> int | None:
    """LoRA rank; LoHa's inner dim; LoKr's decomposition dim (None when both Kronecker factors are full)."""
    p = e.parts
    if p.get("down"):
        return p["down"][0]
    if p.get("hada_w1_b"):
        return p["hada_w1_b"][0]
    for role in ("lokr_w2_b", "lokr_w1_b"):
        if p.get(role):
            return p[role][0]
    return None


def _first(s: Shape | None) -> int | None:
    return s[0] if s else None


def _second(s: Shape | None) -> int | None:
    return s[1] if s and len(s) >= 2 else None


def arch_from_base_name(name: str | None) -> str | None:
    """Arch named by a base model id/path or a metadata label (``ss_base_model_version``, modelspec)."""
    if not name:
        return None
    n = name.lower().replace("\\", "/")
    if TINY_LABEL in n:
        return TINY_ARCH
    if "flux" in n:
        return "flux"
    if re.search(r"xl|pony|illustrious|noobai", n):
        return "sdxl"
    if re.search(r"stable-diffusion-2|sd_?2|v2[-_.]?[01]|sd_v2|768-v", n):
        return "sd2"
    if re.search(r"v1[-_.]?[45]|stable-diffusion-v1|sd_?1|sd15|sd_v1|sd-v1", n):
        return "sd1"
    return None


def _mode(values: list[int]) -> int:
    return Counter(values).most_common(1)[0][0]


def detect_arch(modules: list[ModuleEntry], *, tie_breaker: tuple[str, str] | None = None) -> tuple[str, list[str]]:
    """``(arch, evidence)`` from recognisable modules. ``tie_breaker`` is ``(arch, why)`` for shape-identical cases."""
    transformer = [m for m in modules if m.component == "transformer"]
    if transformer:
        dims = {d for m in transformer for d in (module_in_dim(m), module_out_dim(m)) if d}
        if FLUX_HIDDEN in dims:
            blocks = sorted({m.path.split("_blocks")[0] + "_blocks" for m in transformer if "_blocks" in m.path})
            return "flux", [f"FLUX transformer ({', '.join(blocks) or 'named modules'}) with hidden size 3072"]
        return "unknown", ["transformer blocks whose hidden size is not FLUX's 3072"]
    if any(m.component == "text_encoder_2" for m in modules):
        return "sdxl", ["has a second text encoder (lora_te2_/text_encoder_2): only SDXL has one"]
    if fits_tiny(modules):
        return TINY_ARCH, [
            f"every module is one of the embedded tiny base's, with its widths (text and cross-attention "
            f"{tiny_text_width()}) -> tiny"
        ]

    unet = [m for m in modules if m.component == "unet"]
    te = [m for m in modules if m.component == "text_encoder"]
    cross = [d for m in unet if _CROSS_KV.search(m.path) and (d := module_in_dim(m))]
    te_dims = [d for m in te if _TE_ATTN.search(m.path) and (d := module_in_dim(m))]
    if cross:
        dim = _mode(cross)
        arch = CROSS_ATTN_DIMS.get(dim, "unknown")
        evidence = [f"UNet cross-attention (attn2 to_k/to_v) in-dim {dim} -> {arch}"]
        if te_dims and TEXT_ENCODER_DIMS.get(_mode(te_dims)) not in (arch, None) and arch != "sdxl":
            evidence.append(f"text encoder width {_mode(te_dims)} disagrees")
        return arch, evidence
    if te_dims:
        dim = _mode(te_dims)
        arch = TEXT_ENCODER_DIMS.get(dim, "unknown")
        evidence = [f"text encoder width {dim} -> {arch}"]
        if arch == "sd1" and not unet:
            evidence = [f"text encoder width {dim} (CLIP-L)"]
            if tie_breaker and tie_breaker[0] in ("sd1", "sdxl"):
                evidence.append(f"width 768 fits SD1 and SDXL's first text encoder; {tie_breaker[1]}")
                return tie_breaker[0], evidence
            evidence.append("width 768 also fits SDXL's first text encoder; nothing says SDXL, so sd1")
        return arch, evidence
    if unet:
        return _unet_layout(unet, tie_breaker)
    return "unknown", ["no module whose shape names a base model"]


def fits_tiny(modules: list[ModuleEntry]) -> bool:
    """Every module is a UNet or text encoder module of the embedded tiny base with the same in and out widths."""
    shapes = tiny_module_shapes()
    if not modules:
        return False
    for m in modules:
        shape = shapes.get((m.component, tiny_path(m.component, m.path)))
        if shape is None or len(shape) < 2:
            return False
        in_dim, out_dim = module_in_dim(m), module_out_dim(m)
        if in_dim is None and out_dim is None:
            return False
        # a conv's in-width is in-channels, or in-channels x kernel where factors are 2-D (LoHa, LoKr)
        if in_dim is not None and in_dim not in (shape[1], math.prod(shape[1:])):
            return False
        if out_dim is not None and out_dim != shape[0]:
            return False
    return True


def _unet_layout(unet: list[ModuleEntry], tie_breaker: tuple[str, str] | None) -> tuple[str, list[str]]:
    """UNet-only files without cross-attention k/v (sliders, attn1-only, conv-only)."""
    blocks = [int(m.group(1)) for e in unet if (m := _BLOCK_INDEX.search(e.path))]
    if blocks and max(blocks) >= 2:
        return "sdxl", [f"transformer_blocks index {max(blocks)}: only SDXL stacks more than 2 per attention"]
    attn_dims = {d for e in unet if _ATTN_MODULE.search(e.path) and (d := module_in_dim(e))}
    sd12_layout = any(
        e.path.startswith(("down_blocks_0_attentions", "up_blocks_3_attentions", "input_blocks_1_1")) for e in unet
    )
    if sd12_layout or 320 in attn_dims:
        proj_in = [e.parts["down"] for e in unet if e.path.endswith("proj_in") and "down" in e.parts]
        if proj_in:
            if len(proj_in[0]) == 4:
                return "sd1", ["UNet attentions at 320 channels and a 1x1-conv proj_in -> sd1"]
            return "sd2", ["UNet attentions at 320 channels and a linear proj_in -> sd2"]
        if tie_breaker and tie_breaker[0] in ("sd1", "sd2"):
            return tie_breaker[0], ["UNet layout of SD1/SD2", tie_breaker[1]]
        return "unknown", ["UNet layout of SD1 or SD2; no cross-attention, proj_in or text encoder keys to tell"]
    if attn_dims and attn_dims <= {640, 1280}:
        return "sdxl", ["UNet attentions only at 640/1280 channels (no 320-channel attention): SDXL layout"]
    if tie_breaker:
        return tie_breaker[0], ["UNet keys without a telling shape", tie_breaker[1]]
    return "unknown", ["UNet keys without a telling shape"]


def arch_from_dims(dims: set[int]) -> tuple[str, str]:
    """Nameless files (cloneofsimo): the context / text widths present among all dims."""
    for dim, arch in ((2048, "sdxl"), (1024, "sd2"), (768, "sd1")):
        if dim in dims:
            return arch, f"tensor dims include {dim} -> {arch}"
    return "unknown", "no SD text width (768/1024/2048) among the tensor dims"
