"""Exact weight shapes of the real bases' modules, from their configs alone (nothing downloaded).

The UNets and text encoders of SD1.5, SD2.1 and SDXL base are instantiated on the ``meta``
device (no memory, no init cost) and their ``nn.Linear``/``nn.Conv2d`` modules walked.
Names are canonical: ``<component>.<dotted diffusers module path>``, with components ``unet``,
``text_encoder`` and ``text_encoder_2``. The tiny pipelines of :mod:`hub.testing.tiny_pipeline`
are covered too, as ``tiny-sd1`` and ``tiny-sdxl``.
"""

from __future__ import annotations

import functools
from typing import Any, Literal, cast

ShapeArch = Literal["sd1", "sd2", "sdxl", "tiny-sd1", "tiny-sdxl"]
ARCHES: tuple[str, ...] = ("sd1", "sd2", "sdxl", "tiny-sd1", "tiny-sdxl")

# UNet configs of runwayml/stable-diffusion-v1-5, stabilityai/stable-diffusion-2-1 and
# stabilityai/stable-diffusion-xl-base-1.0 (the fields that shape modules; the rest are defaults).
SD1_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "attention_head_dim": 8,
    "cross_attention_dim": 768,
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
}
SD2_UNET: dict[str, Any] = {
    **SD1_UNET,
    "sample_size": 96,
    "attention_head_dim": (5, 10, 20, 20),
    "cross_attention_dim": 1024,
    "use_linear_projection": True,
    "upcast_attention": True,
}
SDXL_UNET: dict[str, Any] = {
    "sample_size": 128,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": (320, 640, 1280),
    "layers_per_block": 2,
    "attention_head_dim": (5, 10, 20),
    "cross_attention_dim": 2048,
    "transformer_layers_per_block": (1, 2, 10),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
}

# CLIP ViT-L/14 (SD1, SDXL te1), OpenCLIP ViT-H/14 without its last layer (SD2), OpenCLIP ViT-bigG/14 (SDXL te2).
CLIP_L: dict[str, Any] = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "projection_dim": 768,
    "hidden_act": "quick_gelu",
}
OPENCLIP_H: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "projection_dim": 512,
    "hidden_act": "gelu",
}
OPENCLIP_BIGG: dict[str, Any] = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "projection_dim": 1280,
    "hidden_act": "gelu",
}

# kohya sd-scripts networks/lora.py: LoRA wraps the Linear and Conv2d children of these classes.
UNET_TARGET_PARENTS = ("Transformer2DModel",)
UNET_CONV_TARGET_PARENTS = ("ResnetBlock2D", "Downsample2D", "Upsample2D")
TEXT_TARGET_PARENTS = ("CLIPAttention", "CLIPSdpaAttention", "CLIPFlashAttention2", "CLIPMLP")


def _check_arch(arch: str) -> None:
    if arch not in ARCHES:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHES)}")


def _meta_components(arch: str) -> dict[str, Any]:
    """The arch's UNet and text encoders, built on the meta device."""
    import torch
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from hub.bases import tiny as tiny_pipeline

    with torch.device("meta"):
        if arch.startswith("tiny-"):
            kind = cast(tiny_pipeline.TinyKind, arch.removeprefix("tiny-"))  # ARCHES holds tiny-sd1, tiny-sdxl
            components = {
                "unet": tiny_pipeline._unet(kind),
                "text_encoder": CLIPTextModel(tiny_pipeline._text_config()),
            }
            if kind == "sdxl":
                te2_config = tiny_pipeline._text_config(projection_dim=tiny_pipeline.TEXT_HIDDEN, hidden_act="gelu")
                components["text_encoder_2"] = CLIPTextModelWithProjection(te2_config)
            return components
        unet_config = {"sd1": SD1_UNET, "sd2": SD2_UNET, "sdxl": SDXL_UNET}[arch]
        te_config = OPENCLIP_H if arch == "sd2" else CLIP_L
        components = {
            "unet": UNet2DConditionModel(**unet_config),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**te_config)),
        }
        if arch == "sdxl":
            components["text_encoder_2"] = CLIPTextModelWithProjection(CLIPTextConfig(**OPENCLIP_BIGG))
        return components


