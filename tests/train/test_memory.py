"""What a run stops holding before its first step: frozen text encoders (every prompt is encoded) and the VAE's
encoder (every latent is cached). The sample pipeline still renders from prompt embeddings afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hub.bases.api import load_pipeline, resolve_base
from hub.train.memory import drop_unused
from hub.train.model import encode_prompts, load_components


@pytest.mark.parametrize("base", ["tiny", "tiny-sdxl"])
def test_dropped_encoders_leave_a_pipeline_that_samples_from_embeddings(home: Path, settings, base: str) -> None:
    if base == "tiny-sdxl":
        resolve_base(base, paths=settings.paths)  # built once into this test's home
    pipe = load_pipeline(base, paths=settings.paths)
    c = load_components(pipe, "sdxl" if base == "tiny-sdxl" else "sd1", torch.float32, torch.device("cpu"))
    with torch.no_grad():
        pos = encode_prompts(c, c.text_encoders, ["a photo of sks dog"], "cpu")
        neg = encode_prompts(c, c.text_encoders, [""], "cpu")
    drop_unused(c, encoders=True, vae_encoder=True)
    assert c.text_encoders == [] and c.tokenizers == [] and pipe.text_encoder is None and pipe.tokenizer is None
    assert c.vae.encoder is None and getattr(pipe, "text_encoder_2", None) is None
    kwargs = {"prompt_embeds": pos.embeds, "negative_prompt_embeds": neg.embeds}
    if pos.pooled is not None:
        kwargs |= {"pooled_prompt_embeds": pos.pooled, "negative_pooled_prompt_embeds": neg.pooled}
    images = pipe(**kwargs, num_inference_steps=2, height=64, width=64, output_type="pt",
                  generator=torch.Generator().manual_seed(0)).images  # fmt: skip
    assert images.shape == (1, 3, 64, 64) and torch.isfinite(images).all()


# `hub train` in its own process, noting which of these are imported when the first optimizer step is taken.
