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
_PROBE = """
import json, sys, torch
seen = {}
step = torch.optim.AdamW.step
def noting(self, *a, **k):
    seen.setdefault("first_step", sorted(m for m in ("pydantic", "hub.models", "sqlite3") if m in sys.modules))
    return step(self, *a, **k)
torch.optim.AdamW.step = noting
from cli.app import main
try:
    main(sys.argv[2:])
finally:
    seen["end"] = sorted(m for m in ("pydantic", "hub.models", "sqlite3") if m in sys.modules)
    open(sys.argv[1], "w").write(json.dumps(seen))
"""


def test_a_training_process_imports_no_pydantic_or_sqlite_before_its_steps_are_over(
    home: Path, pictures: Path, tmp_path: Path
) -> None:
    """They would sit on top of the peak (benchmarks/bench_train.py: ~13 MB, the margin against diffusers' example);
    the result models and the registry are loaded once the network is let go."""
    import json
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    seen = tmp_path / "seen.json"
    args = ["train", "--images", str(pictures), "--token", "sks", "--class-word", "dog", "--base", "tiny",
            "--steps", "2", "--resolution", "32", "--sample-steps", "1", "--json"]  # fmt: skip
    env = {**os.environ, "LORAHUB_HOME": str(home), "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", _PROBE, str(seen), *args], cwd=repo, env=env, capture_output=True,
                       text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["steps"] == 2
    assert json.loads(seen.read_text()) == {"first_step": [], "end": ["hub.models", "pydantic", "sqlite3"]}
