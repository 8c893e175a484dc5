"""The module tables of the real Stable Diffusion bases: every ``nn.Linear``/``nn.Conv2d`` weight by name and shape.

One packaged data file, ``data/module_tables.json.gz``, holds per architecture (``sd1``, ``sd2``, ``sdxl``) the
diffusers configs it was generated from (UNet and CLIP text encoders, as in the bases' ``config.json`` files)
and the table ``<component>.<module path>`` -> weight shape. ``tools/build_module_tables.py`` regenerates it from
those configs with diffusers' and transformers' own classes on the meta device (``--check`` compares; a test runs
it). Reading it needs no torch.

A :class:`ModuleTable` is what loading a kohya file against a model needs: the modules (to place names and to
refuse unknown ones) and the UNet layout (kohya names SDXL UNet modules by their LDM paths). It comes from this
file or from a base's own files (:func:`hub.compose.model_files.ModelFiles.module_table`).

Canonical names: ``unet.<diffusers path>``, ``text_encoder.text_model.encoder.layers.0.self_attn.q_proj`` (the
transformers 4.x path that every LoRA file uses, whatever layout the installed transformers has).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hub.formats.unet_layout import UnetLayout

TABLE_PATH = Path(__file__).with_name("data") / "module_tables.json.gz"
KNOWN_ARCHS = ("sd1", "sd2", "sdxl")

# What kohya sd-scripts' networks/lora.py wraps by default: the Linear/Conv2d layers inside the UNet's
# Transformer2DModel blocks and the CLIP attention/MLP layers; with conv_dim (LoCon) also those inside
# ResnetBlock2D, Downsample2D and Upsample2D. Written as name rules so that they apply to any table.
_UNET_LINEAR = re.compile(
    r"unet\..*attentions\.\d+\.(proj_in|proj_out|transformer_blocks\.\d+\.(attn[12]\.(to_q|to_k|to_v|to_out\.0)"
    r"|ff\.net\.0\.proj|ff\.net\.2))$"
)
_UNET_CONV = re.compile(
    r"unet\..*(resnets\.\d+\.(conv1|conv2|conv_shortcut|time_emb_proj)|downsamplers\.0\.conv|upsamplers\.0\.conv)$"
)
_TEXT = re.compile(r"text_encoder(_2)?\.text_model\.encoder\.layers\.\d+\.(self_attn\.(q|k|v|out)_proj|mlp\.fc[12])$")


def is_kohya_target(module_key: str, *, conv: bool = False) -> bool:
    """Whether kohya's LoRA trains this module by default (``conv``: with ``conv_dim`` set, as LoCon does)."""
    return bool(_UNET_LINEAR.match(module_key) or _TEXT.match(module_key) or (conv and _UNET_CONV.match(module_key)))


@dataclass(frozen=True)
class ModuleTable:
    """The modules of one model: what a LoRA's names are placed on and checked against."""

    name: str  # how errors name it: "sd1", or the base as the user gave it
    arch: str  # sd1 | sd2 | sdxl | unknown
    modules: Mapping[str, tuple[int, ...]] = field(repr=False)
    unet: UnetLayout | None = None  # for kohya's LDM-path UNet names

    @property
    def components(self) -> frozenset[str]:
        return frozenset(k.split(".", 1)[0] for k in self.modules)

    def kohya_targets(self, *, conv: bool = False) -> dict[str, tuple[int, ...]]:
        return {k: s for k, s in self.modules.items() if is_kohya_target(k, conv=conv)}


@cache
def _raw() -> dict[str, Any]:
    with gzip.open(TABLE_PATH, "rb") as f:
        return json.loads(f.read())


def table_configs(arch: str) -> dict[str, Any]:
    """The diffusers/transformers configs the ``arch`` table was generated from (``unet``, ``text_encoder``...)."""
    return dict(_raw()["archs"][arch]["configs"])


@cache
def packaged_table(arch: str) -> ModuleTable | None:
    """The table of a real base (``sd1``, ``sd2``, ``sdxl``); None for any other arch."""
    entry = _raw()["archs"].get(arch)
    if entry is None:
        return None
    modules = {k: tuple(v) for k, v in entry["modules"].items()}
    return ModuleTable(arch, arch, modules, UnetLayout.from_config(entry["configs"]["unet"]))


def canonical_text_encoder_key(key: str) -> str:
    """``text_encoder.encoder.layers.0...`` (transformers 5) -> ``text_encoder.text_model.encoder.layers.0...``."""
    m = _CANONICAL_TE.match(key)
    return f"{m.group(1)}.text_model.{m.group(2)}" if m else key


_CANONICAL_TE = re.compile(r"^(text_encoder(?:_2)?)\.(?:text_model\.)?((?:encoder|embeddings|final_layer_norm)\b.*)$")
