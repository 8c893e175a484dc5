import sqlite3
from pathlib import Path

import pytest

from hub.registry import schema
from hub.registry.db import Registry

REPO = Path(__file__).resolve().parents[2]


def test_schema_file_is_the_packaged_one() -> None:
    assert schema.schema_text() == (REPO / "registry.db.sql").read_text()
    # The wheel must carry the real file: the package holds it, the top level only links to it.
    packaged = REPO / "hub" / "registry" / "registry.db.sql"
    assert packaged.is_file() and not packaged.is_symlink()
    assert (REPO / "registry.db.sql").resolve() == packaged.resolve()
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
