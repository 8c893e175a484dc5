"""Where a diffusers UNet module sits in the original (LDM/SGM) UNet: the one map both ways.

kohya names SDXL UNet modules by their LDM paths (``input_blocks.4.1.transformer_blocks.0.attn1.to_q``), and
single-file checkpoints store the UNet under ``model.diffusion_model.`` in that layout. The map is the one of
diffusers' ``scripts/convert_diffusers_to_original_stable_diffusion.py``, generalised from SD1's fixed 4 blocks x 2
layers to any layout: it is built from a UNet config (``unet/config.json``, or a packaged table's config) or read
off an LDM checkpoint's own keys. Paths are dotted module paths or tensor keys (``….weight``) without the
``model.diffusion_model.`` prefix. Pure Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

_TOP_LEVEL = {
    "conv_in": "input_blocks.0.0",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
# Inside a ResNet block the two layouts name the layers differently.
_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
_RESNET_BACK = {v: k for k, v in _RESNET.items()}


@dataclass(frozen=True)
class UnetLayout:
    layers_per_block: int
    down_attn: tuple[bool, ...]  # per down level: has transformer blocks
    up_attn: tuple[bool, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> UnetLayout:
        """From a diffusers ``UNet2DConditionModel`` config (``unet/config.json``)."""
        layers = config.get("layers_per_block", 2)
        if not isinstance(layers, int):
            raise ValueError("per-block layers_per_block is not supported")
        down = config.get("down_block_types") or ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",)
        up = config.get("up_block_types") or ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3
        return cls(layers, tuple("CrossAttn" in t for t in down), tuple("CrossAttn" in t for t in up))

    @classmethod
    def from_ldm_keys(cls, keys: Iterable[str], prefix: str = "model.diffusion_model.") -> UnetLayout | None:
        """Read the layout off an LDM checkpoint's UNet keys; None when it has no UNet."""
        inputs: dict[int, set[str]] = {}
        outputs: dict[int, set[str]] = {}
        pattern = re.compile(re.escape(prefix) + r"(input|output)_blocks\.(\d+)\.(\d+)\.(.*)")
        for key in keys:
            m = pattern.match(key)
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

    @cached_property
    def _blocks(self) -> dict[str, str]:
        """diffusers block path -> LDM block path, for every resnet, attention and sampler."""
        n = self.layers_per_block
        fwd = dict(_TOP_LEVEL)
        for i, attn in enumerate(self.down_attn):
            for j in range(n):
                fwd[f"down_blocks.{i}.resnets.{j}"] = f"input_blocks.{(n + 1) * i + j + 1}.0"
                if attn:
                    fwd[f"down_blocks.{i}.attentions.{j}"] = f"input_blocks.{(n + 1) * i + j + 1}.1"
            if i < len(self.down_attn) - 1:
                fwd[f"down_blocks.{i}.downsamplers.0.conv"] = f"input_blocks.{(n + 1) * (i + 1)}.0.op"
        fwd["mid_block.resnets.0"] = "middle_block.0"
        fwd["mid_block.attentions.0"] = "middle_block.1"
        fwd["mid_block.resnets.1"] = "middle_block.2"
        for i, attn in enumerate(self.up_attn):
            for j in range(n + 1):
                fwd[f"up_blocks.{i}.resnets.{j}"] = f"output_blocks.{(n + 1) * i + j}.0"
                if attn:
                    fwd[f"up_blocks.{i}.attentions.{j}"] = f"output_blocks.{(n + 1) * i + j}.1"
            if i < len(self.up_attn) - 1:
                fwd[f"up_blocks.{i}.upsamplers.0.conv"] = f"output_blocks.{(n + 1) * i + n}.{2 if attn else 1}.conv"
        return fwd

    @cached_property
    def _blocks_back(self) -> dict[str, str]:
        return {v: k for k, v in self._blocks.items()}

    def to_ldm(self, path: str) -> str | None:
        """``down_blocks.0.resnets.0.conv1(.weight)`` -> ``input_blocks.1.0.in_layers.2(.weight)``; None when the
        layout has no such module."""
        return _translate(path, self._blocks, _RESNET, resnet_side=0)

    def from_ldm(self, path: str) -> str | None:
        """The inverse of :meth:`to_ldm`."""
        return _translate(path, self._blocks_back, _RESNET_BACK, resnet_side=1)


def _translate(path: str, blocks: dict[str, str], resnet: dict[str, str], *, resnet_side: int) -> str | None:
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):  # the longest block prefix wins (``input_blocks.1`` vs ``.10``)
        head = ".".join(parts[:cut])
        if head not in blocks:
            continue
        tail = parts[cut:]
        source = head if resnet_side == 0 else blocks[head]
        if ".resnets." in source:
            # the layer inside a resnet: one or two segments (``conv1`` / ``in_layers.2``), then .weight/.bias
            for width in (2, 1):
                inner = ".".join(tail[:width])
                if len(tail) >= width and inner in resnet:
                    return ".".join([blocks[head], resnet[inner], *tail[width:]])
            return None
        return ".".join([blocks[head], *tail])
    return None
