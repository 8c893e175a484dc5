"""The registry through its Python API, on real files written by hub.testing and a real SQLite."""

import json
import shutil
from pathlib import Path

import pytest

import hub
from hub.errors import AmbiguousError, BadFileError, ConflictError, NotFoundError, UnsafePickleError, UsageError
from hub.models import ParentLink, RemoteRef
from hub.registry.api import ls_json
from hub.registry.db import Registry
from hub.registry.query import ListQuery
from hub.settings import load_settings
from hub.testing import write_embedding, write_lora


@pytest.fixture
def lora(tmp_path: Path) -> Path:
    return write_lora(tmp_path / "in" / "pixel_style.safetensors", arch="tiny-sd1", rank=4, seed=1)


def _row_count() -> int:
    with Registry.open(load_settings().paths.registry_db) as reg:
        return reg.conn.execute("SELECT count(*) FROM adapters").fetchone()[0]


def test_add_copies_into_the_store_and_records_everything(lora: Path) -> None:
    a = hub.add_one(lora)
    home = load_settings().paths
    assert a.kind == "lora" and a.format == "kohya" and a.rank == 4
    assert a.sha256 and Path(a.path) == home.blob(a.sha256)
    assert Path(a.path).read_bytes() == lora.read_bytes()
    d = hub.show(a.name)
    assert d.hashes is not None and d.hashes.autov2 == a.sha256[:10]
    assert d.metadata["ss_network_dim"] == "4"
    # kohya's sshs_model_hash is the AutoV3 of what it wrote
    assert d.metadata["sshs_model_hash"] == d.hashes.autov3
    assert d.locations == [str(lora.absolute())]


