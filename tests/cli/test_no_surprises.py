"""Issue 15's silent surprises, each refused or explained, in fresh `hub` processes as a user runs them."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
from hub_process import HUB, hub, hub_env

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


def _with_trigger(path: Path, words: str) -> Path:
    path.with_suffix(".json").write_text(json.dumps({"activation text": words}))  # A1111's sidecar
    return path


# -- resize, mix: refused when they would change nothing; mix outputs keep the parents' triggers -------------------
def test_resize_to_a_rank_not_below_the_current_is_refused(tmp_path: Path, home: Path) -> None:
    _add(home, write_lora(tmp_path / "dog.safetensors", seed=1, rank=4), "dog")
    for rank in ("4", "99"):
        r = hub(home, "resize", "dog", "--rank", rank)
        assert r.returncode == 2, r.stderr
        assert f"'dog' is rank 4: --rank {rank} would change nothing" in r.stderr and "--rank 2" in r.stderr
    assert hub(home, "ls", "-q").stdout.split() == ["dog"]  # nothing registered
    r = hub(home, "resize", "dog", "--rank", "2")
    assert r.returncode == 0, r.stderr
    assert json.loads(hub(home, "show", "dog-r2", "--json").stdout)["rank"] == 2


def test_a_mix_of_one_adapter_or_of_one_twice_is_refused(tmp_path: Path, home: Path) -> None:
    _add(home, write_lora(tmp_path / "dog.safetensors", seed=1), "dog")
    sha = json.loads(hub(home, "show", "dog", "--json").stdout)["sha256"]
    r = hub(home, "mix", "dog:0.7")
    assert r.returncode == 2 and "mix needs two adapters or more, got only 'dog'" in r.stderr, r.stderr
    assert "hub scale dog 0.7" in r.stderr
    for args, said in ((["dog:1", "dog:1"], "'dog' is given twice"), (["dog:1", f"{sha[:10]}:0.5"], "same adapter")):
        r = hub(home, "mix", *args)
        assert r.returncode == 2 and said in r.stderr and "e.g. `dog:" in r.stderr, r.stderr
    assert hub(home, "ls", "-q").stdout.split() == ["dog"]


def test_a_mix_carries_its_parents_triggers(tmp_path: Path, home: Path) -> None:
    _add(home, _with_trigger(write_lora(tmp_path / "dog.safetensors", seed=1), "sks dog"), "dog")
    _add(home, _with_trigger(write_lora(tmp_path / "style.safetensors", seed=2), "ohwx style, sks dog"), "style")
    r = hub(home, "mix", "dog:0.7", "style:0.5", "--name", "both", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(hub(home, "show", "both", "--json").stdout)["triggers"] == ["sks dog", "ohwx style"]
    assert hub(home, "resize", "both", "--rank", "4", "--name", "small").returncode == 0
    assert json.loads(hub(home, "show", "small", "--json").stdout)["triggers"] == ["sks dog", "ohwx style"]


# -- rm of a parent: refused with who lists it; --force says what their recipes still name ------------------------
def test_rm_of_a_parent_names_its_children_and_keeps_their_recipes_meaningful(tmp_path: Path, home: Path) -> None:
    _add(home, write_lora(tmp_path / "dog.safetensors", seed=1, rank=4), "dog")
    _add(home, write_lora(tmp_path / "cat.safetensors", seed=2, rank=4), "cat")
    sha = json.loads(hub(home, "show", "dog", "--json").stdout)["sha256"]
    for args in (["mix", "dog:0.7", "cat:0.5", "--name", "m1"], ["resize", "dog", "--rank", "2", "--name", "small"],
                 ["scale", "dog", "0.5", "--name", "half"]):  # fmt: skip
        assert hub(home, *args).returncode == 0, args
    r = hub(home, "rm", "dog")
    assert r.returncode == 4, r.stderr
    assert "error: 'dog' is a parent of 3 entries: half, m1, small" in r.stderr and sha[:12] in r.stderr
    assert "hub rm dog --force" in r.stderr and "dog" in hub(home, "ls", "-q").stdout.split()
    r = hub(home, "rm", "dog", "--force")
    assert r.returncode == 0, r.stderr
    assert "half, m1, small were made from it" in r.stderr and f"SHA256 {sha[:12]}" in r.stderr
    recipe = json.loads(hub(home, "show", "small", "--json").stdout)["recipe"]
    assert sha[:12] in json.dumps(recipe)  # the rebuild command still names the bytes it needs
    assert hub(home, "add", str(tmp_path / "dog.safetensors")).returncode == 0  # the file again: rebuildable
    rebuilt = hub(home, "resize", sha[:12], "--rank", "2", "--name", "again")
    assert rebuilt.returncode == 0, rebuilt.stderr


# -- fuse --out x.safetensors; gen's cheap checks come before any base is opened ----------------------------------
def test_fuse_of_a_folder_base_into_a_file_name_is_refused(tmp_path: Path, home: Path) -> None:
    adapter = write_lora(tmp_path / "a.safetensors", seed=2)
    out = tmp_path / "merged.safetensors"
    r = hub(home, "fuse", "tiny", f"{adapter}:0.7", "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert "the fused model is a folder too" in r.stderr and f"--out {tmp_path / 'merged'}/" in r.stderr
    assert not out.exists()


@pytest.mark.parametrize(("args", "said"), [(["--steps", "0"], "--steps"), (["--size", "63x64"], "size 63x64")])
def test_gen_checks_numbers_before_it_opens_the_base(tmp_path: Path, home: Path, args: list[str], said: str) -> None:
    missing_base = tmp_path / "no-such-base"  # opening it would fail: the number must be refused first
    r = hub(home, "gen", "a dog", "--base", str(missing_base), *args)
    assert r.returncode == 2, r.stderr
    assert said in r.stderr and r.stderr.count("error:") == 1 and str(missing_base) not in r.stderr


# -- files written with the user's umask (an atomic write's temp file is 0600) ------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_pictures_and_previews_get_the_users_umask(tmp_path: Path, home: Path, umask: int) -> None:
    _add(home, write_lora(tmp_path / "dog.safetensors", seed=1), "dog")
    out = tmp_path / "pictures"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(HUB), *args], capture_output=True, text=True, env=hub_env(home), umask=umask,
                              timeout=300)  # fmt: skip

    r = run("gen", "a dog", "--base", "tiny", "--lora", "dog", "--steps", "1", "--size", "64", "--seed", "1",
            "--out", str(out), "--set-preview", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    wanted = 0o666 & ~umask
    pictures = list(out.glob("*.png"))
    previews = json.loads(hub(home, "show", "dog", "--json").stdout)["previews"]
    assert pictures and previews
    for path in [*pictures, *(Path(p["path"]) for p in previews)]:
        assert stat.S_IMODE(path.stat().st_mode) == wanted, (path, oct(path.stat().st_mode))
    assert run("gallery", "--out", str(tmp_path / "sheet.png")).returncode == 0
    assert stat.S_IMODE((tmp_path / "sheet.png").stat().st_mode) == wanted


# -- readable: rows tell apart at 80 columns -----------------------------------------------------------------------
def test_ls_at_80_columns_tells_alike_names_apart(tmp_path: Path, home: Path) -> None:
    names = ["commonpike__lora-style-abc__pytorch_lora_weights", "commonpike__lora-other-xyz__pytorch_lora_weights"]
    for i, name in enumerate(names):
        _add(home, _with_trigger(write_lora(tmp_path / f"{i}.safetensors", seed=i), "a long trigger phrase"), name)
    r = hub(home, "ls", COLUMNS="80")
    assert r.returncode == 0, r.stderr
    rows = [line.split()[0] for line in r.stdout.splitlines()[1:3]]
    assert len(set(rows)) == 2 and all("…" in row for row in rows), r.stdout
    assert "style-abc" in rows[1] and "other-xyz" in rows[0], r.stdout
    assert max(map(len, r.stdout.splitlines())) <= 80
