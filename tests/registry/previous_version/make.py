"""Writes the registry fixture of the previous `hub` (schema 2: absolute store paths) that test_home_moves.py opens.

Run once with the code of that version, e.g. from a checkout of commit b82934f:
``PYTHONPATH=/path/to/that/checkout python tests/registry/previous_version/make.py``. It builds a home under ROOT with
real `hub` processes (a stored adapter with a preview and a sidecar, one registered in place outside the home, one in
place inside it, a `hub scale` output with lineage) and copies here: ``registry.sql`` (the database as SQL, ROOT
recorded in its paths), the home's files and the user's folder. The test puts them under its own folder and replaces
ROOT in the SQL with that folder: the registry as the previous version left it, there.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from PIL import Image

from hub.testing import write_lora
from hub.testing.arch_shapes import lora_targets

ROOT = Path("/tmp/lorahub-previous-version")
HERE = Path(__file__).resolve().parent


def hub(*args: str) -> str:
    env = {**os.environ, "LORAHUB_HOME": str(ROOT / "home"), "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [str(Path(sys.executable).parent / "hub"), *args], capture_output=True, text=True, env=env, check=False
    )
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def adapter(path: Path, seed: int) -> Path:
    targets = dict(list(lora_targets("tiny-sd1").items())[1:3])  # two attention projections: a 2.5 KB file
    return write_lora(path, seed=seed, rank=2, targets=targets)


def dump(db: sqlite3.Connection) -> str:
    """The schema and every row as SQL. Not ``iterdump``: it writes FTS5 tables in an order that cannot be loaded
    back. The full-text table is created by its statement (which makes its shadow tables) and filled through it."""
    out = ["BEGIN;"]
    objects = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE 'adapters_fts_%' ORDER BY type = 'index', rowid"
    ).fetchall()
    out += [f"{sql};" for _, _, sql in objects]
    for kind, name, _ in objects:
        if kind != "table":
            continue
        columns = [r[1] for r in db.execute(f"SELECT * FROM pragma_table_xinfo('{name}') WHERE hidden = 0")]
        columns = ["rowid", *columns]  # adapters_fts rows are tied to adapters' rowids
        names = ", ".join(columns)
        for row in db.execute(f"SELECT {names} FROM {name} ORDER BY rowid"):
            values = ", ".join(db.execute("SELECT quote(?)", (v,)).fetchone()[0] for v in row)
            out.append(f"INSERT INTO {name} ({names}) VALUES ({values});")
    out.append("COMMIT;")
    return "\n".join(out) + "\n"


def main() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    loras = ROOT / "loras"
    style = adapter(loras / "style.safetensors", seed=1)
    Image.new("RGB", (8, 8), (200, 40, 40)).save(loras / "style.png")
    (loras / "style.json").write_text(json.dumps({"activation text": "redstyle"}))
    outside = adapter(loras / "outside.safetensors", seed=2)
    inside = adapter(ROOT / "home" / "mine" / "inside.safetensors", seed=3)
    hub("add", str(style), "--tag", "kept")
    hub("add", "--in-place", str(outside))
    hub("add", "--in-place", str(inside))
    hub("scale", "style", "0.5", "--name", "half")
    verified = hub("verify")
    assert verified.count("ok") == 4, verified

    db = sqlite3.connect(ROOT / "home" / "registry.db")
    version = db.execute("SELECT max(number) FROM _migrations").fetchone()[0]
    assert version == 2, version
    (HERE / "registry.sql").write_text(dump(db))
    db.close()
    for name in ("home", "loras"):
        shutil.rmtree(HERE / name, ignore_errors=True)
    ignore = shutil.ignore_patterns("registry.db*", "tmp", "cache")
    shutil.copytree(ROOT / "home", HERE / "home", ignore=ignore)
    shutil.copytree(loras, HERE / "loras")
    print(f"schema {version}: {HERE}")


if __name__ == "__main__":
    main()
