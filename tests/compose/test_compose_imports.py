"""Composition between adapter files is tensor maths on names and shapes: a fresh `hub mix`/`resize`/`scale`/`convert`
process imports neither diffusers, transformers nor peft (they cost seconds and would build model objects)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.testing import write_lora

HEAVY = ("diffusers", "transformers", "peft", "accelerate")


def _run_counting_heavy(*args: str) -> subprocess.CompletedProcess:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['hub', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('cli', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "kohya": write_lora(tmp_path / "a.safetensors", rank=4, conv=True, seed=1),
        "loha": write_lora(tmp_path / "b.safetensors", algo="loha", rank=4, seed=2),
        "diffusers": write_lora(tmp_path / "c" / "pytorch_lora_weights.safetensors", style="diffusers", seed=3),
        "sd1": write_lora(tmp_path / "sd1.safetensors", arch="sd1", rank=2, seed=4, components=["text_encoder"]),
    }


@pytest.mark.parametrize(
    "command",
    [
        ["mix", "{kohya}:0.7", "{loha}:0.5", "{diffusers}:-0.3", "--method", "concat"],
        ["mix", "{kohya}:0.7", "{loha}:0.5", "--method", "svd", "--rank", "4"],
        ["resize", "{loha}", "--rank", "2"],
        ["scale", "{sd1}", "0.5"],
        ["convert", "{diffusers}", "--to", "kohya"],
        ["convert", "{sd1}", "--to", "diffusers"],
    ],
    ids=["mix-concat", "mix-svd", "resize", "scale", "convert-to-kohya", "convert-sd1-to-diffusers"],
)
def test_a_composition_process_never_imports_diffusers_transformers_or_peft(
    files: dict[str, Path], command: list[str]
) -> None:
    args = [part.format(**{k: str(v) for k, v in files.items()}) for part in command]
    r = _run_counting_heavy(*args, "--name", "out", "--device", "cpu") if command[0] in ("mix", "resize") else None
    r = r or _run_counting_heavy(*args, "--name", "out")
    assert "HEAVY []" in r.stderr, r.stderr