def test_same_bytes_twice_are_one_row_and_one_blob(lora: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "renamed.safetensors"
    copy.parent.mkdir()
    shutil.copy(lora, copy)
    report = hub.add([lora, copy])
    assert [o.status for o in report.outcomes] == ["added", "duplicate"]
    assert "same bytes as 'pixel_style'" in report.outcomes[1].message
    assert _row_count() == 1
    blobs = list((load_settings().paths.store / "sha256").rglob("*"))
    assert len([b for b in blobs if b.is_file()]) == 1
    assert len(hub.show("pixel_style").locations) == 2
    groups = hub.dupes()
    assert len(groups) == 1 and len(groups[0].paths) == 2


def test_name_collisions_get_a_suffix_never_overwrite(tmp_path: Path) -> None:
    a = write_lora(tmp_path / "a" / "style.safetensors", seed=1)
    b = write_lora(tmp_path / "b" / "style.safetensors", seed=2)
    first, second = hub.add_one(a), hub.add_one(b)
    assert first.name == "style" and second.name == "style-2"


def test_generic_file_names_take_the_folder_name(tmp_path: Path) -> None:
    f = write_lora(tmp_path / "cute-dogs" / "pytorch_lora_weights.safetensors", style="diffusers", seed=3)
    assert hub.add_one(f).name == "cute-dogs"


def test_lookup_by_id_hash_prefixes_and_path(lora: Path) -> None:
    a = hub.add_one(lora)
    d = hub.show(a.name)
    assert d.hashes is not None
    for ref in (
        a.id,
        a.sha256[:8],
        d.hashes.autov2.upper(),
        d.hashes.autov3[:12],
        d.hashes.blake3[:10],
        d.hashes.crc32,
    ):
        assert hub.show(ref).id == a.id
    unregistered = write_lora(lora.parent / "loose.safetensors", seed=9)
    assert hub.show(str(unregistered)).id == ""
    with pytest.raises(NotFoundError):
        hub.show("nothing-like-this")


def test_ambiguous_prefix(tmp_path: Path) -> None:
    for i in range(3):
        write_lora(tmp_path / f"s{i}.safetensors", seed=i, components=("unet",))
    hub.import_dir(tmp_path)
    # Real 6-hex collisions are rare; make two AutoV2 values share a prefix as a big library would.
    with Registry.open(load_settings().paths.registry_db) as reg, reg.transaction():
        reg.conn.execute("UPDATE hashes SET value = 'abcdef' || substr(value, 7) WHERE algo = 'autov2'")
    with pytest.raises(AmbiguousError, match="matches 3 adapters"):
        hub.show("abcdef")


def test_tags_search_and_filters(tmp_path: Path) -> None:
    a = write_lora(
        tmp_path / "anime_eyes.safetensors",
        seed=1,
        metadata={"ss_tag_frequency": json.dumps({"10_eyes": {"sparkling eyes": 12, "1girl": 30}})},
    )
    b = write_lora(tmp_path / "sdxl_thing.safetensors", arch="tiny-sdxl", seed=2)
    e = write_embedding(tmp_path / "badhands.safetensors", style="safetensors-emb-params", dim=768)
    hub.import_dir(tmp_path)
    hub.tag("anime_eyes", ["+Favourite", "+anime"])
    assert [x.name for x in hub.ls(tag="favourite")] == ["anime_eyes"]
    assert [x.name for x in hub.ls("sparkling")] == ["anime_eyes"]  # ss_tag_frequency is searchable
    assert [x.name for x in hub.ls("anim")] == ["anime_eyes"]  # prefix match on tags and name
    assert [x.name for x in hub.ls(kind="embedding")] == ["badhands"]
    assert {x.name for x in hub.ls(arch="sdxl")} == {"sdxl_thing"}
    hub.tag("anime_eyes", ["-anime"])
    assert hub.show("anime_eyes").tags == ["favourite"]
    assert hub.ls("anime") != [] and hub.ls("zzzz") == []
    with pytest.raises(UsageError):
        hub.ls(sort="colour")
    by_size = sorted(((p.stat().st_size, p.stem) for p in (a, b, e)), key=lambda t: (-t[0], t[1]))
    assert len({size for size, _ in by_size}) == 3  # three different sizes, so the order is the size order
    assert [x.name for x in hub.ls(sort="size")] == [name for _, name in by_size]  # largest first
    # one ListQuery says the same as the keywords, to ls and ls_json alike; keywords replace its fields
    query = ListQuery("anim", tag="favourite", sort="size")
    assert hub.ls(query) == hub.ls("anim", tag="favourite", sort="size") != []
    assert [a["name"] for a in json.loads(ls_json(query))] == ["anime_eyes"]
    assert hub.ls(query, tag="anime") == []
    assert [x.name for x in hub.ls(ListQuery(sort="size"), limit=1)] == [by_size[0][1]]


def test_sidecars_and_previews_are_read(tmp_path: Path) -> None:
    f = write_lora(tmp_path / "lib" / "cat_ears.safetensors", seed=4)
    (tmp_path / "lib" / "cat_ears.json").write_text(
        json.dumps(
            {
                "activation text": "cat ears, nekomimi",
                "preferred weight": 0.7,
                "notes": "works best at 0.6-0.8",
                "description": "Adds cat ears",
                "sd version": "SD1",
            }
        )
    )
    (tmp_path / "lib" / "cat_ears.civitai.info").write_text(
        json.dumps(
            {
                "id": 1,
                "modelId": 2,
                "baseModel": "SD 1.5",
                "trainedWords": ["catgirl"],
                "model": {"name": "Cat Ears", "type": "LORA", "tags": ["Animal", "ears"]},
            }
        )
    )
    (tmp_path / "lib" / "cat_ears.metadata.json").write_text("{not json")  # a broken sidecar never blocks
    from PIL import Image

    Image.new("RGB", (8, 8), (200, 50, 50)).save(tmp_path / "lib" / "cat_ears.preview.png")
    a = hub.add_one(f)
    d = hub.show(a.name)
    assert d.triggers[:3] == ["cat ears", "nekomimi", "catgirl"]
    assert d.preferred_weight == 0.7
    assert d.base_label == "SD1"
    assert set(d.tags) >= {"animal", "ears"}
    assert "Adds cat ears" in (d.description or "")
    assert len(d.previews) == 1 and Path(d.previews[0].path).is_file()
    assert "metadata.json" in (d.note or "")
    assert hub.ls("nekomimi")[0].name == "cat_ears"


def test_in_place_and_no_hash_then_verify(lora: Path) -> None:
    a = hub.add_one(lora, hash=False)
    assert a.sha256 is None and not a.stored and a.path == str(lora.absolute())
    results = hub.verify()
    assert [r.status for r in results] == ["unhashed"]
    assert hub.show(a.name).sha256 == results[0].actual_sha256
    assert [r.status for r in hub.verify()] == ["ok"]
    data = bytearray(lora.read_bytes())
    data[-1] ^= 0xFF
    lora.write_bytes(bytes(data))
    assert [r.status for r in hub.verify(a.name)] == ["changed"]
    lora.unlink()
    assert [r.status for r in hub.verify()] == ["missing"]


def test_rm_removes_row_and_collects_unreferenced_blob(lora: Path) -> None:
    a = hub.add_one(lora)
    blob = Path(a.path)
    assert blob.is_file()
    hub.rm(a.name)
    assert not blob.exists()
    assert hub.ls() == []
    with pytest.raises(NotFoundError):
        hub.rm(a.name)


def test_lineage_recipe_and_remote_are_recorded(tmp_path: Path, lora: Path) -> None:
    parent = hub.add_one(lora)
    child_file = write_lora(tmp_path / "mixed.safetensors", seed=7)
    child = hub.add_one(
        child_file,
        source="mixed:svd",
        lineage=[ParentLink(parent_ref=parent.name, operation="mixed-from", params={"weight": 0.7, "method": "svd"})],
        recipe={"command": "hub mix pixel_style:0.7 --method svd"},
    )
    hub.record_remote(child.id, RemoteRef(repo="me/mixed", revision="main", commit="abc123", path="mixed.safetensors"))
    d = hub.show(child.id)
    assert d.locations == []  # an output of hub is written to a temp file: not a place worth listing
    assert d.parents[0].parent_id == parent.id and d.parents[0].params["weight"] == 0.7
    assert d.recipe == {"command": "hub mix pixel_style:0.7 --method svd"}
    assert d.remotes[0].commit == "abc123"
    assert hub.show(parent.id).children[0].child_id == child.id
    assert [a.name for a in hub.ls(remote="me/mixed")] == ["mixed"]
    with pytest.raises(ConflictError, match="'pixel_style' is a parent of 1 entry: mixed"):
        hub.rm(parent.name)
    assert hub.rm(parent.name, force=True).children == ["mixed"]  # the child keeps its history
    edge = hub.show(child.id).parents[0]
    assert edge.parent_id is None and edge.parent_ref == "pixel_style"


def test_bad_files_are_rejected_with_one_line_and_change_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.safetensors").write_bytes(b"{}")
    (tmp_path / "text.safetensors").write_text('{"name": "not weights"}\n')
    good = write_lora(tmp_path / "good.safetensors", seed=1)
    data = good.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    report = hub.import_dir(tmp_path)
    status = {Path(o.path).name: o for o in report.outcomes}
    assert status["good.safetensors"].status == "added"
    for bad in ("empty.safetensors", "text.safetensors", "cut.safetensors"):
        assert status[bad].status == "rejected", bad
        assert "\n" not in status[bad].message
    assert "truncated" in status["cut.safetensors"].message
    assert _row_count() == 1
    with pytest.raises(BadFileError):
        hub.add_one(tmp_path / "cut.safetensors")
    assert _row_count() == 1


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    import os
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    f = tmp_path / "evil.pt"
    f.write_bytes(pickle.dumps({"string_to_param": Evil()}))
    with pytest.raises(UnsafePickleError):
        hub.add_one(f)
    assert not marker.exists()
    assert _row_count() == 0


def test_ls_json_built_by_sqlite_equals_the_pydantic_dump(tmp_path: Path) -> None:
    write_lora(tmp_path / "a.safetensors", seed=1, metadata={"ss_output_name": "alpha one"})
    write_lora(tmp_path / "b.safetensors", arch="tiny-sdxl", seed=2)
    write_embedding(tmp_path / "e.safetensors", style="safetensors-emb-params")
    hub.import_dir(tmp_path)
    hub.tag("alpha one", ["+z", "+a"])
    from hub.registry.api import ls_json

    for kwargs in ({}, {"query": "alpha"}, {"sort": "size", "limit": 2}, {"tag": "a"}):
        expected = [a.model_dump(mode="json") for a in hub.ls(**kwargs)]
        assert json.loads(ls_json(**kwargs)) == expected, kwargs
    assert json.loads(ls_json(query="nothing-matches")) == []


def test_stability_matrix_and_lora_manager_sidecars(tmp_path: Path) -> None:
    sm = write_lora(tmp_path / "sm" / "ink.safetensors", seed=11)
    (tmp_path / "sm" / "ink.cm-info.json").write_text(json.dumps({
        "ModelName": "Ink Wash", "TrainedWords": ["ink wash", "sumi-e"], "Tags": ["Style", "ink"],
        "BaseModel": "SD 1.5", "ModelDescription": "<p>Ink &amp; wash</p>"}))  # fmt: skip
    lm = write_lora(tmp_path / "lm" / "neon.safetensors", seed=12)
    (tmp_path / "lm" / "neon.metadata.json").write_text(json.dumps({
        "model_name": "Neon", "base_model": "Pony", "tags": ["neon"], "notes": "glow",
        "usage_tips": json.dumps({"strength": 0.65}), "civitai": {"trainedWords": ["neon glow"]}}))  # fmt: skip
    ink, neon = hub.show(hub.add_one(sm).id), hub.show(hub.add_one(lm).id)
    assert ink.triggers == ["ink wash", "sumi-e"] and set(ink.tags) >= {"style", "ink"}
    assert ink.base_label == "SD 1.5" and ink.description == "Ink & wash"
    assert neon.triggers == ["neon glow"] and neon.preferred_weight == 0.65 and neon.base_label == "Pony"
    assert [a.name for a in hub.ls(base="pony")] == ["neon"]  # the declared base, not the probed arch
    assert set(ink.sidecars) == {"stability_matrix"} and set(neon.sidecars) == {"lora_manager"}


def test_licence_from_modelspec(tmp_path: Path) -> None:
    f = write_lora(tmp_path / "lic.safetensors", seed=21, metadata={"modelspec.license": "CreativeML Open RAIL-M"})
    assert hub.add_one(f).license == "CreativeML Open RAIL-M"
