"""`hub gen` / `hub grid` from the command line, `--base tiny` offline: mistakes as separate processes with a fresh
home, the JSON for scripts in process (tests/smoke runs every gen/grid example as a process of the installed
script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from cli.app import app
from tests.conftest import REPO_ROOT
from tests.gen.conftest import pixels


def hub(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LORAHUB_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env,
                          cwd=REPO_ROOT, timeout=600)  # fmt: skip


def test_gen_json_then_from_png(tmp_path: Path, registered) -> None:
    """The JSON a script reads, and --from-png rendering the same pixels. In process: tests/smoke runs `hub gen`
    and `hub gen --from-png` (the --help examples) as separate processes of the installed script."""
    first = CliRunner().invoke(app, ["gen", "a photo of a dog", "--lora", "dog:0.7", "--base", "tiny", "--seed", "3",
                                     "--steps", "2", "--sampler", "Euler a", "--negative", "blurry", "--out",
                                     str(tmp_path / "a"), "--json"])  # fmt: skip
    assert first.exit_code == 0, first.output
    image = json.loads(first.stdout)["images"][0]
    assert image["infotext"].startswith("a photo of a dog <lora:dog:0.7>\nNegative prompt: blurry\nSteps: 2, ")
    assert "Model: tiny" in image["infotext"] and "Lora hashes: " in image["infotext"]

    again = CliRunner().invoke(app, ["gen", "--from-png", image["path"], "--out", str(tmp_path / "b")])
    assert again.exit_code == 0, again.output
    path = again.stdout.strip().splitlines()[-1]
    assert Path(path).parent == tmp_path / "b"
    assert np.array_equal(pixels(image["path"]), pixels(path))


def test_user_mistakes_are_one_error_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    no_prompt = hub(home, "gen")
    assert no_prompt.returncode == 2 and no_prompt.stderr.startswith("error: give a prompt")
    missing = hub(home, "gen", "a dog", "--lora", "nobody:0.5", "--base", "tiny")
    assert missing.returncode == 3 and "error: no adapter 'nobody'" in missing.stderr
    assert "Traceback" not in missing.stderr
    not_png = tmp_path / "x.png"
    not_png.write_text("not an image")
    bad = hub(home, "gen", "--from-png", str(not_png))
    assert bad.returncode == 6 and "not an image" in bad.stderr


def test_grid_command(tiny_base: Path, registered, tmp_path: Path) -> None:
    args = ["grid", "a dog", "dog:0,1", "--seeds", "1,2", "--lora", "style:0.3", "--base", str(tiny_base)]
    result = CliRunner().invoke(app, [*args, "--steps", "1", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["columns"] == ["dog: 0", "dog: 1"] and data["rows"] == ["seed 1", "seed 2"]
    assert Path(data["path"]).parent == tmp_path and pixels(data["path"]).shape == (data["height"], data["width"], 3)
    assert "<lora:style:0.3>" in data["cells"][0]["infotext"]
