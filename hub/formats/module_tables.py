"""The module tables of the real Stable Diffusion bases and of the embedded tiny one: every ``nn.Linear``/``nn.Conv2d``
weight by name and shape.

One packaged data file, ``data/module_tables.json.gz``, holds per architecture (``sd1``, ``sd2``, ``sdxl``, and
``tiny``: the embedded base of :mod:`hub.bases.tiny`) the diffusers configs it was generated from (UNet and CLIP
text encoders, as in the bases' ``config.json`` files) and the table ``<component>.<module path>`` -> weight
shape. ``tools/build_module_tables.py`` regenerates it from those configs with diffusers' and transformers' own
classes on the meta device (``--check`` compares; a test runs it). Reading it needs no torch.

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
KNOWN_ARCHS = ("sd1", "sd2", "sdxl")  # the real bases
TINY_ARCH = "tiny"  # the embedded base (``--base tiny``), an SD1 layout of its own widths
# How files trained on the tiny base name it (kohya's ss_base_model_version, modelspec.architecture).
TINY_LABEL = "sd-lora-hub-tiny"
# The UNet config fields that decide its modules' names and shapes (how a base folder is told to be the tiny one).
_UNET_SHAPE_FIELDS = ("in_channels", "block_out_channels", "layers_per_block", "down_block_types", "up_block_types",
                      "cross_attention_dim", "transformer_layers_per_block", "use_linear_projection")  # fmt: skip
_TEXT_SHAPE_FIELDS = ("hidden_size", "intermediate_size", "num_hidden_layers")


def tiny_text_layers() -> int:
    """How many layers the embedded tiny base's text encoder has."""
    return int(table_configs(TINY_ARCH)["text_encoder"]["num_hidden_layers"])


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
    """The table of a real base (``sd1``, ``sd2``, ``sdxl``) or of the embedded ``tiny``; None for any other arch."""
    entry = _raw()["archs"].get(arch)
    if entry is None:
        return None
    modules = {k: tuple(v) for k, v in entry["modules"].items()}
    return ModuleTable(arch, arch, modules, UnetLayout.from_config(entry["configs"]["unet"]))


def is_tiny_config(unet: Mapping[str, Any], text_encoder: Mapping[str, Any]) -> bool:
    """Whether a base's UNet and text encoder ``config.json`` are shaped as the embedded tiny base's (the same
    modules with the same widths)."""
    return config_matches(TINY_ARCH, {"unet": unet, "text_encoder": text_encoder})


def config_matches(arch: str, configs: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a base's component configs (``unet``, ``text_encoder``, ``text_encoder_2``: its ``config.json``
    files) give the modules of the packaged ``arch`` table, with the same widths. A component one side has and
    the other lacks compares with CLIPTextConfig's defaults, so it never matches."""
    packaged = table_configs(arch)
    unet_defaults = {"in_channels": 4, "layers_per_block": 2, "transformer_layers_per_block": 1,
                     "use_linear_projection": False}  # fmt: skip
    text_defaults = {"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12}  # CLIPTextConfig's

    def plain(value: Any) -> Any:
        return list(value) if isinstance(value, tuple | list) else value

    def same(config: Mapping[str, Any], ours: Mapping[str, Any], fields: tuple[str, ...], defaults: dict) -> bool:
        return all(plain(config.get(k, defaults.get(k))) == plain(ours.get(k, defaults.get(k))) for k in fields)

    for component in {*packaged, *configs}:
        fields, defaults = (
            (_UNET_SHAPE_FIELDS, unet_defaults) if component == "unet" else (_TEXT_SHAPE_FIELDS, text_defaults)
        )
        if not same(configs.get(component, {}), packaged.get(component, {}), fields, defaults):
            return False
    return True


def table_of_configs(configs: Mapping[str, Mapping[str, Any]]) -> ModuleTable | None:
    """The packaged table whose base has exactly these component configs (the embedded tiny base or a real SD1,
    SD2 or SDXL), else None: a base of other sizes has modules no packaged table lists."""
    for arch in (TINY_ARCH, *KNOWN_ARCHS):
        if config_matches(arch, configs):
            return packaged_table(arch)
    return None


def tiny_text_width() -> int:
    """The embedded tiny base's text width: its CLIP's hidden size, which its UNet's cross-attention reads."""
    return int(table_configs(TINY_ARCH)["unet"]["cross_attention_dim"])


@cache
def tiny_module_shapes() -> dict[tuple[str, str], tuple[int, ...]]:
    """The tiny base's modules by (component, flat path), text encoder paths without ``text_model_``: the names as
    adapter files of every key style are read (see :func:`hub.formats.key_styles.flat_path`)."""
    table = packaged_table(TINY_ARCH)
    assert table is not None, "the packaged module tables have no tiny entry: run tools/build_module_tables.py"
    out: dict[tuple[str, str], tuple[int, ...]] = {}
    for key, shape in table.modules.items():
        component, _, path = key.partition(".")
        out[(component, tiny_path(component, path.replace(".", "_").lower()))] = tuple(shape)
    return out


def tiny_path(component: str, flat: str) -> str:
    """A flat module path as :func:`tiny_module_shapes` keys it (text encoders' ``text_model_`` level dropped)."""
    return flat.removeprefix("text_model_") if component.startswith("text_encoder") else flat


def canonical_text_encoder_key(key: str) -> str:
    """``text_encoder.encoder.layers.0...`` (transformers 5) -> ``text_encoder.text_model.encoder.layers.0...``."""
    m = _CANONICAL_TE.match(key)
    return f"{m.group(1)}.text_model.{m.group(2)}" if m else key


_CANONICAL_TE = re.compile(r"^(text_encoder(?:_2)?)\.(?:text_model\.)?((?:encoder|embeddings|final_layer_norm)\b.*)$")
