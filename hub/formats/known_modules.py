"""Names and weight shapes of the LoRA-targetable modules (Linear, Conv2d) of the real Stable Diffusion bases.

The table lives in ``data/known_modules.json.gz`` so that placing a key needs no torch and no download;
:func:`generate_table` rebuilds it from diffusers' own model classes on the meta device (a test checks
that the shipped table still matches). Text-encoder paths are the canonical ``text_model.encoder...``
ones, whatever layout the installed transformers uses (5.x dropped the ``text_model.`` level).
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

TABLE_PATH = Path(__file__).with_name("data") / "known_modules.json.gz"
KNOWN_ARCHS = ("sd1", "sd2", "sdxl")

# diffusers UNet2DConditionModel configs of the real bases (from their model_index/unet config.json).
_UNET_CONFIGS: dict[str, dict] = {
    "sd1": {"cross_attention_dim": 768, "attention_head_dim": 8},
    "sd2": {"cross_attention_dim": 1024, "attention_head_dim": [5, 10, 20, 20], "use_linear_projection": True},
    "sdxl": {
        "block_out_channels": [320, 640, 1280],
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        "cross_attention_dim": 2048,
        "attention_head_dim": [5, 10, 20],
        "transformer_layers_per_block": [1, 2, 10],
        "use_linear_projection": True,
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": 256,
        "projection_class_embeddings_input_dim": 2816,
    },
}
# (hidden, intermediate, layers) of each text encoder.
_TEXT_ENCODERS: dict[str, dict[str, tuple[int, int, int]]] = {
    "sd1": {"text_encoder": (768, 3072, 12)},
    "sd2": {"text_encoder": (1024, 4096, 23)},
    "sdxl": {"text_encoder": (768, 3072, 12), "text_encoder_2": (1280, 5120, 32)},
}


def text_encoder_modules(hidden: int, intermediate: int, layers: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(layers):
        base = f"text_model.encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[f"{base}.self_attn.{proj}"] = (hidden, hidden)
        shapes[f"{base}.mlp.fc1"] = (intermediate, hidden)
        shapes[f"{base}.mlp.fc2"] = (hidden, intermediate)
    return shapes


def generate_table() -> dict[str, dict[str, list[int]]]:
    """Rebuild the table from diffusers (meta device: no memory, no download)."""
    import torch
    from diffusers import UNet2DConditionModel

    table: dict[str, dict[str, list[int]]] = {}
    for arch, config in _UNET_CONFIGS.items():
        with torch.device("meta"):
            unet = UNet2DConditionModel(**config)
        entries = {
            f"unet.{name}": list(mod.weight.shape)
            for name, mod in unet.named_modules()
            if isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d))
        }
        for component, dims in _TEXT_ENCODERS[arch].items():
            for name, shape in text_encoder_modules(*dims).items():
                entries[f"{component}.{name}"] = list(shape)
        table[arch] = entries
    return table


def write_table(path: Path = TABLE_PATH) -> Path:
    data = json.dumps(generate_table(), sort_keys=True, separators=(",", ":")).encode()
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(data)
    return path


@cache
def _table() -> dict[str, dict[str, tuple[int, ...]]]:
    with gzip.open(TABLE_PATH, "rb") as f:
        raw = json.loads(f.read())
    return {arch: {k: tuple(v) for k, v in mods.items()} for arch, mods in raw.items()}


def known_modules(arch: str) -> dict[str, tuple[int, ...]]:
    """Canonical key -> weight shape for a real base (``sd1``, ``sd2``, ``sdxl``); empty for anything else."""
    return _table().get(arch, {})


def all_known_modules() -> dict[str, tuple[int, ...]]:
    merged: dict[str, tuple[int, ...]] = {}
    for arch in KNOWN_ARCHS:
        merged.update(known_modules(arch))
    return merged