def canonical_name(component: str, model: Any, path: str) -> str:
    """``<component>.<path>`` with the path a module has in every transformers version.

    transformers 5 flattened ``CLIPTextModel`` (``encoder.layers.0``), while checkpoints, kohya names and
    ``CLIPTextModelWithProjection`` keep ``text_model.encoder.layers.0``; canonical names always keep ``text_model.``.
    """
    if component.startswith("text_encoder") and not hasattr(model, "text_model"):
        path = f"text_model.{path}"
    return f"{component}.{path}"


def module_path(model: Any, canonical: str) -> str:
    """The path of canonical ``<component>.<path>`` inside ``model`` (the inverse of :func:`canonical_name`)."""
    component, _, path = canonical.partition(".")
    if component.startswith("text_encoder") and not hasattr(model, "text_model"):
        path = path.removeprefix("text_model.")
    return path


@functools.cache
def _walk(arch: str) -> tuple[tuple[str, tuple[int, ...], str, tuple[str, ...]], ...]:
    """(canonical name, weight shape, class name, class names of its ancestors) for every Linear/Conv2d."""
    import torch

    rows = []
    for component, model in _meta_components(arch).items():
        parents: dict[str, tuple[str, ...]] = {"": ()}
        for path, module in model.named_modules():
            if path:
                parent_path = path.rpartition(".")[0]
                parent = model.get_submodule(parent_path) if parent_path else model
                parents[path] = (*parents[parent_path], type(parent).__name__)
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                name = canonical_name(component, model, path)
                rows.append((name, tuple(module.weight.shape), type(module).__name__, parents[path]))
    return tuple(rows)


@functools.cache
def _module_shapes(arch: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return tuple((name, shape) for name, shape, _, _ in _walk(arch))


def module_shapes(arch: ShapeArch) -> dict[str, tuple[int, ...]]:
    """Every ``nn.Linear``/``nn.Conv2d`` weight of the arch's UNet and text encoder(s), by canonical name."""
    _check_arch(arch)
    return dict(_module_shapes(arch))


@functools.cache
def _lora_targets(arch: str, conv: bool) -> tuple[tuple[str, tuple[int, ...]], ...]:
    unet_parents = UNET_TARGET_PARENTS + (UNET_CONV_TARGET_PARENTS if conv else ())
    out = []
    for name, shape, _, ancestors in _walk(arch):
        parents = unet_parents if name.startswith("unet.") else TEXT_TARGET_PARENTS
        if any(a in parents for a in ancestors):
            out.append((name, shape))
    return tuple(out)


def lora_targets(arch: ShapeArch, *, conv: bool = False) -> dict[str, tuple[int, ...]]:
    """The modules a kohya sd-scripts LoRA trains by default, with their weight shapes.

    UNet: every Linear and Conv2d (1x1 proj_in/proj_out on SD1) inside a Transformer2DModel; text encoders:
    q/k/v/out_proj and mlp fc1/fc2 of every CLIP layer. ``conv=True`` adds what ``conv_dim`` (LoCon) adds: every Linear
    and Conv2d inside ResnetBlock2D, Downsample2D and Upsample2D (3x3 conv1/conv2/samplers with the conv rank,
    time_emb_proj and 1x1 conv_shortcut with the linear rank).

    Counts: sd1 264 (192 UNet + 72 TE), 350 with conv; sd2 330 (192 + 138), 416 with conv; sdxl 986 (722 UNet + 72 te1
    + 192 te2), 1052 with conv.
    """
    _check_arch(arch)
    return dict(_lora_targets(arch, conv))
