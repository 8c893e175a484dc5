"""Issue 15's silent surprises, each refused or explained, in fresh `hub` processes as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_process import hub

from hub.testing import write_lora


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _add(home: Path, path: Path, name: str) -> None:
    r = hub(home, "add", str(path), "--name", name)
    assert r.returncode == 0, r.stderr


# -- ls --arch / --kind: aliases accepted, unknown values refused with the list ------------------------------------
def test_ls_accepts_common_aliases_and_refuses_unknown_values(tmp_path: Path, home: Path) -> None:
    _add(home, write_lora(tmp_path / "dog.safetensors", arch="sd1", seed=1, rank=1), "dog")
    for args in (["--arch", "sd15"], ["--arch", "SD 1.5"], ["--kind", "loras"], ["--kind", "LoRA"]):
        r = hub(home, "ls", "-q", *args)
        assert (r.returncode, r.stdout.split()) == (0, ["dog"]), (args, r.stderr)
    assert hub(home, "ls", "-q", "--arch", "sdxl1.0").stdout.split() == []  # an alias of a real arch: no match
    for option, value, valid in (("--arch", "sd3", "sd1, sd2, sdxl, flux"), ("--kind", "checkpoint", "lora, lycoris")):
        r = hub(home, "ls", option, value)
        assert r.returncode == 2, r.stderr
        assert f"unknown {option[2:]} '{value}'" in r.stderr and valid in r.stderr and r.stdout == ""
        assert r.stderr.count("error:") == 1 and "Traceback" not in r.stderr
