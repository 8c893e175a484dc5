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
    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny-base") / "tiny", kind="sd1", seed=0)


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
