"""`hub link DIR`, run as a user does (fresh `hub` processes), and the folder read back the way A1111/Forge and
ComfyUI read theirs: the files their folder scans list, the sidecar fields they and Civitai Helper read."""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
import yaml
from hub_process import hub

from hub.testing import write_embedding, write_lora

# What the UIs scan for (A1111: extensions-builtin/Lora/networks.py list_available_networks and
# modules/textual_inversion; ComfyUI: folder_paths.supported_pt_extensions).
A1111_LORA_EXTENSIONS = (".pt", ".ckpt", ".safetensors")
A1111_PREVIEW_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif")
COMFYUI_EXTENSIONS = (".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft")

CIVITAI_INFO = {
    "id": 1101,
    "modelId": 2202,
    "name": "v1.0",
    "trainedWords": ["pxl style"],
    "baseModel": "SD 1.5",
    "model": {"name": "Pixel Style", "type": "LORA", "nsfw": False},
    "images": [{"url": "https://example.invalid/1.png", "nsfwLevel": 1}],
}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder a user imports: an SD1 LoRA with A1111/Civitai Helper sidecars and a preview, two LoRAs whose
    names differ only in case, and an embedding."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("library")
    pixel = write_lora(folder / "pixel_style.safetensors", arch="sd1", rank=1, seed=1)
    stem = str(pixel.with_suffix(""))
    Path(stem + ".json").write_text(
        json.dumps({"activation text": "pxl style, retro", "preferred weight": 0.7, "description": "Pixel art."})
    )
    Path(stem + ".civitai.info").write_text(json.dumps(CIVITAI_INFO))
    Image.new("RGB", (16, 16), (200, 30, 30)).save(stem + ".preview.png")
    write_lora(folder / "upper" / "Style.safetensors", seed=2)
    write_lora(folder / "lower" / "style.safetensors", seed=3)
    write_embedding(folder / "emb" / "bad_hands.pt", token="bad_hands")
    return folder


@pytest.fixture
def home(tmp_path: Path, library: Path) -> Path:
    home = tmp_path / "home"
    r = hub(home, "import", str(library))
    assert r.returncode == 0, r.stderr
    return home


def run_json(home: Path, *args: str) -> Any:
    r = hub(home, *args, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def registry(home: Path) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in run_json(home, "ls")}


def a1111_scan(folder: Path) -> dict[str, dict[str, Any]]:
    """What A1111's Lora page lists: every file under the Lora folder (walked, links followed) with a LoRA
    extension, named by its stem; its preview (`<stem>.<ext>`, then `<stem>.preview.<ext>`) and its user metadata
    (`<stem>.json`)."""
    found = {}
    for root, _dirs, names in os.walk(folder, followlinks=True):
        for name in sorted(names):
            path = Path(root) / name
            if path.suffix.lower() not in A1111_LORA_EXTENSIONS:
                continue
            stem = str(path.with_suffix(""))
            previews = [f"{stem}{mid}.{ext}" for mid in ("", ".preview") for ext in A1111_PREVIEW_EXTENSIONS]
            preview = next((p for p in previews if os.path.isfile(p)), None)
            user_json = Path(stem + ".json")
            found[path.stem] = {
                "path": path,
                "preview": preview,
                "user_metadata": json.loads(user_json.read_text()) if user_json.is_file() else {},
            }
    return found


def comfyui_list(config: Path, kind: str) -> list[str]:
    """ComfyUI's folder_paths: the extra_model_paths.yaml group's base_path joined with the kind's folder, then every
    file below it (links followed) with a supported extension, as a path relative to that folder."""
    group = yaml.safe_load(config.read_text())["lorahub"]
    base = Path(os.path.expanduser(group["base_path"]))
    top = base / group[kind]
    names = []
    for root, _dirs, files in os.walk(top, followlinks=True):
        for name in files:
            if os.path.splitext(name)[1].lower() in COMFYUI_EXTENSIONS:
                names.append(os.path.relpath(os.path.join(root, name), top))
    return sorted(names)


