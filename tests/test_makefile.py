"""`make install` chooses the torch build on purpose: the CPU index without an NVIDIA GPU, PyPI's default with one,
and an index that cannot be reached is skipped with a note. Run against a stand-in venv whose `python` records
the pip command instead of installing, so nothing is downloaded."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

# Stands in for .venv/bin/python: the reachability probe answers from $INDEX_REACHABLE, pip calls are logged.
FAKE_PYTHON = """#!/bin/sh
case "$*" in
  *urllib.request*) [ "$INDEX_REACHABLE" = yes ]; exit $? ;;
  *"-m pip"*) echo "$*" >> "$PIP_LOG"; exit 0 ;;
  *) echo "torch 2.13.0+cpu (CPU build)"; exit 0 ;;
esac
"""


def _bin_dir(tmp_path: Path, name: str, scripts: dict[str, str]) -> Path:
    d = tmp_path / name
    d.mkdir(parents=True)
    for file, text in scripts.items():
        (d / file).write_text(text)
        (d / file).chmod((d / file).stat().st_mode | stat.S_IXUSR)
    return d


def make(tmp_path: Path, *args: str, gpu: bool = False, reachable: bool = False, **env: str) -> str:
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "nvidia-smi").exists()]
    if gpu:  # a working nvidia-smi, as on a CUDA machine
        path.insert(0, str(_bin_dir(tmp_path, "gpu-bin", {"nvidia-smi": "#!/bin/sh\necho 'GPU 0: H200'\n"})))
    clean = {k: v for k, v in os.environ.items() if k not in ("TORCH_SPEC", "TORCH_INDEX_URL", "MAKEFLAGS")}
    full_env = {**clean, "PATH": os.pathsep.join(path), "INDEX_REACHABLE": "yes" if reachable else "no", **env}
    r = subprocess.run(
        ["make", "--no-print-directory", "-s", "-C", str(REPO_ROOT), *args],
        capture_output=True, text=True, env=full_env, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_the_plan_is_the_cpu_index_without_a_gpu_and_pypi_with_one(tmp_path: Path) -> None:
    assert f"TORCH_INDEX_URL={CPU_INDEX}\n" in make(tmp_path, "torch-plan")
    with_gpu = make(tmp_path, "torch-plan", gpu=True)
    assert "NVIDIA GPU: yes" in with_gpu and "TORCH_INDEX_URL=\n" in with_gpu
    chosen = make(tmp_path, "torch-plan", TORCH_INDEX_URL="https://download.pytorch.org/whl/cu128")
    assert "TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128\n" in chosen


@pytest.mark.parametrize("reachable", [True, False], ids=["index-reachable", "index-unreachable"])
def test_torch_is_installed_with_the_cpu_index_only_when_it_answers(tmp_path: Path, reachable: bool) -> None:
    venv = tmp_path / "venv"
    _bin_dir(venv, "bin", {"python": FAKE_PYTHON})
    log = tmp_path / "pip.log"
    out = make(tmp_path, "torch", f"VENV={venv}", reachable=reachable, PIP_LOG=str(log))
    (pip_call,) = log.read_text().splitlines()
    assert "install torch==2.13.0" in pip_call
    if reachable:
        assert pip_call.endswith(f"--extra-index-url {CPU_INDEX}") and "not reachable" not in out
    else:
        assert "--extra-index-url" not in pip_call
        assert f"note: {CPU_INDEX} is not reachable" in out
    assert out.rstrip().endswith("torch 2.13.0+cpu (CPU build)")


def test_install_is_quiet_and_keeps_the_fast_editable_mode() -> None:
    plan = subprocess.run(
        ["make", "-n", "-B", "-C", str(REPO_ROOT), ".venv/bin/hub"], capture_output=True, text=True, timeout=60
    ).stdout
    (editable,) = [line for line in plan.splitlines() if "install -e" in line]
    assert "editable_mode=compat" in editable and "--quiet" in editable
    assert editable.startswith('PYTHONWARNINGS="ignore:Compat editable installs"')
