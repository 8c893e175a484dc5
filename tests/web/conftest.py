"""A small real registry (files written by hub.testing, imported through the registry) and a client of the app
served for it, as a browser on 127.0.0.1 would talk to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

import hub
from hub.settings import load_settings
from hub.testing import write_lora

ORIGIN = "http://127.0.0.1:7860"


@pytest.fixture
def library(tmp_path: Path) -> dict[str, hub.models.Adapter]:
    lib = tmp_path / "loras"
    write_lora(lib / "anime_eyes.safetensors", seed=1, rank=4)
    Image.new("RGB", (96, 128), (200, 30, 40)).save(lib / "anime_eyes.preview.png")
    (lib / "anime_eyes.json").write_text(json.dumps({"activation text": "big eyes, anime", "sd version": "SD1"}))
    write_lora(lib / "pixel_style.safetensors", seed=2, rank=8)
    Image.new("RGB", (64, 64), (20, 160, 60)).save(lib / "pixel_style.png")
    write_lora(lib / "plain.safetensors", seed=3, rank=4)
    hub.import_dir(lib)
    hub.tag("anime_eyes", ["+anime", "+eyes"])
    hub.tag("pixel_style", ["+style"])
    return {a.name: a for a in hub.ls()}


@pytest.fixture
def client(library):
    from starlette.testclient import TestClient

    from hub.web.api import create_app

    app = create_app(load_settings(), host="127.0.0.1", port=7860)
    with TestClient(app, base_url=ORIGIN) as c:
        yield c
    app.state.jobs.close()
