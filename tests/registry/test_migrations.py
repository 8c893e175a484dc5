import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hub.registry import schema
from hub.registry.db import Registry

REPO = Path(__file__).resolve().parents[2]


def test_schema_file_is_the_packaged_one(tmp_path: Path) -> None:
    """hub/registry/registry.db.sql is the real file, the top-level one a link to it: what a wheel holds is what counts
    (a package-data pattern that missed it once made every non-editable install fail to open a registry)."""
    real = REPO / "hub" / "registry" / "registry.db.sql"
    assert real.is_file() and not real.is_symlink()
    assert (REPO / "registry.db.sql").resolve() == real.resolve()
    src = tmp_path / "src"
    skip = shutil.ignore_patterns(".*", "tests", "docs", "benchmarks", "build", "*.egg-info", "__pycache__")
    shutil.copytree(REPO, src, symlinks=True, ignore=skip)
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=src, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        packaged = z.read("hub/registry/registry.db.sql").decode()
        # the other data file the library reads beside its modules
        assert (
            z.read("hub/formats/data/module_tables.json.gz")
            == (REPO / "hub/formats/data/module_tables.json.gz").read_bytes()
        )
        # and the web UI's templates and static files, every one of them
        web = [str(p.relative_to(REPO)) for d in ("templates", "static") for p in (REPO / "hub/web" / d).iterdir()]
        assert web and [n for n in web if n not in z.namelist()] == []
    assert packaged == (REPO / "registry.db.sql").read_text() == schema.schema_text()
    assert schema.head() >= 2
    assert [m.number for m in schema.migrations()] == list(range(1, schema.head() + 1))


@pytest.mark.parametrize("stop_before", range(1, schema.head() + 1))
def test_migrated_database_equals_fresh_one(tmp_path: Path, stop_before: int) -> None:
    fresh = sqlite3.connect(tmp_path / "fresh.db", isolation_level=None)
    schema.migrate(fresh)

    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    schema.migrate(old, stop_before=stop_before)
    assert schema.applied(old) == stop_before - 1
    if stop_before > 1:  # an old registry with rows in it
        old.execute(
            "INSERT INTO adapters (id, name, kind, format, arch, size, source, path, imported_at) "
            "VALUES ('a1', 'x', 'lora', 'kohya', 'sd1', 1, 's', 'p', 't')"
        )
    assert schema.migrate(old)  # something ran
    assert schema.dump_schema(old) == schema.dump_schema(fresh)
    assert schema.applied(old) == schema.applied(fresh) == schema.head()
    assert schema.migrate(old) == []  # idempotent


def test_registry_opens_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    with Registry.open(tmp_path / "r.db") as reg:
        assert reg.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reg.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert reg.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_newer_registry_is_refused(tmp_path: Path) -> None:
    from hub.errors import RegistryError

    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    schema.migrate(conn)
    conn.execute("INSERT INTO _migrations VALUES (999, 'from the future', 't')")
    conn.close()
    with pytest.raises(RegistryError, match=r"newer|knows only"):
        Registry.open(tmp_path / "r.db")


def test_migration_003_records_paths_inside_the_home_relative(tmp_path: Path) -> None:
    """What schema 2 recorded (absolute paths, or ones relative to the working folder of a relative --home) becomes
    home-relative: stored files by hash, previews by name, other paths inside the home where it is opened; paths
    outside the home stay as they were."""
    home = tmp_path / "home"
    sha = "ab" + "1" * 62
    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    schema.migrate(conn, stop_before=3)
    rows = [  # (id, path, stored, sha256)
        ("stored", "/somewhere/else/home/store/sha256/ab/" + sha, 1, sha),
        ("cwd-relative", "h/store/sha256/cd/" + "cd" * 32, 1, "cd" * 32),
        ("inside", f"{home}/mine/x.safetensors", 0, "ef" * 32),
        ("outside", "/data/loras/y.safetensors", 0, "01" * 32),
    ]
    for i, path, stored, sha256 in rows:
        conn.execute(
            "INSERT INTO adapters (id, name, kind, format, arch, size, source, path, stored, sha256, imported_at) "
            "VALUES (?, ?, 'lora', 'kohya', 'sd1', 1, 's', ?, ?, ?, 't')",
            (i, i, path, stored, sha256),
        )
    conn.executemany(
        "INSERT INTO previews (adapter_id, path, source) VALUES (?, ?, NULL)",
        [("stored", "/somewhere/else/home/previews/0-abc.png"), ("inside", "h/previews/def.webp")],
    )
    conn.executemany(
        "INSERT INTO locations VALUES (?, ?, 't')",
        [("inside", f"{home}/mine/x.safetensors"), ("outside", "/data/loras/y.safetensors")],
    )
    schema.migrate(conn, home=home)
    assert dict(conn.execute("SELECT id, path FROM adapters")) == {
        "stored": "store/sha256/ab/" + sha,
        "cwd-relative": "store/sha256/cd/" + "cd" * 32,
        "inside": "mine/x.safetensors",
        "outside": "/data/loras/y.safetensors",
    }
    assert sorted(r[0] for r in conn.execute("SELECT path FROM previews")) == [
        "previews/0-abc.png",
        "previews/def.webp",
    ]
    assert sorted(r[0] for r in conn.execute("SELECT path FROM locations")) == [
        "/data/loras/y.safetensors",
        "mine/x.safetensors",
    ]


def test_recorded_paths_are_relative_inside_the_home_only(tmp_path: Path) -> None:
    from hub.paths import Paths

    paths = Paths(tmp_path / "home")
    assert paths.recorded(tmp_path / "home" / "store" / "sha256" / "ab" / "abc") == "store/sha256/ab/abc"
    assert paths.recorded(tmp_path / "home" / "x" / ".." / "y.png") == "y.png"
    assert paths.recorded(tmp_path / "home2" / "y.png") == str(tmp_path / "home2" / "y.png")  # a sibling, not inside
    assert paths.located("store/sha256/ab/abc") == tmp_path / "home" / "store" / "sha256" / "ab" / "abc"
    assert paths.located("/data/y.png") == Path("/data/y.png")
