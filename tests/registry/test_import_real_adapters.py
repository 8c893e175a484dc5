"""`hub import` of the whole real-adapters folder: good files in, each bad one rejected with one clear line."""

import json
from pathlib import Path

import hub
from hub.registry.db import Registry
from hub.settings import load_settings


def test_import_real_adapters_folder(real_adapters: Path) -> None:
    manifest = [json.loads(line) for line in (real_adapters / "MANIFEST.jsonl").read_text().splitlines() if line]
    weights = [r for r in manifest if r["expected"]["kind"] != "sidecar"]
    report = hub.import_dir(real_adapters, in_place=True)
    by_path = {Path(o.path).resolve(): o for o in report.outcomes if o.status != "skipped"}
    assert [Path(o.path).name for o in report.skipped] == ["MANIFEST.jsonl"]  # listed, never dropped silently
    assert len(by_path) == len(weights)

    for row in weights:
        outcome = by_path[(real_adapters / row["file"]).resolve()]
        expected = row["expected"]
        if expected["kind"] in ("invalid", "not-sd") or expected.get("truncated"):
            assert outcome.status == "rejected", row["file"]
            assert outcome.message and "\n" not in outcome.message
            assert outcome.exit_code in (5, 6)
        else:
            assert outcome.status in ("added", "duplicate"), (row["file"], outcome.message)
            assert outcome.adapter is not None
            assert outcome.adapter.arch == expected["arch"], row["file"]
            assert outcome.adapter.kind == expected["kind"], row["file"]

    # Rejected files left nothing behind: one row per distinct good file, nothing else.
    good_hashes = {
        r["sha256"]
        for r in weights
        if r["expected"]["kind"] not in ("invalid", "not-sd") and not r["expected"].get("truncated")
    }
    with Registry.open(load_settings().paths.registry_db) as reg:
        rows = {r[0] for r in reg.conn.execute("SELECT sha256 FROM adapters")}
    assert rows == good_hashes

    kiriko = next(a for a in hub.ls() if a.format == "cloneofsimo-legacy-list")
    assert not kiriko.usable and "name" in (kiriko.note or "")
    # the FLUX file whose metadata claims SD 1.5 keeps the shapes' verdict; the label keeps the claim
    flux = [a for a in hub.ls(arch="flux")]
    assert flux and all(a.arch == "flux" for a in flux)
    # pulling the same folder again adds nothing and reads nothing twice (hash cache)
    again = hub.import_dir(real_adapters, in_place=True)
    assert not again.added
