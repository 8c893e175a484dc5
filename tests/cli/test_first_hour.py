"""Issue 8, part B: what a new user's first hour hit, each through a real `hub` process (tests/hub_process.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hub_process import HUB, hub, hub_env
from real_adapter_files import real_adapters_dir  # tests/ is on sys.path

from hub.testing import write_lora


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def one(tmp_path: Path, home: Path) -> Path:
    """A home holding one adapter named `style`."""
    f = write_lora(tmp_path / "in" / "style.safetensors", seed=3)
    assert hub(home, "add", str(f)).returncode == 0
    return f


# -- 1. arguments that start with a dash, --version, a closed pipe --------------------------------------
def test_tag_removes_with_a_dash_as_the_readme_shows(home: Path, one: Path) -> None:
    assert hub(home, "tag", "style", "+wip", "+keep").returncode == 0
    r = hub(home, "tag", "style", "+favourite", "-wip")
    assert r.returncode == 0, r.stderr
    assert json.loads(hub(home, "show", "style", "--json").stdout)["tags"] == ["favourite", "keep"]
    r = hub(home, "tag", "style", "--nope")
    assert r.returncode == 2 and "no such option: --nope" in r.stderr


def test_scale_takes_a_negative_weight(home: Path, one: Path) -> None:
    r = hub(home, "scale", "style", "-0.5", "--name", "anti-style", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(hub(home, "show", "anti-style", "--json").stdout)["name"] == "anti-style"


def test_version(home: Path) -> None:
    r = hub(home, "--version")
    assert (r.returncode, r.stdout) == (0, "hub 0.1.0\n")


@pytest.mark.parametrize("args", [["show", "style"], ["ls"], ["show", "style", "--json"]])
def test_a_closed_pipe_ends_quietly_with_exit_0(home: Path, one: Path, args: list[str]) -> None:
    """`hub show X | head -1`: the reader is gone before hub writes (deterministic: the read end is closed)."""
    read, write = os.pipe()
    p = subprocess.Popen([str(HUB), *args], stdout=write, stderr=subprocess.PIPE, env=hub_env(home), text=True)
    os.close(write)
    os.close(read)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0 and err == "", err


# -- 2. names are the whole stem; A1111 embeddings trigger by their stem --------------------------------
def test_names_keep_every_dot_of_the_stem(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "Lora"
    for i, stem in enumerate(("my-style-v1.5", "cool.model.v1.5")):
        write_lora(folder / f"{stem}.safetensors", seed=10 + i)
    assert hub(home, "import", str(folder)).returncode == 0
    assert sorted(hub(home, "ls", "-q").stdout.split()) == ["cool.model.v1.5", "my-style-v1.5"]


@pytest.mark.skipif(real_adapters_dir() is None, reason="../shared/real-adapters absent")
def test_a1111_embeddings_trigger_by_the_file_stem(tmp_path: Path, home: Path) -> None:
    real = real_adapters_dir()
    assert real is not None
    folder = tmp_path / "embeddings"
    folder.mkdir()
    shutil.copy(real / "embedding/lazealia__Stable_Diff_WebUI_with_Ext__embeddings__ulzzang-6500-v1.1.bin",
                folder / "ulzzang-6500-v1.1.bin")  # fmt: skip
    shutil.copy(real / "embedding/lazealia__Stable_Diff_WebUI_with_Ext__embeddings__21charturnerv2.pt",
                folder / "charturnerv2.pt")  # fmt: skip
    assert hub(home, "import", str(folder)).returncode == 0
    ulzzang = json.loads(hub(home, "show", "ulzzang-6500-v1.1", "--json").stdout)
    assert ulzzang["triggers"] == ["ulzzang-6500-v1.1"]
    turner = json.loads(hub(home, "show", "charturnerv2", "--json").stdout)
    assert turner["triggers"] == ["charturnerv2"]  # A1111 ignores the name saved inside the file
    assert turner["metadata"]["a1111.name"] == "21CharTurnerV2_L-420"  # kept, as metadata


# -- 3. `hub ls` at 80 and 120 columns -----------------------------------------------------------------------
def test_ls_keeps_name_kind_arch_rank_size_at_80_columns(tmp_path: Path, home: Path) -> None:
    long = "an-extremely-long-civitai-file-name-for-a-style-lora-by-someone-v1.5"
    # a UNet-only file of the tiny SDXL test base: arch "unknown", the widest word the arch column holds
    write_lora(tmp_path / "in" / f"{long}.safetensors", arch="tiny-sdxl", components=["unet"], seed=4, rank=16)
    assert hub(home, "import", str(tmp_path / "in")).returncode == 0
    for columns in (80, 120):
        r = hub(home, "ls", COLUMNS=str(columns))
        lines = r.stdout.splitlines()
        assert r.returncode == 0 and all(len(line) <= columns for line in lines), r.stdout
        assert lines[0].split()[:5] == ["name", "kind", "arch", "rank", "size"]
        row = lines[1]
        assert row.startswith("an-extremely") and "v1.5" in row and "…" in row  # shortened in the middle
        assert " lora " in row and " unknown " in row and " 16 " in row and "KB" in row
        assert "source" not in lines[0] or columns > 80  # the first column to go
    assert json.loads(hub(home, "ls", "--json").stdout)[0]["name"] == long  # full values for scripts


# -- 5. streams, skipped files, --json errors ----------------------------------------------------------------
def test_import_report_one_line_per_file_on_stdout_and_skipped_files_listed(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "a-long-folder-name-that-would-fold-a-160-column-line" / "and-another-level-of-folders"
    write_lora(folder / "good.safetensors", seed=5)
    (folder / "x.safetensors@1a2b").write_bytes(b"partial download")
    (folder / "good.json").write_text("{}")  # a sidecar: read with its adapter, not "skipped"
    (folder / ("broken-" + "x" * 80 + ".safetensors")).write_bytes(b"\x00\x01")
    r = hub(home, "import", str(tmp_path))
    assert r.returncode == 0, r.stderr
    *lines, summary = r.stdout.splitlines()
    assert len(lines) == 3, r.stdout  # added, rejected, skipped: one line each, never folded; then the counts
    assert [line.split()[0] for line in lines] == ["rejected", "added", "skipped"]
    assert all(line.count(str(folder.name)) == 1 for line in lines)  # each path printed once
    assert "x.safetensors@1a2b" in lines[2]
    assert summary == "1 added, 0 duplicate, 1 rejected, 1 skipped (3 files)"


def test_json_on_an_error_is_a_json_object_with_the_exit_code(tmp_path: Path, home: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00\x01")
    r = hub(home, "add", str(bad), "--json")
    assert r.returncode == 6
    error = json.loads(r.stdout)
    assert error["exit_code"] == 6 and error["kind"] == "BadFileError" and "placeholder" in error["error"]
    r = hub(home, "show", "nothing-here", "--json")
    assert r.returncode == 3 and json.loads(r.stdout)["exit_code"] == 3


# -- 6. errors that tell the truth ---------------------------------------------------------------------------
def test_home_pointing_at_a_file_names_the_variable(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    r = hub(not_a_folder, "ls")
    assert r.returncode == 8, r.stderr
    assert f"error: LORAHUB_HOME points at a file, not a folder: {not_a_folder}" in r.stderr
    assert "hint: " in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(real_adapters_dir() is None, reason="../shared/real-adapters absent")
def test_a_cut_off_safetensors_file_is_called_so(tmp_path: Path, home: Path) -> None:
    real = real_adapters_dir()
    assert real is not None
    cut = tmp_path / "analog.safetensors"
    cut.write_bytes((real / "lora/cloneofsimo__lora__example_loras__analog_svd_rank4.safetensors").read_bytes()[:1000])
    r = hub(home, "probe", str(cut))
    assert r.returncode == 6 and "cut-off safetensors file (an interrupted download?)" in r.stderr, r.stderr


def _chattr(flag: str, *paths: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True).returncode == 0


def test_a_read_only_home_refuses_import_once_and_still_lists(tmp_path: Path, home: Path, one: Path) -> None:
    """Simulated with `chattr +i` on the home folder and its registry file: tests run as root, and root writes
    through chmod; an immutable file or folder refuses root too (as a read-only mount refuses everyone)."""
    folder = tmp_path / "more"
    for i in range(3):
        write_lora(folder / f"more-{i}.safetensors", seed=20 + i)
    locked = [home, home / "registry.db"]
    if os.geteuid() != 0 or not _chattr("+i", *locked):
        pytest.skip("needs root and a filesystem with the immutable flag (chattr +i)")
    try:
        r = hub(home, "import", str(folder))
        assert r.returncode == 9, r.stdout + r.stderr
        assert r.stdout == "" and r.stderr.count("error:") == 1 and "read-only" in r.stderr
        assert hub(home, "ls", "-q").stdout.split() == ["style"]
        shown = hub(home, "show", "style")
        assert shown.returncode == 0 and "style" in shown.stdout
    finally:
        _chattr("-i", *locked)


# Loaded by the hub process through PYTHONPATH: a real SIGINT, sent by the process to itself when it opens the sixth
# file, so the interrupt always lands mid-import (a timed signal from outside could arrive after the last file).
_SIGINT_ON_OPEN = """
import os, signal, sys