def safetensors_metadata(path: Path) -> dict[str, str]:
    """A1111's read_metadata_from_safetensors: the header length, the JSON header, its __metadata__."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))["__metadata__"]


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    return {
        str(p.relative_to(folder)): (p.lstat().st_ino, p.lstat().st_mtime_ns, p.lstat().st_size)
        for p in sorted(folder.rglob("*"))
    }


def test_a1111_and_comfyui_read_the_folder(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "ui"
    result = run_json(home, "link", str(out))
    adapters = registry(home)
    pixel, upper, lower = adapters["pixel_style"], adapters["Style"], adapters["style"]

    # A1111/Forge, pointed at DIR/loras (--lora-dir): every LoRA by its name, the two that differ only in case
    # told apart the same way on every run (the first by name keeps it, the other gets its id).
    seen = a1111_scan(out / "loras")
    assert set(seen) == {"pixel_style", "Style", f"style-{lower['id']}"}
    card = seen["pixel_style"]
    assert card["preview"] == str(out / "loras" / "pixel_style.preview.png")
    assert (
        Path(card["preview"]).read_bytes()
        == Path(run_json(home, "show", "pixel_style")["previews"][0]["path"]).read_bytes()
    )
    assert card["user_metadata"] == {
        "description": "Pixel art.",
        "sd version": "SD1",  # from the probed arch: A1111 hides a LoRA whose version does not match the model
        "activation text": "pxl style, retro",
        "preferred weight": 0.7,
        "notes": card["user_metadata"]["notes"],
    }
    assert pixel["id"] in card["user_metadata"]["notes"]
    assert seen["Style"]["user_metadata"]["sd version"] == "Unknown"  # the tiny test arch: never hidden
    assert safetensors_metadata(card["path"])["ss_network_dim"] == "1"

    # Civitai Helper's sidecar is the model-version JSON as recorded.
    info = json.loads((out / "loras" / "pixel_style.civitai.info").read_text())
    assert (info["id"], info["modelId"], info["trainedWords"], info["model"]["name"]) == (
        1101, 2202, ["pxl style"], "Pixel Style"
    )  # fmt: skip
    assert not (out / "loras" / "Style.civitai.info").exists()

    # ComfyUI through the extra_model_paths.yaml it is given.
    config = out / "extra_model_paths.yaml"
    assert comfyui_list(config, "loras") == sorted(
        ["pixel_style.safetensors", "Style.safetensors", f"style-{lower['id']}.safetensors"]
    )
    assert comfyui_list(config, "embeddings") == ["bad_hands.pt"]

    # Hard links: the store's bytes under a second name, no copy.
    for adapter, name in ((pixel, "pixel_style"), (upper, "Style")):
        linked = out / "loras" / f"{name}.safetensors"
        assert os.path.samestat(linked.stat(), Path(adapter["path"]).stat())
    assert os.path.samestat((out / "embeddings" / "bad_hands.pt").stat(), Path(adapters["bad_hands"]["path"]).stat())
    links = [f for f in result["files"] if f["role"] in ("lora", "embedding")]
    assert {f["how"] for f in links} == {"hardlink"} and len(links) == 4
    assert result["changed"] is True


def test_only_one_uis_files_and_a_query(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "ui"
    run_json(home, "link", str(out), "--for", "comfyui", "--kind", "lora")
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    lower = registry(home)["style"]
    assert files == sorted([
        ".lorahub-link.json",
        "extra_model_paths.yaml",
        "loras/Style.safetensors",
        "loras/pixel_style.civitai.info",
        "loras/pixel_style.preview.png",
        "loras/pixel_style.safetensors",
        f"loras/style-{lower['id']}.safetensors",
    ])  # fmt: skip


def test_a_second_run_changes_nothing_and_says_so(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "ui"
    first = hub(home, "link", str(out))
    assert first.returncode == 0, first.stderr
    before = snapshot(out)
    again = hub(home, "link", str(out))
    assert again.returncode == 0, again.stderr
    assert "nothing changed: 4 of 4 adapters" in again.stdout and "hard links" in again.stdout
    assert snapshot(out) == before  # not one file rewritten, the record included
    result = run_json(home, "link", str(out))
    assert result["changed"] is False
    assert {f["status"] for f in result["files"]} == {"unchanged"}


def test_stale_links_go_and_the_users_files_stay(home: Path, tmp_path: Path, library: Path) -> None:
    out = tmp_path / "ui"
    run_json(home, "link", str(out))
    loras = out / "loras"
    # The user's own things in the folder: a LoRA of theirs, a note, and an A1111 metadata edit of a card.
    theirs = shutil.copy(library / "upper" / "Style.safetensors", loras / "mine.safetensors")
    (loras / "mine.txt").write_text("my notes")
    edited = loras / "Style.json"
    edited.write_text(edited.read_text().replace('"activation text": ""', '"activation text": "my words"'))
    assert "my words" in edited.read_text()

    result = run_json(home, "link", str(out), "--for", "a1111", "--kind", "lora")
    status = {f["path"]: f["status"] for f in result["files"]}
    assert status["embeddings/bad_hands.pt"] == "removed" and not (out / "embeddings" / "bad_hands.pt").exists()
    assert status["extra_model_paths.yaml"] == "removed" and not (out / "extra_model_paths.yaml").exists()
    assert status["loras/Style.json"] == "kept" and "my words" in edited.read_text()
    assert Path(theirs).read_bytes() == (library / "upper" / "Style.safetensors").read_bytes()
    assert (loras / "mine.txt").read_text() == "my notes"
    assert "mine.safetensors" not in status and "mine.txt" not in status

    # An adapter removed from the registry: its link and the sidecars made for it go; the edited one stays.
    assert hub(home, "rm", "Style").returncode == 0
    result = run_json(home, "link", str(out), "--for", "a1111", "--kind", "lora")
    status = {f["path"]: f["status"] for f in result["files"]}
    assert status["loras/Style.safetensors"] == "removed" and not (loras / "Style.safetensors").exists()
    assert "loras/Style.json" not in status and "my words" in edited.read_text()
    assert (loras / "mine.safetensors").exists() and (loras / "mine.txt").exists()


def test_a_users_file_with_an_adapters_name_is_left_alone(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "ui"
    (out / "loras").mkdir(parents=True)
    mine = out / "loras" / "pixel_style.safetensors"
    mine.write_bytes(b"not the registry's")
    r = hub(home, "link", str(out))
    assert r.returncode == 0, r.stderr
    assert "blocked" in r.stdout and "left alone" in r.stderr
    assert mine.read_bytes() == b"not the registry's"
    # nothing written beside someone else's file
    assert not (out / "loras" / "pixel_style.json").exists()
    assert not (out / "loras" / "pixel_style.preview.png").exists()
    assert (out / "loras" / "Style.safetensors").exists()


def test_importing_the_folder_makes_no_duplicates(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "ui"
    run_json(home, "link", str(out))
    new = write_lora(out / "loras" / "dropped_in.safetensors", seed=9)  # a user's own file put there later
    before = registry(home)
    outcomes = {Path(o["path"]).name: o for o in run_json(home, "import", str(out))}
    own = [o for name, o in outcomes.items() if name != new.name]
    assert len(own) == 4 and {o["status"] for o in own} == {"duplicate"}
    assert all("the registry's own file" in o["message"] for o in own)
    assert outcomes[new.name]["status"] == "added"
    assert set(registry(home)) == set(before) | {"dropped_in"}
    assert run_json(home, "dupes") == []  # the links are not recorded as places the adapters live


def test_symlinks_when_the_folder_is_on_another_file_system(home: Path) -> None:
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == home.stat().st_dev:
        pytest.skip("no second file system here (/dev/shm)")
    out = other / f"lorahub-link-test-{os.getpid()}-{home.parent.name}"
    try:
        r = hub(home, "link", str(out), "--kind", "lora")
        assert r.returncode == 0, r.stderr
        assert "symlinks" in r.stdout
        linked = out / "loras" / "pixel_style.safetensors"
        assert linked.is_symlink() and os.readlink(linked) == registry(home)["pixel_style"]["path"]
        assert "pixel_style" in a1111_scan(out / "loras")
        assert hub(home, "link", str(out), "--kind", "lora").stdout.startswith("nothing changed")
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_refusals(home: Path, tmp_path: Path) -> None:
    inside = hub(home, "link", str(home / "ui"))
    assert inside.returncode == 2 and "inside the registry's home" in inside.stderr
    assert not (home / "ui").exists()
    unknown = hub(home, "link", str(tmp_path / "ui"), "--for", "invokeai")
    assert unknown.returncode == 2 and "unknown UI 'invokeai'" in unknown.stderr
    assert not (tmp_path / "ui").exists()


def test_a_name_once_linked_keeps_its_file_when_a_clashing_one_arrives(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "ui"
    assert hub(home, "tag", "style", "+lower").returncode == 0
    run_json(home, "link", str(out), "--tag", "lower")
    assert sorted(os.listdir(out / "loras")) == ["style.json", "style.safetensors"]
    prompt_name = (out / "loras" / "style.safetensors").stat().st_ino
    run_json(home, "link", str(out))  # now "Style" too, which sorts first but arrives second
    upper = registry(home)["Style"]
    assert (out / "loras" / "style.safetensors").stat().st_ino == prompt_name
    assert (out / "loras" / f"Style-{upper['id']}.safetensors").is_file()
