"""Fixtures of the trainer's tests: a tiny dataset drawn with PIL, the tiny base built once per session and
copied into each test's home, and a helper that runs ``hub`` as a separate process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub.bases.tiny import CACHE_VERSION, build_tiny_pipeline

REPO = Path(__file__).resolve().parents[2]
COLOURS = [(200, 40, 40), (40, 170, 60), (40, 60, 200), (210, 190, 40)]


def draw_pictures(folder: Path, n: int = 4, size: tuple[int, int] = (80, 72), prefix: str = "pic") -> list[Path]:
    """Coloured shapes on a light ground: distinct, deterministic, a little larger than 64 px."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        image = Image.new("RGB", size, (235, 235, 230))
        d = ImageDraw.Draw(image)
        colour = COLOURS[i % len(COLOURS)]
        if i % 2:
            d.rectangle([12 + 2 * i, 10, size[0] - 14, size[1] - 12], fill=colour)
        else:
            d.ellipse([8, 8 + 2 * i, size[0] - 10, size[1] - 8], fill=colour)
        path = folder / f"{prefix}{i}.png"
        image.save(path)
        out.append(path)
    return out


@pytest.fixture(scope="session")
def tiny_base_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny-base") / "tiny", kind="sd1", trained=True)


@pytest.fixture
def home(lorahub_home: Path, tiny_base_build: Path) -> Path:
    """The test's home with the embedded tiny base already in its cache (built once per session)."""
    target = lorahub_home / "cache" / f"tiny-sd1-{CACHE_VERSION}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(tiny_base_build, target)
    return lorahub_home


@pytest.fixture
def settings(home: Path):
    from hub.settings import load_settings

    return load_settings(home=home)


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    folder = tmp_path / "pictures"
    draw_pictures(folder)
    (folder / "notes.md").write_text("not a picture\n")
    return folder


def run_hub(*args: str, home: Path, timeout: float = 600, launcher: list[str] | None = None):
    env = {**os.environ, "LORAHUB_HOME": str(home), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [*(launcher or [sys.executable]), "-m", "cli", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def build_tiny_blip(folder: Path) -> Path:
    """A BLIP captioner with random weights from a tiny config and a local word-piece vocabulary (offline)."""
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "photo", "of", "dog", "red", "ball", "on",
             "grass", "the"]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"), bos_token="[DEC]")
    text = {"vocab_size": len(words), "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 2, "max_position_embeddings": 32, "bos_token_id": 5, "pad_token_id": 0,
            "sep_token_id": 3, "eos_token_id": 3}  # fmt: skip
    vision = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 8}  # fmt: skip
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision, projection_dim=16))
    processor = BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def registered(settings) -> list:
    """The registry's rows in ``settings``' home."""
    from hub.context import Context
    from hub.registry.api import ls

    with Context(settings) as ctx:
        return ls(ctx=ctx)


def registry_entry(ref: str, settings):
    from hub.context import Context
    from hub.registry.api import resolve

    with Context(settings) as ctx:
        return resolve(ref, ctx=ctx)