def _interrupt_on(event, args):
    if event == "open" and str(args[0]).endswith(os.environ["HUB_TEST_SIGINT_ON"]) and not _fired:
        _fired.append(1)
        os.kill(os.getpid(), signal.SIGINT)

_fired = []
sys.addaudithook(_interrupt_on)
"""


def test_ctrl_c_during_import_says_what_was_done_and_leaves_no_orphan(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "many"
    for i in range(40):
        write_lora(folder / f"lora-{i:02}.safetensors", seed=100 + i, rank=16)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_SIGINT_ON_OPEN)
    env = hub_env(home, HUB_TEST_SIGINT_ON="lora-05.safetensors")
    env["PYTHONPATH"] = f"{hook}{os.pathsep}{env['PYTHONPATH']}"
    p = subprocess.run([str(HUB), "import", str(folder)], capture_output=True, env=env, timeout=120)
    text = p.stderr.decode()
    assert p.returncode == 130, text
    assert "interrupted:" in text and "added" in text and "Traceback" not in text
    added = len(hub(home, "ls", "-q").stdout.split())
    assert 1 <= added <= 5, added  # the sixth file was being opened: five at most were done
    assert p.stdout.decode().count("added ") == added  # what it says was done is what the registry holds
    verify = hub(home, "verify")
    assert "orphan" not in verify.stdout, verify.stdout
    blobs = list((home / "store" / "sha256").glob("*/*"))
    assert len(blobs) == added


def test_verify_reports_an_orphan_blob_and_collects_it(home: Path, one: Path) -> None:
    orphan = home / "store" / "sha256" / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"bytes no entry owns")
    r = hub(home, "verify")
    assert r.returncode == 1 and "orphan" in r.stdout and orphan.name in r.stdout
    assert hub(home, "verify", "--collect").returncode == 0
    assert not orphan.exists() and hub(home, "ls", "-q").stdout.split() == ["style"]
