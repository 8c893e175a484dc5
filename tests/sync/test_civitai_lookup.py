"""`hub civitai` in fresh `hub` processes against a loopback fake Civitai (tests/sync/fake_civitai.py) that answers
with the public API's model-version and model objects, and badly when told to."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_civitai import Bad, FakeCivitai, image, model, model_version, noisy_png, png
from hub_process import hub

from hub.testing import write_lora

KEY = "civitai-secret-key-0123456789"
PONY_DESCRIPTION = (
    '<p>Soft <b>ink</b> style. <a href="https://example.org/guide">guide</a></p>'
    "<script>document.title='pwned'</script>"
    '<img src="x" onerror="document.title=\'pwned\'">'
    '<p onclick="steal()">[red]not a style[/red] \x1b[31mred\x1b[0m</p>'
    '<a href="javascript:alert(1)">click</a>'
)


@pytest.fixture
def civitai() -> Iterator[FakeCivitai]:
    server = FakeCivitai().start()
    yield server
    server.stop()


def run(home: Path, civitai: FakeCivitai, *args: str, **env: str):
    return hub(home, *args, CIVITAI_API_URL=civitai.api_url, CIVITAI_API_KEY=KEY, **env)


def sha256_of(home: Path, name: str) -> str:
    r = hub(home, "show", name, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["hashes"]["sha256"]


def show(home: Path, name: str) -> dict[str, Any]:
    r = hub(home, "show", name, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Three adapters: `ink` (with a local trigger from its A1111 sidecar), `plain`, `mine` (unknown to Civitai)."""
    home, lib = tmp_path / "home", tmp_path / "lib"
    write_lora(lib / "ink.safetensors", seed=1)
    (lib / "ink.json").write_text(json.dumps({"activation text": "my ink word"}))
    write_lora(lib / "plain.safetensors", seed=2)
    write_lora(lib / "mine.safetensors", seed=3)
    r = hub(home, "import", str(lib))
    assert r.returncode == 0, r.stderr
    return home


def publish_ink(civitai: FakeCivitai, home: Path, *, images: list[dict[str, Any]] | None = None) -> str:
    sha = sha256_of(home, "ink")
    civitai.images["ink1.png"] = ("image/png", png(colour=(10, 20, 200)))
    meta = {"prompt": "ink drawing, cat", "negativePrompt": "blurry", "steps": 28, "sampler": "Euler a",
            "cfgScale": 6.5, "seed": 1234}  # fmt: skip
    v2 = model_version(
        version_id=102, model_id=7, name="v2", base_model="Pony", trained_words=["inkstyle", "sumi-e"], sha256=sha,
        size_kb=20.5, published_at="2025-03-01T10:00:00.000Z", model_name="Ink Wash", nsfw_level=4,
        images=images if images is not None else [image(f"{civitai.url}/images/ink1.png", nsfw_level=4, meta=meta)],
    )  # fmt: skip
    ink = model(model_id=7, name="Ink Wash", creator="sumi_master", description=PONY_DESCRIPTION, versions=[v2],
                tags=["Style", "ink wash", "traditional", "[u]markup[/u]"])  # fmt: skip
    civitai.publish(ink, v2, {"SHA256": sha})
    return sha


