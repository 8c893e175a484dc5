"""Where a diffusers module's weight lives in an original-layout (LDM/SGM) single-file checkpoint.

The UNet map is :class:`hub.formats.unet_layout.UnetLayout` (the one LDM<->diffusers map), read off the
checkpoint's own keys (SDXL: 3 blocks, no attention in the outer ones), under ``model.diffusion_model.``. Text
encoders: HF CLIP keys under ``cond_stage_model.transformer.`` (SD1) or ``conditioner.embedders.0.transformer.``
(SDXL te1); OpenCLIP ``…transformer.resblocks.N`` (SD2's te, SDXL te2),
where q/k/v are packed row-wise in ``attn.in_proj_weight``. Pure functions on key strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.formats.unet_layout import UnetLayout

UNET_PREFIX = "model.diffusion_model."
# The text encoders of a single-file checkpoint: (key prefix, component, OpenCLIP or HF CLIP naming).
TEXT_ENCODER_PREFIXES = (
    ("cond_stage_model.transformer.", "text_encoder", False),
    ("conditioner.embedders.0.transformer.", "text_encoder", False),
    ("cond_stage_model.model.", "text_encoder", True),
    ("conditioner.embedders.1.model.", "text_encoder_2", True),
)


def unet_key_to_ldm(unet: UnetLayout, diffusers_key: str) -> str | None:
    """``down_blocks.0.resnets.0.conv1.weight`` -> ``model.diffusion_model.input_blocks.1.0.in_layers.2.weight``."""
    ldm = unet.to_ldm(diffusers_key)
    return None if ldm is None else UNET_PREFIX + ldm


def unet_key_from_ldm(unet: UnetLayout, ldm_key: str) -> str | None:
    """The inverse of :func:`unet_key_to_ldm`; None for a key outside the UNet or the layout."""
    return unet.from_ldm(ldm_key[len(UNET_PREFIX) :]) if ldm_key.startswith(UNET_PREFIX) else None


@dataclass(frozen=True)
class Placement:
    """A tensor key in the checkpoint and, for packed q/k/v, the rows of it that are the module's weight."""

    key: str
    rows: tuple[int, int] | None = None


_OPENCLIP = {
    "self_attn.q_proj": ("attn.in_proj_weight", 0),
    "self_attn.k_proj": ("attn.in_proj_weight", 1),
    "self_attn.v_proj": ("attn.in_proj_weight", 2),
    "self_attn.out_proj": ("attn.out_proj.weight", None),
    "mlp.fc1": ("mlp.c_fc.weight", None),
    "mlp.fc2": ("mlp.c_proj.weight", None),
}


def openclip_modules(rest: str, shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """An OpenCLIP tensor key (after its prefix) -> the CLIP modules it holds, with their shapes: the packed
    ``attn.in_proj_weight`` holds q, k and v (a third of its rows each)."""
    m = re.fullmatch(r"transformer\.resblocks\.(\d+)\.(.+)", rest)
    if not m:
        return []
    layer = f"text_model.encoder.layers.{m[1]}"
    found = [(module, part) for module, (name, part) in _OPENCLIP.items() if name == m[2]]
    if not found:
        return []
    if found[0][1] is not None:
        rows = shape[0] // 3
        return [(f"{layer}.{module}", (rows, *shape[1:])) for module, _ in found]
    return [(f"{layer}.{found[0][0]}", shape)]


def _openclip(prefix: str, module_path: str, out_features: int) -> Placement | None:
    m = re.fullmatch(r"text_model\.encoder\.layers\.(\d+)\.(.+)", module_path)
    if not m or m[2] not in _OPENCLIP:
        return None
    name, part = _OPENCLIP[m[2]]
    key = f"{prefix}transformer.resblocks.{m[1]}.{name}"
    rows = None if part is None else (part * out_features, (part + 1) * out_features)
    return Placement(key, rows)


def place_module(
    module_key: str, out_features: int, keys: set[str], unet: UnetLayout | None
) -> tuple[Placement | None, str]:
    """Where canonical module ``module_key`` (``unet.…`` / ``text_encoder.…`` / ``text_encoder_2.…``) lives in a
    checkpoint with tensor ``keys``. Returns the placement (None if it cannot be placed) and the layout's name."""
    component, _, path = module_key.partition(".")
    if component == "unet":
        if unet is None:
            return None, "no UNet"
        key = unet_key_to_ldm(unet, path + ".weight")
        return (Placement(key) if key in keys else None), "ldm unet"
    if component == "text_encoder":
        for prefix in ("cond_stage_model.transformer.", "conditioner.embedders.0.transformer."):
            for candidate in (prefix + path + ".weight", prefix + path.removeprefix("text_model.") + ".weight"):
                if candidate in keys:
                    return Placement(candidate), "hf clip"
        place = _openclip("cond_stage_model.model.", path, out_features)
        if place and place.key in keys:
            return place, "openclip"
        return None, "text encoder"
    if component == "text_encoder_2":
        place = _openclip("conditioner.embedders.1.model.", path, out_features)
        if place and place.key in keys:
            return place, "openclip"
        return None, "text encoder 2"
    return None, component
