"""The CLI in subprocesses, as a user runs it: exit codes, one error line, no traceback, fast paths."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.testing import write_lora

HEAVY = ("torch", "diffusers", "transformers", "peft", "huggingface_hub", "safetensors", "sqlite_utils", "numpy")


def run(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "loras"
    write_lora(folder / "one.safetensors", seed=1)
    write_lora(folder / "sub" / "two.safetensors", seed=2, rank=8)
    (folder / "broken.safetensors").write_bytes(b"\x00\x01")
    return folder


def test_import_ls_show_tag_rm_round(library: Path) -> None:
    r = run("import", str(library))
    assert r.returncode == 0, r.stderr
    assert "2 added, 0 duplicate, 1 rejected" in r.stdout
    assert "broken.safetensors" in r.stdout  # the per-file report is the result: stdout
    r = run("ls", "--json")
    rows = json.loads(r.stdout)
    assert sorted(a["name"] for a in rows) == ["one", "two"]
    assert run("ls", "-q").stdout.split() == ["one", "two"]
    table = run("ls").stdout
    assert "one" in table and "two" in table and "kohya" not in table.split("\n")[0]
    assert json.loads(run("show", "two", "--json").stdout)["rank"] == 8
    assert "AUTOV3" in run("show", "two").stdout.upper()
    assert run("tag", "one", "+fav").returncode == 0
    assert [a["name"] for a in json.loads(run("ls", "--tag", "fav", "--json").stdout)] == ["one"]
    assert run("rm", "one").returncode == 0
    assert run("ls", "-q").stdout.split() == ["two"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["show", "nope"], 3, "no adapter 'nope'"),
        (["add", "/no/such/file.safetensors"], 3, "no such file"),
        (["ls", "--sort", "colour"], 2, "unknown sort"),
        (["tag", "nope", "+x"], 3, "no adapter"),
    ],
)
def test_user_mistakes_give_one_error_line_and_no_traceback(args: list[str], code: int, needle: str) -> None:
    r = run(*args)
    assert r.returncode == code, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and needle in lines[0]
    assert all(line.startswith(("error: ", "hint: ")) for line in lines)
    assert "Traceback" not in r.stderr


def test_a_bad_file_gives_one_error_line_and_its_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "cut.safetensors"
    data = write_lora(tmp_path / "x.safetensors").read_bytes()
    bad.write_bytes(data[: len(data) - 1000])  # header intact, tensor data cut
    r = run("add", str(bad))
    assert r.returncode == 6
    assert "truncated" in r.stderr and "Traceback" not in r.stderr


def test_lorahub_debug_shows_the_traceback() -> None:
    r = run("show", "nope", env_extra={"LORAHUB_DEBUG": "1"})
    assert r.returncode == 3
    assert "Traceback" in r.stderr and "error: no adapter" in r.stderr


def test_typer_usage_errors_exit_2() -> None:
    r = run("ls", "--no-such-flag")
    assert r.returncode == 2


@pytest.mark.parametrize("args", [["ls", "--json"], ["ls"], ["show", "one", "--json"], ["show", "one"], ["--help"]])
def test_ls_and_show_never_import_heavy_modules(library: Path, args: list[str]) -> None:
    assert run("add", str(library / "one.safetensors")).returncode == 0
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['hub', *{args!r}]\n"
        "try:\n    runpy.run_module('cli', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in r.stderr, r.stderr


def test_import_hub_loads_no_submodule() -> None:
    code = "import sys, hub; print(sorted(m for m in sys.modules if m.startswith('hub.')))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]"


def test_a_corrupt_registry_is_one_error_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "registry.db").write_bytes(b"this is not a database" * 100)
    r = run("ls", env_extra={"LORAHUB_HOME": str(home)})
    assert r.returncode == 9 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_an_unusable_home_is_one_error_line(tmp_path: Path) -> None:
    home = tmp_path / "a-file"
    home.write_text("not a folder")
    r = run("ls", env_extra={"LORAHUB_HOME": str(home)})
    assert r.returncode != 0 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_home_option_wins_over_the_environment(library: Path, tmp_path: Path, lorahub_home: Path) -> None:
    other = tmp_path / "other-home"
    r = run("--home", str(other), "add", str(library / "one.safetensors"))
    assert r.returncode == 0, r.stderr
    assert (other / "registry.db").is_file()
    assert run("--home", str(other), "ls", "-q").stdout.split() == ["one"]
    assert run("ls", "-q").stdout.split() == []  # $LORAHUB_HOME's registry saw nothing
    assert not (lorahub_home / "store").exists()