def test_lookup_records_what_civitai_says_and_keeps_the_key_secret(home: Path, civitai: FakeCivitai) -> None:
    sha = publish_ink(civitai, home)
    r = run(home, civitai, "civitai")
    assert r.returncode == 0, r.stderr
    assert "found" in r.stdout and "Ink Wash" in r.stdout and "unknown" in r.stdout

    ink = show(home, "ink")
    c = ink["civitai"]
    assert c["status"] == "found" and c["lookup"] == f"sha256:{sha}"
    assert (c["model_id"], c["version_id"], c["model_name"], c["version_name"]) == (7, 102, "Ink Wash", "v2")
    assert c["creator"] == "sumi_master" and c["model_type"] == "LORA"
    assert (c["base_model"], c["base_arch"]) == ("Pony", "sdxl")
    assert c["nsfw_level"] == 4 and c["nsfw"] is False
    assert c["trained_words"] == ["inkstyle", "sumi-e"]
    assert ink["triggers"] == ["my ink word", "inkstyle", "sumi-e"]  # local trigger kept, trained words added
    assert c["tags"] == ["Style", "ink wash", "traditional", "[u]markup[/u]"]
    assert {"style", "ink wash"} <= set(ink["tags"])
    assert c["license"] == {"commercial_use": ["Image", "RentCivit"], "credit_required": True, "derivatives": True,
                            "different_license": False}  # fmt: skip
    assert c["page_url"] == f"{civitai.url}/models/7?modelVersionId=102"  # the site of CIVITAI_API_URL
    assert c["download_url"] == "https://civitai.com/api/download/models/102" and c["file_size"] == 20992
    assert c["published_at"] == "2025-03-01T10:00:00.000Z"
    assert ink["base_label"] == "SD 1.x"  # the file's own declared base is kept (ss_base_model_version)
    assert show(home, "plain")["civitai"]["status"] == "unknown"
    # the preview was downloaded, a real PNG, with its generation parameters as A1111 infotext
    (preview,) = ink["previews"]
    assert Path(preview["path"]).read_bytes() == civitai.images["ink1.png"][1]
    assert preview["nsfw_level"] == 4 and preview["source"] == f"{civitai.url}/images/ink1.png"
    assert preview["infotext"] == (
        "ink drawing, cat\nNegative prompt: blurry\nSteps: 28, Sampler: Euler a, CFG scale: 6.5, Seed: 1234, Size: 8x8"
    )
    # the model-version JSON, the model's tags merged in, is the civitai sidecar (what `hub link` writes out)
    doc = ink["sidecars"]["civitai"]
    assert doc["id"] == 102 and doc["modelId"] == 7 and doc["files"][0]["hashes"]["SHA256"] == sha.upper()
    assert doc["model"]["tags"] == c["tags"] and doc["model"]["name"] == "Ink Wash"
    assert "<script" not in doc["model"]["description"] and "onerror" not in doc["model"]["description"]

    # the file Civitai does not know: recorded with its date
    assert show(home, "mine")["civitai"]["status"] == "unknown"
    assert show(home, "mine")["civitai"]["checked_at"][:4] >= "2026"

    # the key went to the API in a header, to no other URL; it is in no output and not in the registry
    api = [s for s in civitai.seen if s.path.startswith("/api/")]
    assert api and all(s.headers.get("Authorization") == f"Bearer {KEY}" for s in api)
    assert all("Authorization" not in s.headers for s in civitai.seen if s.path.startswith("/images/"))
    assert all(KEY not in s.path for s in civitai.seen)
    assert KEY not in r.stdout + r.stderr
    assert not [p for p in home.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert civitai.most_open == 1  # one request at a time
    # by-hash by SHA256, then the model for its tags
    assert f"/api/v1/model-versions/by-hash/{sha}" in civitai.paths() and "/api/v1/models/7" in civitai.paths()


def test_asked_once_until_refresh_and_a_deleted_model_keeps_its_record(home: Path, civitai: FakeCivitai) -> None:
    publish_ink(civitai, home)
    assert run(home, civitai, "civitai").returncode == 0
    asked = len(civitai.seen)
    r = run(home, civitai, "civitai", "--json")
    assert r.returncode == 0, r.stderr
    assert {o["name"]: o["status"] for o in json.loads(r.stdout)} == {
        "ink": "recorded", "mine": "recorded", "plain": "recorded"
    }  # fmt: skip
    assert len(civitai.seen) == asked  # nothing asked again

    civitai.forget(7)  # deleted on Civitai
    r = run(home, civitai, "civitai", "ink", "mine", "--refresh", "--json")
    assert r.returncode == 0, r.stderr
    assert {o["name"]: o["status"] for o in json.loads(r.stdout)} == {"ink": "gone", "mine": "unknown"}
    c = show(home, "ink")["civitai"]
    assert c["status"] == "gone" and c["model_name"] == "Ink Wash" and c["trained_words"] == ["inkstyle", "sumi-e"]
    assert "gone" in hub(home, "show", "ink").stdout and "deleted on Civitai" in hub(home, "show", "ink").stdout


@pytest.mark.parametrize("kind", ["html", "500", "truncated"])
def test_a_bad_answer_fails_that_adapter_only(home: Path, civitai: FakeCivitai, kind: str) -> None:
    sha = publish_ink(civitai, home)
    civitai.bad.append(Bad(where=f"by-hash/{sha}", kind=kind, times=5))
    r = run(home, civitai, "civitai", "--json")
    assert r.returncode == 1, r.stderr
    outcomes = {o["name"]: o for o in json.loads(r.stdout)}
    assert outcomes["ink"]["status"] == "failed"
    expected = {"html": "an HTML page, not JSON", "500": "answered 500", "truncated": "not whole JSON"}[kind]
    assert expected in outcomes["ink"]["error"]
    assert outcomes["mine"]["status"] == "unknown"  # the others went on
    assert show(home, "ink")["civitai"] is None  # nothing recorded from a bad answer: asked again next time
    assert len(civitai.paths(f"by-hash/{sha}")) == (2 if kind == "500" else 1)  # a 500 is retried once


def test_429_waits_what_retry_after_says(home: Path, civitai: FakeCivitai) -> None:
    sha = publish_ink(civitai, home)
    civitai.bad.append(Bad(where=f"by-hash/{sha}", kind="429", times=1, retry_after="2"))
    r = run(home, civitai, "civitai", "ink", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["status"] == "found"
    first, second = [s.at for s in civitai.seen if f"by-hash/{sha}" in s.path]
    assert second - first >= 1.9  # the server said 2 s; the client did not ask before


def test_only_real_images_under_the_cap_are_kept(home: Path, civitai: FakeCivitai) -> None:
    civitai.images["fake.png"] = ("image/png", b"<html>not a picture</html>" * 10)
    civitai.images["cut.png"] = ("image/png", noisy_png(40, 40)[:3000])  # a PNG's header, its pixels cut off
    civitai.images["tiff.png"] = ("image/png", _tiff())  # a picture, not one a preview may be
    civitai.images["huge.png"] = ("image/png", noisy_png(200, 200))  # ~120 KB, over the 0.05 MiB cap below
    civitai.images["stream.png"] = ("image/png", noisy_png(200, 200))  # the same, with no Content-Length
    civitai.unsized.add("stream.png")
    civitai.images["video.mp4"] = ("video/mp4", b"\x00\x00\x00\x18ftypmp42")
    images = [
        image(f"{civitai.url}/images/fake.png"),
        image(f"{civitai.url}/images/cut.png"),
        image(f"{civitai.url}/images/tiff.png"),
        image(f"{civitai.url}/images/huge.png"),
        image(f"{civitai.url}/images/stream.png"),
        {**image(f"{civitai.url}/images/video.mp4"), "type": "video"},
        image(f"{civitai.url}/images/ink1.png", nsfw_level=1),
    ]
    publish_ink(civitai, home, images=images)
    r = run(home, civitai, "civitai", "ink", "--json", CIVITAI_MAX_IMAGE_MB="0.05")
    assert r.returncode == 0, r.stderr
    (outcome,) = json.loads(r.stdout)
    assert outcome["previews"] == 1
    notes = outcome["notes"]
    assert sum("not a picture" in n for n in notes) == 3 and sum("larger than" in n for n in notes) == 2, notes
    (preview,) = show(home, "ink")["previews"]
    assert preview["source"].endswith("/images/ink1.png")
    assert not civitai.paths("video.mp4")  # a video is not asked for at all
    assert not list((home / "tmp").glob(".civitai-*"))  # no temporary file left behind


def _tiff() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="TIFF")
    return out.getvalue()


def test_a_redirect_to_another_host_goes_without_the_key(home: Path, civitai: FakeCivitai) -> None:
    sha = publish_ink(civitai, home)
    # localhost is another host than 127.0.0.1 to a browser and to us, though it is the same server here
    civitai.redirects[f"/api/v1/model-versions/by-hash/{sha}"] = (
        f"http://localhost:{civitai.url.rsplit(':', 1)[1]}/moved/{sha}"
    )
    civitai.redirects[f"/moved/{sha}"] = f"{civitai.api_url}/model-versions/by-hash/{sha.upper()}"
    r = run(home, civitai, "civitai", "ink", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["status"] == "found"
    moved = [s for s in civitai.seen if s.path.startswith("/moved/")]
    assert moved and "Authorization" not in moved[0].headers


def test_hostile_description_is_inert_in_show(home: Path, civitai: FakeCivitai) -> None:
    publish_ink(civitai, home)
    assert run(home, civitai, "civitai", "ink").returncode == 0
    stored = show(home, "ink")["civitai"]["description"]
    for bad in ("<script", "onerror", "onclick", "javascript:", "<img", "\x1b"):
        assert bad not in stored
    assert '<a href="https://example.org/guide"' in stored  # formatting and plain links stay
    r = hub(home, "show", "ink", COLUMNS="200")
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "<script" not in r.stdout and "pwned" not in r.stdout
    section = r.stdout.split("\nCivitai", 1)[1].split("\npreviews", 1)[0]
    assert "Soft ink style. guide" in section
    # rich markup from Civitai is printed as text, not obeyed: in the description and in the other values
    assert "[red]not a style[/red]" in section and "[u]markup[/u]" in section


def test_ls_filters_and_search_cover_civitai(home: Path, civitai: FakeCivitai) -> None:
    publish_ink(civitai, home)
    assert run(home, civitai, "civitai").returncode == 0

    def names(*args: str) -> list[str]:
        r = hub(home, "ls", "-q", *args)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    assert names("--base-model", "pony") == ["ink"]
    assert names("--base-model", "sdxl") == ["ink"]  # Pony is an SDXL base
    assert names("--base-model", "sd15") == []
    assert names("--nsfw") == ["ink"]  # level R
    assert names("--sfw") == ["mine", "plain"]
    assert names("sumi_master") == ["ink"]  # the creator
    assert names("Wash") == ["ink"]  # the model's name
    assert names("inkstyle") == ["ink"]  # a trained word
    assert names("traditional") == ["ink"]  # a tag


def test_updates_lists_newer_versions_for_the_same_base_model(home: Path, civitai: FakeCivitai) -> None:
    sha = publish_ink(civitai, home)
    assert run(home, civitai, "civitai").returncode == 0
    ink = civitai.models[7]
    old = ink["modelVersions"][0]
    v3 = model_version(version_id=103, model_id=7, name="v3", base_model="Pony", trained_words=["inkstyle", "wet ink"],
                       sha256="ab" * 32, size_kb=40.5, images=[], published_at="2025-06-01T00:00:00.000Z",
                       model_name="Ink Wash")  # fmt: skip
    flux = model_version(version_id=104, model_id=7, name="flux", base_model="Flux.1 D", trained_words=[],
                         sha256="cd" * 32, size_kb=90, images=[], published_at="2025-07-01T00:00:00.000Z",
                         model_name="Ink Wash")  # fmt: skip
    ink["modelVersions"] = [flux, v3, old]
    r = run(home, civitai, "civitai", "--updates", "--json")
    assert r.returncode == 0, r.stderr
    (update,) = json.loads(r.stdout)
    assert update["name"] == "ink" and update["base_model"] == "Pony"
    (newer,) = update["newer"]  # the Flux version is for another base model
    assert newer["version_id"] == 103 and newer["page_url"].endswith("/models/7?modelVersionId=103")
    assert newer["size_change"] == (40.5 - 20.5) * 1024
    assert newer["trained_words_added"] == ["wet ink"] and newer["trained_words_removed"] == ["sumi-e"]
    r = run(home, civitai, "civitai", "--updates")
    assert "v3" in r.stdout and "wet ink" in r.stdout and "modelVersionId=103" in r.stdout
    assert sha  # the version found is the recorded one


def test_unreachable_civitai_fails_fast_with_one_error_line(home: Path, tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = hub(home, "civitai", CIVITAI_API_URL=f"http://127.0.0.1:{port}/api/v1", CIVITAI_API_KEY=KEY)
    assert r.returncode == 7
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: Civitai is unreachable at 127.0.0.1") and len(lines) == 2
    assert lines[1].startswith("hint:") and KEY not in r.stderr


def test_migration_adds_civitai_to_an_existing_registry(tmp_path: Path) -> None:
    """A registry made before migration 004 opens, gets the table, and keeps its rows."""
    from hub.registry import schema

    home = tmp_path / "old"
    home.mkdir()
    conn = sqlite3.connect(home / "registry.db", isolation_level=None)
    schema.migrate(conn, stop_before=4)
    conn.close()
    write_lora(tmp_path / "x.safetensors", seed=4)
    assert hub(home, "add", str(tmp_path / "x.safetensors")).returncode == 0
    conn = sqlite3.connect(home / "registry.db")
    assert conn.execute("SELECT max(number) FROM _migrations").fetchone()[0] == schema.head()
    assert conn.execute("SELECT count(*) FROM civitai").fetchone()[0] == 0


@pytest.mark.parametrize("known", ["autov2", "blake3"])
def test_autov2_or_blake3_is_asked_when_that_is_all_that_is_known(
    home: Path, civitai: FakeCivitai, known: str
) -> None:
    """A registry row that knows no SHA256 of its file (only AutoV2, or only BLAKE3: what InvokeAI records) is
    looked up by what it knows."""
    sha = publish_ink(civitai, home)
    hashes = show(home, "ink")["hashes"]
    civitai.publish(civitai.models[7], civitai.versions[sha.upper()], {"AutoV2": hashes["autov2"],
                                                                       "BLAKE3": hashes["blake3"]})  # fmt: skip
    with sqlite3.connect(home / "registry.db") as db:
        db.execute("DELETE FROM hashes WHERE algo NOT IN (?) AND adapter_id = (SELECT id FROM adapters "
                   "WHERE name = 'ink')", (known,))  # fmt: skip
    r = run(home, civitai, "civitai", "ink", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["status"] == "found"
    value = hashes[known]
    assert json.loads(r.stdout)[0]["info"]["lookup"] == f"{known}:{value}"
    assert civitai.paths("by-hash/") == [f"/api/v1/model-versions/by-hash/{value}"]


def _checkerboard() -> bytes:
    import io

    from PIL import Image

    board = Image.new("L", (64, 64), 0)
    for y in range(0, 64, 8):
        for x in range((y // 8) % 2 * 8, 64, 16):
            board.paste(255, (x, y, x + 8, y + 8))
    out = io.BytesIO()
    board.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def _grey_share(sheet: Path, box: tuple[int, int, int, int]) -> float:
    """How much of a tile is mid-grey: a blurred checkerboard is, a sharp one is black and white."""
    from PIL import Image

    with Image.open(sheet) as im:
        values = im.convert("L").crop(box).tobytes()
    return sum(60 <= v <= 195 for v in values) / len(values)


def test_hub_gallery_blurs_nsfw_previews_unless_the_setting_says_otherwise(
    home: Path, civitai: FakeCivitai, tmp_path: Path
) -> None:
    civitai.images["checker.png"] = ("image/png", _checkerboard())
    publish_ink(civitai, home, images=[image(f"{civitai.url}/images/checker.png", nsfw_level=4)])  # R
    assert run(home, civitai, "civitai", "ink").returncode == 0
    tile = (20, 20, 76, 76)  # inside ink's tile: the first of the sheet (ink, mine, plain)
    r = hub(home, "gallery", "--out", str(tmp_path / "default.png"), "--thumb", "96")
    assert r.returncode == 0, r.stderr
    assert "1 blurred" in r.stdout
    assert _grey_share(tmp_path / "default.png", tile) > 0.8
    r = hub(home, "gallery", "--out", str(tmp_path / "x.png"), "--thumb", "96", LORAHUB_NSFW_BLUR="r")
    assert r.returncode == 0, r.stderr
    assert "blurred" not in r.stdout  # R is not above R
    assert _grey_share(tmp_path / "x.png", tile) < 0.4


def test_a_model_gone_while_its_version_answers_keeps_the_recorded_tags(home: Path, civitai: FakeCivitai) -> None:
    publish_ink(civitai, home)
    assert run(home, civitai, "civitai", "ink").returncode == 0
    del civitai.models[7]  # `models/7` answers 404; the by-hash answer still comes
    r = run(home, civitai, "civitai", "ink", "--refresh", "--json")
    assert r.returncode == 0, r.stderr
    (outcome,) = json.loads(r.stdout)
    assert outcome["status"] == "found" and any("is gone from Civitai" in n for n in outcome["notes"])
    c = show(home, "ink")["civitai"]
    assert c["tags"] == ["Style", "ink wash", "traditional", "[u]markup[/u]"] and c["creator"] == "sumi_master"
    assert c["license"]["commercial_use"] == ["Image", "RentCivit"] and "Soft" in c["description"]
