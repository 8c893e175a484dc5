"""Regenerate (or check) ``hub/formats/data/module_tables.json.gz`` from the real bases' configs and the tiny one's.

The configs below are those of runwayml/stable-diffusion-v1-5, stabilityai/stable-diffusion-2-1 and
stabilityai/stable-diffusion-xl-base-1.0 (``unet/config.json`` and the text encoders' ``config.json``: the fields
that shape modules; the rest are the classes' defaults). The ``tiny`` entry is the embedded base's (the SD1 kind
of ``hub/bases/tiny.py``): its configs are read off the models that module builds, so that a change of the tiny
base's shapes makes ``--check`` fail until this is rerun (LoRAs are recognised as ``tiny`` by this table). Each
model is built with diffusers' and transformers' own classes on the meta device (no memory, no download) and every
``nn.Linear``/``nn.Conv2d`` weight is listed.

    python tools/build_module_tables.py          # write the file
    python tools/build_module_tables.py --check  # exit 1 when the packaged file differs from what diffusers builds
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TABLE_PATH = ROOT / "hub" / "formats" / "data" / "module_tables.json.gz"

SD1_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "attention_head_dim": 8,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
SD2_UNET: dict[str, Any] = {
    **SD1_UNET,
    "sample_size": 96,
    "attention_head_dim": [5, 10, 20, 20],
    "cross_attention_dim": 1024,
    "use_linear_projection": True,
    "upcast_attention": True,
}
SDXL_UNET: dict[str, Any] = {
    "sample_size": 128,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": [320, 640, 1280],
    "layers_per_block": 2,
    "attention_head_dim": [5, 10, 20],
    "cross_attention_dim": 2048,
    "transformer_layers_per_block": [1, 2, 10],
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
}
# CLIP ViT-L/14 (SD1, SDXL te1), OpenCLIP ViT-H/14 without its last layer (SD2), OpenCLIP ViT-bigG/14 (SDXL te2).
CLIP_L = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
          "projection_dim": 768, "hidden_act": "quick_gelu"}  # fmt: skip
OPENCLIP_H = {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 23, "num_attention_heads": 16,
              "projection_dim": 512, "hidden_act": "gelu"}  # fmt: skip
OPENCLIP_BIGG = {"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32, "num_attention_heads": 20,
                 "projection_dim": 1280, "hidden_act": "gelu"}  # fmt: skip

ARCHS: dict[str, dict[str, Any]] = {
    "sd1": {"source": "runwayml/stable-diffusion-v1-5",
            "configs": {"unet": SD1_UNET, "text_encoder": CLIP_L}},
    "sd2": {"source": "stabilityai/stable-diffusion-2-1",
            "configs": {"unet": SD2_UNET, "text_encoder": OPENCLIP_H}},
    "sdxl": {"source": "stabilityai/stable-diffusion-xl-base-1.0",
             "configs": {"unet": SDXL_UNET, "text_encoder": CLIP_L, "text_encoder_2": OPENCLIP_BIGG}},
}  # fmt: skip


# The text encoder fields that shape its layers (not its token ids: a word added to the tokenizer moves them).
_TEXT_FIELDS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "max_position_embeddings", "hidden_act")  # fmt: skip


def tiny_entry() -> dict[str, Any]:
    """The embedded tiny base's configs, as built by ``hub.bases.tiny`` (the fields that differ from the classes'
    defaults, as the real bases' entries list them)."""
    import inspect

    import torch
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig

    sys.path.insert(0, str(ROOT))
    from hub.bases import tiny

    def plain(value: Any) -> Any:
        return json.loads(json.dumps(value))

    defaults = {k: p.default for k, p in inspect.signature(UNet2DConditionModel.__init__).parameters.items()}
    with torch.device("meta"):
        unet = tiny._unet("sd1")
    # sample_size shapes no module (the latent side it is made for): left out, a new VAE depth keeps the table
    unet_config = {k: plain(v) for k, v in unet.config.items()
                   if not k.startswith("_") and k != "sample_size" and plain(v) != plain(defaults.get(k))}  # fmt: skip
    text, default_text = tiny._text_config().to_dict(), CLIPTextConfig().to_dict()
    text_config = {k: text[k] for k in _TEXT_FIELDS if text[k] != default_text.get(k)}
    return {"source": "hub/bases/tiny.py (the embedded base)", "configs": {"unet": unet_config,
                                                                        "text_encoder": text_config}}  # fmt: skip


def module_shapes(configs: dict[str, dict[str, Any]]) -> dict[str, list[int]]:
    """Every Linear/Conv2d weight of the UNet and text encoders built from ``configs``, by canonical name."""
    import torch
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
    from transformers.utils import logging

    logging.set_verbosity_error()  # CLIP's default token ids lie outside a small vocabulary: said, and harmless here
    shapes: dict[str, list[int]] = {}
    with torch.device("meta"):
        models: dict[str, Any] = {"unet": UNet2DConditionModel(**configs["unet"])}
        for component in ("text_encoder", "text_encoder_2"):
            if component in configs:
                cls = CLIPTextModelWithProjection if component == "text_encoder_2" else CLIPTextModel
                models[component] = cls(CLIPTextConfig(**configs[component]))
    for component, model in models.items():
        # transformers 5 flattened CLIPTextModel (``encoder.layers.0``); canonical names keep ``text_model.``
        flat = component != "unet" and not hasattr(model, "text_model")
        for path, module in model.named_modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                shapes[f"{component}.{'text_model.' if flat else ''}{path}"] = list(module.weight.shape)
    return shapes


def build() -> dict[str, Any]:
    entries = {**ARCHS, "tiny": tiny_entry()}
    archs = {arch: {**entry, "modules": module_shapes(entry["configs"])} for arch, entry in entries.items()}
    return {"format": 1, "generator": "tools/build_module_tables.py", "archs": archs}


def encode(table: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(table, sort_keys=True, separators=(",", ":")).encode(), mtime=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    table = build()
    if args.check:
        packaged = json.loads(gzip.decompress(TABLE_PATH.read_bytes()))
        if packaged != table:
            for arch in sorted(set(packaged["archs"]) | set(table["archs"])):
                old = packaged["archs"].get(arch, {}).get("modules", {})
                new = table["archs"].get(arch, {}).get("modules", {})
                diff = sorted(set(old) ^ set(new))
                changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
                print(f"{arch}: {len(diff)} names differ, {len(changed)} shapes differ {diff[:3]}{changed[:3]}")
            print(f"{TABLE_PATH.relative_to(ROOT)} is stale: run python tools/build_module_tables.py")
            return 1
        print(f"{TABLE_PATH.relative_to(ROOT)} matches diffusers ({', '.join(table['archs'])})")
        return 0
    TABLE_PATH.write_bytes(encode(table))
    counts = ", ".join(f"{a} {len(e['modules'])}" for a, e in table["archs"].items())
    print(f"wrote {TABLE_PATH.relative_to(ROOT)}: {counts} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
