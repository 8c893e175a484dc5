"""Issue 15, "the home moves": a home moved or copied elsewhere keeps every entry (stored files are found by hash,
relative to the home), a registry of the previous version migrates and survives a move, `hub verify` repairs by hash,
`--collect` keeps every byte an entry has the hash of, and a relative home is resolved once. Each through fresh `hub`
processes (tests/hub_process.py), as a user would run them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from hub_process import HUB, hub, hub_env
from PIL import Image

from hub.registry import schema
from hub.testing import write_lora

PREVIOUS = Path(__file__).parent / "previous_version"  # written by the previous hub: see make.py there
PREVIOUS_ROOT = "/tmp/lorahub-previous-version"  # the folder make.py built it in, recorded in registry.sql


def _ok(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _verify_lines(home: Path, *args: str) -> dict[str, str]:
    """{name: status} of `hub verify`, which must exit 0 (no problem)."""
    r = _ok(hub(home, "verify", *args))
    return {line.split()[1]: line.split()[0] for line in r.stdout.splitlines()[:-1]}  # the last line counts them


def _world(tmp_path: Path, home: Path) -> None:
    """A stored adapter with a preview and a sidecar, one in place outside the home, one in place inside it."""
    loras = tmp_path / "loras"
    style = write_lora(loras / "style.safetensors", seed=1)
    Image.new("RGB", (8, 8), (200, 40, 40)).save(loras / "style.png")
    (loras / "style.json").write_text(json.dumps({"activation text": "redstyle"}))
    outside = write_lora(loras / "outside.safetensors", seed=2)
    inside = write_lora(home / "mine" / "inside.safetensors", seed=3)
    _ok(hub(home, "add", str(style), "--tag", "kept"))
    _ok(hub(home, "add", "--in-place", str(outside)))
    _ok(hub(home, "add", "--in-place", str(inside)))


def _reads_everything_ok(home: Path, names: set[str], *, locations: bool = True) -> None:
    """`hub verify`, `hub ls` and `hub show` of every entry: every file there, in the home when it is the home's
    (``locations``: and every path its bytes were seen at)."""
    assert _verify_lines(home) == dict.fromkeys(names, "ok")
    listed = json.loads(_ok(hub(home, "ls", "--json")).stdout)
    assert {a["name"] for a in listed} == names
    for a in listed:
        detail = json.loads(_ok(hub(home, "show", a["name"], "--json")).stdout)
        path = Path(detail["path"])
        assert path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == detail["sha256"], detail["path"]
        if detail["stored"] or a["name"] == "inside":
            assert path.is_relative_to(home), path
        assert not locations or all(Path(p).is_file() for p in detail["locations"]), detail["locations"]
        for preview in detail["previews"]:
            assert Path(preview["path"]).is_file() and Path(preview["path"]).is_relative_to(home), preview
        text = _ok(hub(home, "show", a["name"])).stdout
        assert "missing" not in text and str(path.parent) in " ".join(text.split())


def _recorded_paths(home: Path) -> list[str]:
    db = sqlite3.connect(home / "registry.db")
    try:
        return [r[0] for r in db.execute("SELECT path FROM adapters UNION ALL SELECT path FROM previews")]
    finally:
        db.close()


@pytest.mark.parametrize("how", ["mv", "cp -a"])
def test_a_moved_or_copied_home_reads_every_entry_ok(tmp_path: Path, how: str) -> None:
    old = tmp_path / "old" / "home"
    _world(tmp_path, old)
    _ok(hub(old, "scale", "style", "0.5", "--name", "half"))  # an output with lineage and a recipe
    names = {"style", "outside", "inside", "half"}
    _reads_everything_ok(old, names)
    assert not [p for p in _recorded_paths(old) if p.startswith(str(old))]  # nothing inside is recorded absolute

    new = tmp_path / "new" / "place" / "home"
    new.parent.mkdir(parents=True)
    subprocess.run([*how.split(), str(old), str(new)], check=True)
    if how == "cp -a":  # the old place's removal loses nothing
        shutil.rmtree(old)
    assert not old.exists()
    _reads_everything_ok(new, names)
    assert _verify_lines(new, "--collect") == dict.fromkeys(names, "ok")  # and the store keeps every blob
    assert json.loads(_ok(hub(new, "show", "half", "--json")).stdout)["parents"][0]["parent_ref"] == "style"
    # the full-text index came along: style's trigger finds it and the output that carries it
    assert sorted(_ok(hub(new, "ls", "redstyle", "-q")).stdout.split()) == ["half", "style"]


def _previous_version_home(place: Path, recorded_root: Path) -> Path:
    """The fixture's home and user folder copied under ``place``, its database loaded with ``recorded_root`` where
    the previous hub recorded its root: ``place == recorded_root`` is that registry where it was written, another
    one is that registry moved (before this version opened it) from a ``recorded_root`` that is gone."""
    shutil.copytree(PREVIOUS / "home", place / "home")
    shutil.copytree(PREVIOUS / "loras", place / "loras")
    db = sqlite3.connect(place / "home" / "registry.db")
    db.executescript((PREVIOUS / "registry.sql").read_text().replace(PREVIOUS_ROOT, str(recorded_root)))
    db.close()
    return place / "home"


def _schema(home: Path) -> int:
    db = sqlite3.connect(home / "registry.db")
    try:
        return schema.applied(db)
    finally:
        db.close()


PREVIOUS_NAMES = {"style", "outside", "inside", "half"}


def test_a_previous_version_registry_migrates_then_survives_a_move(tmp_path: Path) -> None:
    old = _previous_version_home(tmp_path / "old", tmp_path / "old")
    assert _schema(old) == 2 and all(p.startswith(str(tmp_path / "old")) for p in _recorded_paths(old))  # absolute
    _reads_everything_ok(old, PREVIOUS_NAMES)  # the first command migrates it
    assert _schema(old) == schema.head()
    assert not [p for p in _recorded_paths(old) if p.startswith(str(old))]

    new = tmp_path / "new" / "home"
    new.parent.mkdir()
    subprocess.run(["mv", str(old), str(new)], check=True)
    _reads_everything_ok(new, PREVIOUS_NAMES)
    assert json.loads(_ok(hub(new, "show", "style", "--json")).stdout)["triggers"] == ["redstyle"]
    assert _ok(hub(new, "ls", "redstyle", "-q")).stdout.split() == ["style"]  # its full-text index came along
    assert json.loads(_ok(hub(new, "show", "half", "--json")).stdout)["parents"][0]["parent_ref"] == "style"


def test_a_previous_version_registry_moved_before_the_upgrade(tmp_path: Path) -> None:
    """Moved with the previous version (its recorded root is gone): its store and previews read ok at once, the file
    it had in place inside the home is found there by hash, the one outside under the folder `--search` names."""
    home = _previous_version_home(tmp_path / "here", tmp_path / "gone")
    assert not (tmp_path / "gone").exists()
    moved_loras = tmp_path / "elsewhere" / "renamed"
    shutil.move(tmp_path / "here" / "loras", moved_loras)
    r = hub(home, "verify", "--collect")  # deletes no byte an entry owns
    statuses = {line.split()[1]: line.split()[0] for line in r.stdout.splitlines()[:-1]}
    assert statuses == {"style": "ok", "half": "ok", "outside": "missing", "inside": "repaired"}, r.stdout
    assert r.returncode == 1 and "hub verify --search FOLDER" in r.stderr and "--collect" not in r.stderr
    assert sorted(p.name for p in (home / "store").rglob("*") if p.is_file()) == sorted(
        p.name for p in (PREVIOUS / "home" / "store").rglob("*") if p.is_file()
    )
    assert json.loads(_ok(hub(home, "show", "inside", "--json")).stdout)["path"] == str(
        home / "mine" / "inside.safetensors"
    )

    r = _ok(hub(home, "verify", "--search", str(moved_loras)))
    assert [line.split()[0] for line in r.stdout.splitlines() if " outside " in line] == ["repaired"], r.stdout
    assert "1 repaired, 0 problems" in r.stdout
    _reads_everything_ok(home, PREVIOUS_NAMES, locations=False)  # where they were seen before the move is history
    outside = json.loads(_ok(hub(home, "show", "outside", "--json")).stdout)
    assert outside["path"] == str(moved_loras / "outside.safetensors") and not outside["stored"]


def test_verify_gives_an_in_place_entry_the_stores_copy(tmp_path: Path) -> None:
    """Bytes in the store that no stored entry points at, with the hash of an entry whose file is gone: repaired."""
    home = tmp_path / "home"
    f = write_lora(tmp_path / "loras" / "mine.safetensors", seed=5)
    sha256 = hashlib.sha256(f.read_bytes()).hexdigest()
    _ok(hub(home, "add", "--in-place", str(f)))
    blob = home / "store" / "sha256" / sha256[:2] / sha256
    blob.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(f, blob)  # e.g. restored from a backup of the store
    assert "orphan" not in _ok(hub(home, "verify")).stdout  # an entry has its hash: not an orphan
    f.unlink()
    r = _ok(hub(home, "verify"))
    assert r.stdout.startswith("repaired  mine") and "found by hash in the store" in r.stdout, r.stdout
    detail = json.loads(_ok(hub(home, "show", "mine", "--json")).stdout)
    assert detail["stored"] and detail["path"] == str(blob)
    assert _verify_lines(home) == {"mine": "ok"}


def test_verify_puts_a_lost_or_damaged_stored_copy_back(tmp_path: Path) -> None:
    home = tmp_path / "home"
    f = write_lora(tmp_path / "loras" / "mine.safetensors", seed=6)
    _ok(hub(home, "add", str(f)))
    blob = Path(json.loads(_ok(hub(home, "show", "mine", "--json")).stdout)["path"])
    blob.unlink()  # lost: the file it was added from is where it was seen
    r = _ok(hub(home, "verify"))
    assert r.stdout.startswith("repaired  mine") and f"copied back into the store from {f}" in r.stdout, r.stdout
    assert blob.read_bytes() == f.read_bytes()

    blob.chmod(0o644)
    blob.write_bytes(b"\0" * blob.stat().st_size)  # damaged in place (bit rot); the original moved and was renamed
    kept = tmp_path / "backup" / "renamed.bin"
    kept.parent.mkdir()
    f.rename(kept)
    r = hub(home, "verify")
    assert r.returncode == 1 and r.stdout.startswith("changed   mine"), r.stdout
    r = _ok(hub(home, "verify", "--search", str(kept.parent)))
    assert f"copied back into the store from {kept}" in r.stdout, r.stdout
    assert _verify_lines(home) == {"mine": "ok"}


def test_collect_removes_only_bytes_no_entry_has_the_hash_of(tmp_path: Path) -> None:
    home = tmp_path / "home"
    f = write_lora(tmp_path / "loras" / "mine.safetensors", seed=7)
    _ok(hub(home, "add", "--in-place", str(f)))
    sha256 = hashlib.sha256(f.read_bytes()).hexdigest()
    spare = home / "store" / "sha256" / sha256[:2] / sha256  # an in-place entry's bytes: it could own them
    orphan = home / "store" / "sha256" / "ab" / ("ab" + "0" * 62)
    for blob, data in ((spare, f.read_bytes()), (orphan, b"bytes no entry has the hash of")):
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
    r = hub(home, "verify")
    assert r.returncode == 1 and [line.split()[0] for line in r.stdout.splitlines()[:-1]] == ["ok", "orphan"]
    assert orphan.name in r.stdout and spare.name not in r.stdout
    assert _verify_lines(home, "--collect") == {"mine": "ok"}
    assert spare.read_bytes() == f.read_bytes() and not orphan.exists()


@pytest.mark.parametrize("how", ["--home", "LORAHUB_HOME"])
def test_a_relative_home_is_the_same_home_from_any_folder(tmp_path: Path, how: str) -> None:
    work, other = tmp_path / "work", tmp_path / "other"
    other.mkdir()
    f = write_lora(tmp_path / "loras" / "mine.safetensors", seed=8)

    def run(cwd: Path, relative_home: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = hub_env(tmp_path / "unused")
        if how == "--home":
            argv = [str(HUB), "--home", relative_home, *args]
        else:
            argv, env["LORAHUB_HOME"] = [str(HUB), *args], relative_home
        return _ok(subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=180))

    work.mkdir()
    run(work, "h", "add", str(f))
    home = work / "h"
    detail = json.loads(run(other, os.path.join("..", "work", "h"), "show", "mine", "--json").stdout)
    assert Path(detail["path"]).is_relative_to(home) and Path(detail["path"]).is_file()
    assert run(other, "../work/h", "verify").stdout.split()[0] == "ok"
    assert _recorded_paths(home)[0].startswith("store/sha256/")
    subprocess.run(["mv", str(home), str(other / "h")], check=True)
    assert run(other, "h", "verify").stdout.split()[0] == "ok"
    # every path a command prints is absolute, whatever folder it ran in (e.g. stored bytes no entry has)
    orphan = other / "h" / "store" / "sha256" / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"bytes no entry has the hash of")
    env = hub_env(Path("h"))
    argv = [str(HUB), "--home", "h"] if how == "--home" else [str(HUB)]
    r = subprocess.run([*argv, "verify", "--json"], cwd=other, env=env, capture_output=True, text=True, timeout=180)
    assert [v["path"] for v in json.loads(r.stdout) if v["status"] == "orphan"] == [str(orphan)], r.stdout


def test_the_web_ui_shows_a_moved_homes_previews(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from hub.settings import load_settings
    from hub.web.api import create_app

    old = tmp_path / "old" / "home"
    _world(tmp_path, old)
    new = tmp_path / "new" / "home"
    new.parent.mkdir()
    subprocess.run(["mv", str(old), str(new)], check=True)
    app = create_app(load_settings(home=new), host="127.0.0.1", port=7860)
    try:
        with TestClient(app, base_url="http://127.0.0.1:7860") as client:
            style = json.loads(_ok(hub(new, "show", "style", "--json")).stdout)
            preview = client.get(f"/preview/{style['id']}/0")
            assert preview.status_code == 200 and preview.content == (tmp_path / "loras" / "style.png").read_bytes()
            assert client.get(f"/thumb/{style['id']}/0").status_code == 200
            assert client.get(f"/a/{style['id']}").status_code == 200
    finally:
        app.state.jobs.close()
