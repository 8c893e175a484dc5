"""Create and migrate the registry from ``registry.db.sql``.

The schema file is split into numbered sections (``-- migration NNN: name``). Each section runs
once, in a transaction, and is recorded in ``_migrations``; so a fresh database and an old one
brought forward go through exactly the same statements.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from pathlib import Path

from hub.errors import RegistryError

_SECTION = re.compile(r"^-- migration (\d{3}): (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str


def schema_text() -> str:
    """The text of ``registry.db.sql``, a real file in this package (the checkout's top-level one links to it)."""
    return resources.files("hub.registry").joinpath("registry.db.sql").read_text(encoding="utf-8")


@cache
def migrations() -> tuple[Migration, ...]:
    text = schema_text()
    marks = list(_SECTION.finditer(text))
    found = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        found.append(Migration(int(m.group(1)), m.group(2).strip(), text[m.end() : end].strip()))
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RegistryError(f"registry.db.sql: migrations must be numbered 1..n in order, found {numbers}")
    return tuple(found)


def head() -> int:
    return len(migrations())


def applied(conn: sqlite3.Connection) -> int:
    """The number of the last migration this database has seen (0 for a new file)."""
    row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='_migrations'").fetchone()
    if row is None:
        return 0
    (n,) = conn.execute("SELECT coalesce(max(number), 0) FROM _migrations").fetchone()
    return int(n)


def register_home(conn: sqlite3.Connection, home: Path | None) -> None:
    """``registry_home()`` in this connection's SQL: the home folder with a trailing separator (NULL when unknown).
    Paths recorded relative to the home are joined to it in the queries (:mod:`hub.registry.db`), and migration 003
    rewrites the absolute paths that lie inside it."""
    value = os.path.join(os.path.abspath(home), "") if home is not None else None
    conn.create_function("registry_home", 0, lambda: value, deterministic=True)


def migrate(conn: sqlite3.Connection, *, home: Path | None = None, stop_before: int | None = None) -> list[str]:
    """Apply every pending migration (or those below ``stop_before``); returns the names applied. ``home``: the
    folder the registry lives in, for migrations that rewrite paths inside it."""
    register_home(conn, home)
    done = applied(conn)
    if done > head():
        raise RegistryError(
            f"the registry is at schema {done} but this hub knows only {head()}",
            hint="upgrade sd-lora-hub, or use another registry (--home PATH or LORAHUB_HOME)",
        )
    ran = []
    for m in migrations():
        if m.number <= done or (stop_before is not None and m.number >= stop_before):
            continue
        # BEGIN IMMEDIATE: two processes opening a new registry at once must not both migrate.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if applied(conn) >= m.number:
                conn.execute("ROLLBACK")
                continue
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (number INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TEXT NOT NULL)"
            )
            for statement in _statements(m.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO _migrations (number, name, applied_at) VALUES (?, ?, ?)",
                (m.number, m.name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        ran.append(f"{m.number:03d}_{m.name}")
    return ran


def _statements(sql: str) -> list[str]:
    """Split a section into statements (sqlite3.complete_statement knows where each one ends)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        if not buf and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise RegistryError(f"registry.db.sql: unterminated statement: {buf.strip()[:60]}")
    return out


def dump_schema(conn: sqlite3.Connection) -> str:
    """Every table, index, trigger and view, in a stable order: what tests compare."""
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "ORDER BY type, name"
    ).fetchall()
    return "\n".join(f"{sql};" for _, _, sql in rows)
