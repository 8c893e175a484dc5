"""click's own usage errors in the `error:`/`hint:` form with exit 2, `-h` as --help, "did you mean" for a
misspelt command: fresh `hub` processes, as a user meets them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_process import hub

from hub.testing import write_lora

USAGE_ERRORS = [
    (["scale", "x", "abc"], "error: invalid value for 'weight': 'abc' is not a valid float", "hub scale --help"),
    (["tag"], "error: missing argument 'ref'", "hub tag --help"),
    (["ls", "--bogus"], "error: no such option: --bogus (Possible options: --base)", "hub ls --help"),
    (["lss"], "error: no such command 'lss'. Did you mean 'ls'?", "hub --help"),
]


@pytest.mark.parametrize(("args", "error", "help_command"), USAGE_ERRORS, ids=[a[0] for a, _, _ in USAGE_ERRORS])
def test_a_usage_error_is_one_error_line_a_hint_and_exit_2(tmp_path: Path, args, error, help_command):
    r = hub(tmp_path / "home", *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [error, f"hint: `{help_command}` shows the usage"], r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args", [["-h"], ["ls", "-h"], ["push", "-h"], ["train", "-h"]], ids=lambda a: " ".join(a))
def test_dash_h_is_help(tmp_path: Path, args):
    r = hub(tmp_path / "home", *args)
    long = hub(tmp_path / "home", *args[:-1], "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout == long.stdout and r.stdout.startswith("Usage: hub")


def test_a_misspelt_adapter_name_is_not_found_with_the_closest_names(tmp_path: Path):
    home = tmp_path / "home"
    src = write_lora(tmp_path / "style.safetensors", seed=3)
    assert hub(home, "add", str(src), "--name", "pixel-style").returncode == 0
    r = hub(home, "show", "pixle-style")
    assert r.returncode == 3, r.stderr
    assert r.stderr.splitlines() == [
        "error: no adapter 'pixle-style' in the registry",
        "hint: did you mean 'pixel-style'? (`hub ls` lists them)",
    ]
    far = hub(home, "show", "zzz")
    assert far.returncode == 3 and "did you mean" not in far.stderr
