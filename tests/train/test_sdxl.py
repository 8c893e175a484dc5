"""The SDXL path (two text encoders, pooled embeddings, size conditioning) on the embedded tiny-sdxl base: the
result is a kohya file diffusers' SDXL pipeline loads."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file

from hub.bases.api import resolve_base
from hub.train.api import train


def test_tiny_sdxl_trains_and_diffusers_loads_the_result(home: Path, pictures: Path, settings) -> None:
    from diffusers import StableDiffusionXLPipeline

    result = train(pictures, token="sks", class_word="dog", base="tiny-sdxl", preset="cpu-tiny", steps=2,
                   sample_steps=1, prior_from_base=True, min_snr_gamma=5.0, settings=settings)  # fmt: skip
    assert result.final_loss == result.final_loss and len(result.samples) == 1
    assert result.adapter.modules == {"unet": 88}
    pipe = StableDiffusionXLPipeline.from_pretrained(str(resolve_base("tiny-sdxl", paths=settings.paths)))
    pipe.load_lora_weights(load_file(result.path), adapter_name="sks")
    assert pipe.get_list_adapters() == {"unet": ["sks"]}
