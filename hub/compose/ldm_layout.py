"""Where a diffusers module's weight lives in an original-layout (LDM/SGM) single-file checkpoint.

The UNet map is the one of diffusers' ``scripts/convert_diffusers_to_original_stable_diffusion.py``, generalised
from SD1's fixed 4 blocks × 2 layers to any layout read off the checkpoint's own keys (SDXL: 3 blocks, no
attention in the outer ones). Text encoders: HF CLIP keys under ``cond_stage_model.transformer.`` (SD1) or
``conditioner.embedders.0.transformer.`` (SDXL te1); OpenCLIP ``…transformer.resblocks.N`` (SD2's te, SDXL te2),
where q/k/v are packed row-wise in ``attn.in_proj_weight``. Pure functions on key strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

UNET_PREFIX = "model.diffusion_model."

_TOP_LEVEL = [
    ("conv_in.", "input_blocks.0.0."),
    ("time_embedding.linear_1.", "time_embed.0."),
    ("time_embedding.linear_2.", "time_embed.2."),
    ("add_embedding.linear_1.", "label_emb.0.0."),
    ("add_embedding.linear_2.", "label_emb.0.2."),
    ("conv_norm_out.", "out.0."),
    ("conv_out.", "out.2."),
]
_RESNET = [
    ("norm1.", "in_layers.0."),
    ("conv1.", "in_layers.2."),
    ("norm2.", "out_layers.0."),
    ("conv2.", "out_layers.3."),
    ("time_emb_proj.", "emb_layers.1."),
    ("conv_shortcut.", "skip_connection."),
]


@dataclass(frozen=True)
class Placement:
    """A tensor key in the checkpoint and, for packed q/k/v, the rows of it that are the module's weight."""

    key: str
    rows: tuple[int, int] | None = None


@dataclass(frozen=True)
class UnetLayout:
    layers_per_block: int
    down_attn: tuple[bool, ...]
    up_attn: tuple[bool, ...]

    @classmethod
    def from_config(cls, config: dict) -> UnetLayout:
        """From a diffusers UNet2DConditionModel config (``unet/config.json``)."""
        layers = config["layers_per_block"]
        if not isinstance(layers, int):
            raise ValueError("per-block layers_per_block is not supported")
        return cls(
            layers_per_block=layers,
            down_attn=tuple("CrossAttn" in t for t in config["down_block_types"]),
            up_attn=tuple("CrossAttn" in t for t in config["up_block_types"]),
        )

    @classmethod
    def from_ldm_keys(cls, keys: Iterable[str]) -> UnetLayout | None:
        """Read the layout off an LDM checkpoint's UNet keys; None when it has no UNet."""
        inputs: dict[int, set[str]] = {}
        outputs: dict[int, set[str]] = {}
        for key in keys:
            m = re.match(r"model\.diffusion_model\.(input|output)_blocks\.(\d+)\.(\d+)\.(.*)", key)
            if m:
                table = inputs if m[1] == "input" else outputs
                table.setdefault(int(m[2]), set()).add(f"{m[3]}.{m[4]}")
        if not inputs:
            return None
        # The down blocks: resnets until a downsampler (`N.0.op.*`); the last block has none.
        blocks: list[list[int]] = [[]]
        for idx in sorted(i for i in inputs if i > 0):
            if any(k.startswith("0.op.") for k in inputs[idx]):
                blocks.append([])
            else:
                blocks[-1].append(idx)
        layers = len(blocks[0])
        down_attn = tuple(any(k.startswith("1.") for k in inputs[b[0]]) for b in blocks)
        up_attn = tuple(
            any(k.startswith("1.transformer_blocks.") for k in outputs.get(i * (layers + 1), ()))
            for i in range(len(blocks))
        )
        return cls(layers, down_attn, up_attn)

    def prefix_pairs(self) -> list[tuple[str, str]]:
        """(diffusers prefix, LDM prefix) for every block, as the conversion script builds them."""
        L = self.layers_per_block
        pairs = list(_TOP_LEVEL)
        for i, attn in enumerate(self.down_attn):
            for j in range(L):
                pairs.append((f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{(L + 1) * i + j + 1}.0."))
                if attn:
                    pairs.append((f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{(L + 1) * i + j + 1}.1."))
            if i < len(self.down_attn) - 1:
                pairs.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{(L + 1) * (i + 1)}.0.op."))
        for i, attn in enumerate(self.up_attn):
            for j in range(L + 1):
                pairs.append((f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{(L + 1) * i + j}.0."))
                if attn:
                    pairs.append((f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{(L + 1) * i + j}.1."))
            if i < len(self.up_attn) - 1:
                pairs.append((f"up_blocks.{i}.upsamplers.0.", f"output_blocks.{(L + 1) * i + L}.{2 if attn else 1}."))
        pairs.append(("mid_block.attentions.0.", "middle_block.1."))
        pairs += [(f"mid_block.resnets.{j}.", f"middle_block.{2 * j}.") for j in range(2)]
        return pairs

    def to_ldm(self, diffusers_key: str) -> str | None:
        """E.g. ``down_blocks.0.resnets.0.conv1.weight`` -> ``…input_blocks.1.0.in_layers.2.weight``."""
        for hf, sd in self.prefix_pairs():
            if diffusers_key.startswith(hf):
                rest = diffusers_key[len(hf) :]
                if ".resnets." in hf:
                    for hf_r, sd_r in _RESNET:
                        if rest.startswith(hf_r):
                            rest = sd_r + rest[len(hf_r) :]
                            break
                return UNET_PREFIX + sd + rest
        return None

    def from_ldm(self, ldm_key: str) -> str | None:
        """The inverse of :meth:`to_ldm`."""
        if not ldm_key.startswith(UNET_PREFIX):
            return None
        key = ldm_key[len(UNET_PREFIX) :]
        for hf, sd in self.prefix_pairs():
            if key.startswith(sd):
                rest = key[len(sd) :]
                if ".resnets." in hf:
                    for hf_r, sd_r in _RESNET:
                        if rest.startswith(sd_r):
                            rest = hf_r + rest[len(sd_r) :]
                            break
                return hf + rest
        return None


_OPENCLIP = {
    "self_attn.q_proj": ("attn.in_proj_weight", 0),
    "self_attn.k_proj": ("attn.in_proj_weight", 1),
    "self_attn.v_proj": ("attn.in_proj_weight", 2),
    "self_attn.out_proj": ("attn.out_proj.weight", None),
    "mlp.fc1": ("mlp.c_fc.weight", None),
    "mlp.fc2": ("mlp.c_proj.weight", None),
}


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
        key = unet.to_ldm(path + ".weight")
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
