"""Results on stdout, talk on stderr, for every command, in fresh `hub` processes: `hub dupes > dupes.txt`
keeps the groups, and stderr holds nothing but progress, notes and warnings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hub_process import hub

from hub.testing import write_lora


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A home with `style`, `dog` and `twin` (a copy of style's bytes: one entry, two paths), and a folder of files."""
    root = tmp_path_factory.mktemp("streams")
    home, files = root / "home", root / "in"
    style = write_lora(files / "style.safetensors", seed=3)
    write_lora(files / "dog.safetensors", seed=4)
    shutil.copy(style, files / "twin.safetensors")
    for name in ("style", "dog", "twin"):
        r = hub(home, "add", str(files / f"{name}.safetensors"), "--name", name, "--in-place")
        assert r.returncode == 0, r.stderr
    return home, files


# command -> what its result says; each runs against the same home, in any order (the suite's order is random)
RESULTS = [
    (["import", "{files}"], "3"),
    (["ls"], "style"),
    (["show", "style"], "style"),
    (["tag", "style", "ink"], "style: ink"),
    (["dupes"], "twin"),
    (["verify"], "checked, 0 problems"),
    (["probe", "{files}/dog.safetensors"], "dog.safetensors: lora"),
    (["gallery", "--out", "{files}/gallery.html"], "gallery.html: "),
    (["link", "{files}_ui"], "of 2 adapters"),
    (["runs"], ""),
]


@pytest.mark.parametrize(("args", "expected"), RESULTS, ids=[a[0] for a, _ in RESULTS])
def test_the_result_is_on_stdout_and_stderr_has_no_result(library, args, expected):
    home, files = library
    r = hub(home, *[a.format(files=files) for a in args], COLUMNS="200")
    assert r.returncode == 0, r.stderr
    assert expected in r.stdout, (r.stdout, r.stderr)
    if expected:
        assert expected not in r.stderr
    assert "error:" not in r.stderr


# Commands that change the registry, in this order (rm needs the mix): one test, so no other order is drawn
CHANGES = [
    (["scale", "dog", "0.5", "--name", "dog-half"], "registered dog-half"),
    (["mix", "style:0.5", "dog:0.5", "--name", "blend"], "registered blend"),
    (["rm", "blend"], "removed blend"),
]


def test_results_of_commands_that_change_the_registry_are_on_stdout(tmp_path):
    home, files = tmp_path / "home", tmp_path / "in"
    for name, seed in (("style", 3), ("dog", 4)):
        write_lora(files / f"{name}.safetensors", seed=seed)
        assert hub(home, "add", str(files / f"{name}.safetensors"), "--name", name).returncode == 0
    for args, expected in CHANGES:
        r = hub(home, *args, COLUMNS="200")
        assert r.returncode == 0, r.stderr
        assert expected in r.stdout and expected not in r.stderr, (r.stdout, r.stderr)
        assert "error:" not in r.stderr
