"""Fixtures for generation tests: the tiny base built once per session, and small LoRAs registered per test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hub.testing import build_tiny_pipeline, write_lora


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SD1 diffusers folder (the same build as ``--base tiny``), passed as a path so tests share it."""
    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny-base") / "tiny-sd1", kind="sd1", trained=True)


@pytest.fixture(scope="session")
def lora_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One adapter per format family: kohya (UNet + text encoder), diffusers/PEFT keys, LyCORIS LoHa."""
    folder = tmp_path_factory.mktemp("gen-loras")
    return {
        "dog": write_lora(folder / "dog.safetensors", arch="tiny-sd1", rank=4, dtype="float32", seed=1,
                          components=("unet", "text_encoder")),
        "style": write_lora(folder / "style" / "style.safetensors", arch="tiny-sd1", style="diffusers", rank=4,
                            dtype="float32", seed=2, components=("unet", "text_encoder")),
        "fur": write_lora(folder / "fur.safetensors", arch="tiny-sd1", algo="loha", rank=4, dtype="float32", seed=3,
                          components=("unet",)),
    }  # fmt: skip


@pytest.fixture
def registered(lora_files: dict[str, Path]) -> dict[str, Path]:
    """The adapters registered under their names in this test's home."""
    from hub.registry.api import add_one

    for name, path in lora_files.items():
        add_one(path, name=name)
    return lora_files


def pixels(path: str | Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()
