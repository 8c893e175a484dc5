"""Weight shapes of the modules of the real bases and of the embedded tiny ones, for writing test adapters.

The real bases (``sd1``, ``sd2``, ``sdxl``) come from the packaged tables of :mod:`hub.formats.module_tables`
(generated from their configs by ``tools/build_module_tables.py``): one source for the product and the tests.
The tiny bases (``tiny-sd1``, ``tiny-sdxl``, see :mod:`hub.bases.tiny`) are not in that file: their UNet and text
encoders are built here from the same builders on the ``meta`` device (no memory, no init cost) and walked.
Names are canonical: ``<component>.<dotted diffusers module path>``; kohya's default targets are
:func:`hub.formats.module_tables.is_kohya_target`.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from hub.formats.module_tables import ModuleTable, is_kohya_target, packaged_table
from hub.formats.unet_layout import UnetLayout

ShapeArch = Literal["sd1", "sd2", "sdxl", "tiny-sd1", "tiny-sdxl"]
ARCHES: tuple[str, ...] = ("sd1", "sd2", "sdxl", "tiny-sd1", "tiny-sdxl")


def _check_arch(arch: str) -> None:
    if arch not in ARCHES:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHES)}")


def _tiny_components(kind: str) -> dict[str, Any]:
    """The tiny base's UNet and text encoders, built on the meta device."""
    import torch
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from hub.bases import tiny

    with torch.device("meta"):
        components = {"unet": tiny._unet(kind), "text_encoder": CLIPTextModel(tiny._text_config())}  # type: ignore[arg-type]
        if kind == "sdxl":
            te2_config = tiny._text_config(projection_dim=tiny.TEXT_HIDDEN, hidden_act="gelu")
            components["text_encoder_2"] = CLIPTextModelWithProjection(te2_config)
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
def table(arch: str) -> ModuleTable:
    """The module table of ``arch``: packaged for a real base, walked from the meta-built model for a tiny one."""
    _check_arch(arch)
    if not arch.startswith("tiny-"):
        found = packaged_table(arch)
        assert found is not None
        return found
    import torch

    modules: dict[str, tuple[int, ...]] = {}
    components = _tiny_components(arch.removeprefix("tiny-"))
    for component, model in components.items():
        for path, module in model.named_modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                modules[canonical_name(component, model, path)] = tuple(module.weight.shape)
    layout = UnetLayout.from_config(dict(components["unet"].config))
    # The SD1 kind is the embedded base, an arch of its own (the packaged "tiny" table); the SDXL kind is tests' only.
    return ModuleTable(arch, "tiny" if arch == "tiny-sd1" else "unknown", modules, layout)


def module_shapes(arch: ShapeArch) -> dict[str, tuple[int, ...]]:
    """Every ``nn.Linear``/``nn.Conv2d`` weight of the arch's UNet and text encoder(s), by canonical name."""
    return dict(table(arch).modules)


def unet_layout(arch: ShapeArch) -> UnetLayout:
    layout = table(arch).unet
    assert layout is not None
    return layout


def lora_targets(arch: ShapeArch, *, conv: bool = False) -> dict[str, tuple[int, ...]]:
    """The modules a kohya sd-scripts LoRA trains by default, with their weight shapes.

    UNet: every Linear and Conv2d (1x1 proj_in/proj_out on SD1) inside a Transformer2DModel; text encoders:
    q/k/v/out_proj and mlp fc1/fc2 of every CLIP layer. ``conv=True`` adds what ``conv_dim`` (LoCon) adds: every Linear
    and Conv2d inside ResnetBlock2D, Downsample2D and Upsample2D (3x3 conv1/conv2/samplers with the conv rank,
    time_emb_proj and 1x1 conv_shortcut with the linear rank).

    Counts: sd1 264 (192 UNet + 72 TE), 350 with conv; sd2 330 (192 + 138), 416 with conv; sdxl 986 (722 UNet + 72 te1
    + 192 te2), 1052 with conv.
    """
    return {k: s for k, s in table(arch).modules.items() if is_kohya_target(k, conv=conv)}
