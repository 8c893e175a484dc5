"""A home that cannot be written is the registry's family (exit 9) with the way out, for `gen` as for `ls`:
not a raw `Read-only file system` with exit 1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hub_process import hub


@pytest.fixture
def unwritable_home(tmp_path: Path):
    if os.geteuid() != 0:
        tmp_path.joinpath("ro").mkdir(mode=0o500)
        yield tmp_path / "ro" / "home"
        tmp_path.joinpath("ro").chmod(0o700)
    else:  # root writes through permission bits; sysfs refuses new files to everyone
        yield Path("/sys/fs/lorahub-test-home")


@pytest.mark.parametrize("args", [["ls"], ["gen", "a cat", "--base", "tiny", "--steps", "1"]], ids=lambda a: a[0])
def test_an_unwritable_home_is_exit_9_with_a_hint(unwritable_home: Path, args):
    r = hub(unwritable_home, *args)
    assert r.returncode == 9, r.stderr
    lines = r.stderr.splitlines()
    assert lines[-2].startswith("error: the home folder cannot be written: ") and str(unwritable_home) in lines[-2]
    assert lines[-1].startswith("hint: give a writable home: hub --home PATH"), r.stderr
    assert "Traceback" not in r.stderr
