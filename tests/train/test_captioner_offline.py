"""`hub train --caption blip` with the Hub unreachable, in a fresh process: one error line naming a local
`--caption-model`, in seconds (it was 3.5 minutes and ~100 lines of retries); a local folder that is not a
captioner is a usage error (exit 2), not a network error."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from hub_process import hub
from PIL import Image

BOUND_S = 60  # loading torch and the tiny base, then one refused request: not minutes of retries


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    folder = tmp_path / "dog"
    folder.mkdir()
    for i in range(2):
        Image.new("RGB", (64, 64), (40 * i, 90, 120)).save(folder / f"{i}.png")
    return folder


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def _train(tmp_path: Path, pictures: Path, *extra: str):
    started = time.monotonic()
    r = hub(
        tmp_path / "home",
        *("train", "--images", str(pictures), "--token", "sks", "--class-word", "dog"),
        *("--preset", "cpu-tiny", "--base", "tiny", "--caption", "blip", *extra),
        HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
        HF_HUB_CACHE=str(tmp_path / "hf-cache"),
        timeout=300,
    )
    return r, time.monotonic() - started


def test_blip_download_with_the_hub_unreachable_is_one_line_with_the_local_folder_hint(tmp_path, pictures):
    r, elapsed = _train(tmp_path, pictures)
    assert r.returncode == 7, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert len(errors) == 2 and errors[0].startswith("error: cannot reach http://127.0.0.1:"), r.stderr
    assert "--caption-model LOCAL_FOLDER" in errors[1] and "HF_HUB_OFFLINE=1" in errors[1]
    assert "Retry" not in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.splitlines()) <= 4, r.stderr  # at most the trainer's own talk besides the error
    assert elapsed < BOUND_S, f"{elapsed:.0f} s"
    assert not list(pictures.glob("*.txt"))


def test_a_local_folder_that_is_not_a_captioner_is_a_usage_error(tmp_path, pictures):
    folder = tmp_path / "not-blip"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    r, _ = _train(tmp_path, pictures, "--caption-model", str(folder))
    assert r.returncode == 2, r.stderr
    assert f"error: {folder} is not a BLIP captioning model" in r.stderr
    assert "hint: --caption-model" in r.stderr and "cannot reach" not in r.stderr
