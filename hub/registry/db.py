"""The registry database: connection set-up and the rows it holds.

Reads go through the standard library's sqlite3 so that ``hub ls`` starts fast (sqlite-utils pulls
in numpy and dateutil at import: ~0.2 s); writes that insert whole rows use sqlite-utils on the same
connection. Every change happens in one transaction (``with registry.transaction():``).
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import RegistryError
from hub.paths import Paths
from hub.registry import schema

if TYPE_CHECKING:
    from hub.models import Adapter, FileHashes, LineageEdge, Preview, RemoteRef

BUSY_TIMEOUT_MS = 30_000

# Columns of `adapters` that map one-to-one onto hub.models.Adapter (JSON ones are decoded).
_JSON_COLUMNS = {"ranks", "modules", "triggers", "metadata", "sidecars", "evidence", "recipe"}
_DOCUMENT_COLUMNS = ("metadata", "sidecars", "evidence")  # stored in adapter_documents, off the listing path
# A recorded path relative to the home (a stored file: store/sha256/ab/<hex>) joined to the home this registry is
# opened from (registry_home(), see schema.register_home): a moved or copied home finds its files where it now is.
_IS_ABSOLUTE = "substr(path, 1, 1) = '/'"
if os.name == "nt":
    _IS_ABSOLUTE = "(substr(path, 1, 1) = '\\' OR substr(path, 2, 1) = ':')"
PATH_SQL = f"CASE WHEN {_IS_ABSOLUTE} THEN path ELSE registry_home() || path END"
_LIST_COLUMNS = (
    "id, name, kind, format, arch, base_label, rank, ranks, alpha, scale, modules, dtype, size, sha256, triggers, "
    f"description, license, preferred_weight, source, {PATH_SQL} AS path, stored, usable, note, created_at, "
    "imported_at"
)


def _json_field(name: str) -> str:
    if name in ("ranks", "modules", "triggers"):
        return f"json({name})"
    if name in ("stored", "usable"):
        return f"json(CASE WHEN {name} THEN 'true' ELSE 'false' END)"
    if name == "path":
        return PATH_SQL
    if name == "tags":
        return "(SELECT json_group_array(tag) FROM (SELECT tag FROM tags WHERE adapter_id = adapters.id ORDER BY tag))"
    return name


# Adapter's fields in order, written out so `hub ls --json` needs no pydantic (tests/registry check both).
ADAPTER_FIELDS = (
    "id", "name", "kind", "format", "arch", "base_label", "rank", "ranks", "alpha", "scale", "modules", "dtype",
    "size", "sha256", "triggers", "tags", "description", "license", "preferred_weight", "source", "path", "stored",
    "usable", "note", "created_at", "imported_at",
)  # fmt: skip
# One JSON object per row, keys in Adapter's field order (a test checks it equals model_dump).
_JSON_OBJECT = "json_object(" + ", ".join(f"'{f}', {_json_field(f)}" for f in ADAPTER_FIELDS) + ")"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_id() -> str:
    return secrets.token_hex(5)


def _writable(db: Path) -> bool:
    """Can this process change the registry? (``os.access`` also answers no for root on an immutable file.)"""
    return os.access(db.parent, os.W_OK) and (not db.exists() or os.access(db, os.W_OK))


class Registry:
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        # The registry's home is the folder it is in, wherever that is now: paths inside it are recorded relative.
        self.paths = Paths(path.parent.absolute())
        schema.register_home(conn, self.paths.home)

    # -- connection -------------------------------------------------------------------------
    read_only = False  # True when the home cannot be written: reads work, writers call require_writable first

    @classmethod
    def open(cls, path: Path) -> Registry:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not _writable(path):
            return cls._open_read_only(path)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction means one.
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            if schema.applied(conn) != schema.head():
                schema.migrate(conn, home=path.parent)
        except sqlite3.DatabaseError as e:
            raise RegistryError(
                f"cannot open the registry at {path}: {e}", hint="do --home / LORAHUB_HOME point at a registry home?"
            ) from e
        conn.row_factory = sqlite3.Row
        return cls(conn, path)

    @classmethod
    def _open_read_only(cls, path: Path) -> Registry:
        """A home nobody may write (a read-only mount, an immutable file): `hub ls` and `show` still work.

        ``immutable=1``: SQLite takes no locks and needs no -wal/-shm files, which it could not create here;
        a registry that cannot be written cannot change under us either."""
        from urllib.parse import quote

        if not path.is_file():
            raise RegistryError(
                f"the registry home {path.parent} cannot be written and holds no registry yet",
                hint="make it writable, or use another home (--home PATH or LORAHUB_HOME)",
            )
        try:
            conn = sqlite3.connect(f"file:{quote(str(path))}?immutable=1", uri=True, isolation_level=None)
            if schema.applied(conn) != schema.head():
                raise RegistryError(
                    f"the registry at {path} needs a schema upgrade, and it cannot be written",
                    hint="make the home writable once, run any hub command, then protect it again",
                )
        except sqlite3.DatabaseError as e:
            raise RegistryError(f"cannot open the registry at {path}: {e}", hint=None) from e
        conn.row_factory = sqlite3.Row
        registry = cls(conn, path)
        registry.read_only = True
        return registry

    def require_writable(self) -> None:
        """One clear error before a writer reads anything, instead of one failure per file."""
        if self.read_only:
            raise RegistryError(
                f"the registry at {self.path} is read-only: nothing can be added or changed",
                hint="`hub ls` and `hub show` still work; make the home writable, or use another (--home PATH)",
            )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so concurrent writers queue on busy_timeout
        # instead of failing half-way with "database is locked".
        self.require_writable()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def sqlite_utils(self) -> Any:
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    # -- rows -------------------------------------------------------------------------------
    def _encoded(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Column values as stored: JSON columns as text, the file's path as recorded (relative inside the home)."""
        values = {k: (json.dumps(v) if k in _JSON_COLUMNS and v is not None else v) for k, v in fields.items()}
        if values.get("path") is not None:
            values["path"] = self.paths.recorded(values["path"])
        return values

    def insert_adapter(self, row: dict[str, Any]) -> None:
        values = self._encoded(row)
        documents = {k: values.pop(k) for k in _DOCUMENT_COLUMNS if k in values}
        db = self.sqlite_utils()
        db["adapters"].insert(values)
        db["adapter_documents"].insert({"adapter_id": values["id"], **documents})

    def update_adapter(self, adapter_id: str, **fields: Any) -> None:
        values = self._encoded(fields)
        sets = ", ".join(f"{k} = ?" for k in values)
        self.conn.execute(f"UPDATE adapters SET {sets} WHERE id = ?", [*values.values(), adapter_id])

    def unique_name(self, wanted: str) -> str:
        """``wanted``, or ``wanted-2``, ``wanted-3``... — a name collision never overwrites."""
        name, n = wanted, 1
        while self.conn.execute("SELECT 1 FROM adapters WHERE name = ?", (name,)).fetchone():
            n += 1
            name = f"{wanted}-{n}"
        return name

    def find_adapter_row(self, adapter_id: str) -> sqlite3.Row | None:
        """Every column of the adapter, its documents (metadata, sidecars, evidence) included; None if absent."""
        row: sqlite3.Row | None = self.conn.execute(
            f"SELECT {_LIST_COLUMNS}, recipe, d.metadata, d.sidecars, d.evidence FROM adapters a "
            "LEFT JOIN adapter_documents d ON d.adapter_id = a.id WHERE a.id = ?",
            (adapter_id,),
        ).fetchone()
        return row

    def adapter_row(self, adapter_id: str) -> sqlite3.Row:
        """:meth:`find_adapter_row` for an id this registry handed out: its absence is a damaged registry."""
        row = self.find_adapter_row(adapter_id)
        if row is None:
            raise RegistryError(f"adapter id '{adapter_id}' vanished from the registry")
        return row

    def find_ids(self, ref: str) -> list[str]:
        """Ids matching a name, an id, or a hash (full or prefix of >= 6 hex, any algorithm)."""
        rows = self.conn.execute("SELECT id FROM adapters WHERE name = ? OR id = ?", (ref, ref)).fetchall()
        if rows:
            return [r[0] for r in rows]
        low = ref.lower()
        if len(low) >= 6 and all(c in "0123456789abcdef" for c in low):
            rows = self.conn.execute(
                "SELECT DISTINCT adapter_id FROM hashes WHERE value >= ? AND value < ? AND algo != 'crc32'",
                (low, low + "g"),
            ).fetchall()
            if not rows:
                # Civitai's CRC32 is exactly 8 hex; only an exact match is meaningful.
                rows = self.conn.execute(
                    "SELECT adapter_id FROM hashes WHERE algo = 'crc32' AND value = ?", (low,)
                ).fetchall()
            return [r[0] for r in rows]
        return []

    def id_by_sha256(self, sha256: str) -> str | None:
        row = self.conn.execute("SELECT id FROM adapters WHERE sha256 = ?", (sha256,)).fetchone()
        return row[0] if row else None

    def list_adapters(
        self,
        *,
        query: str | None = None,
        filters: Sequence[tuple[str, Sequence[Any]]] = (),
        order_by: str = "name COLLATE NOCASE",
        limit: int | None = None,
    ) -> list[Adapter]:
        sql, params = _select(_LIST_COLUMNS, query, filters, order_by, limit)
        rows = self.conn.execute(sql, params).fetchall()
        tags = self._tags_by_id()
        return [adapter_from_row(r, tags.get(r["id"], [])) for r in rows]

    def list_adapters_json(
        self,
        *,
        query: str | None = None,
        filters: Sequence[tuple[str, Sequence[Any]]] = (),
        order_by: str = "name COLLATE NOCASE",
        limit: int | None = None,
    ) -> str:
        """The same rows as :meth:`list_adapters`, serialised by SQLite itself: a JSON array of
        ``Adapter.model_dump(mode="json")`` objects. Building 10,000 pydantic objects only to print
        them would cost more than the rest of ``hub ls --json`` together."""
        sql, params = _select(f"{_JSON_OBJECT} AS doc", query, filters, order_by, limit)
        (doc,) = self.conn.execute(
            f"SELECT coalesce(json_group_array(json(doc)), '[]') FROM ({sql})", params
        ).fetchone()
        return doc

    def _tags_by_id(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for adapter_id, tag in self.conn.execute("SELECT adapter_id, tag FROM tags ORDER BY tag"):
            out.setdefault(adapter_id, []).append(tag)
        return out

    def tags(self, adapter_id: str) -> list[str]:
        return [
            r[0] for r in self.conn.execute("SELECT tag FROM tags WHERE adapter_id = ? ORDER BY tag", (adapter_id,))
        ]

    def set_tags(self, adapter_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO tags VALUES (?, ?)", [(adapter_id, t) for t in add])
        self.conn.executemany("DELETE FROM tags WHERE adapter_id = ? AND tag = ?", [(adapter_id, t) for t in remove])

    # -- hashes -----------------------------------------------------------------------------
    def set_hashes(self, adapter_id: str, hashes: FileHashes) -> None:
        self.conn.execute("DELETE FROM hashes WHERE adapter_id = ?", (adapter_id,))
        self.conn.executemany(
            "INSERT INTO hashes (adapter_id, algo, value) VALUES (?, ?, ?)",
            [(adapter_id, algo, value) for algo, value in hashes.model_dump().items() if value],
        )

    def hashes(self, adapter_id: str) -> FileHashes | None:
        from hub.models import FileHashes

        values = dict(
            self.conn.execute("SELECT algo, value FROM hashes WHERE adapter_id = ?", (adapter_id,)).fetchall()
        )
        if "sha256" not in values:
            return None
        values.setdefault("autov1", None)
        values.setdefault("autov3", None)
        return FileHashes(**values)

    def cached_hashes(self, path: str, size: int, mtime_ns: int, inode: int) -> FileHashes | None:
        from hub.models import FileHashes

        row = self.conn.execute(
            "SELECT * FROM hash_cache WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
            (self.paths.recorded(path), size, mtime_ns, inode),
        ).fetchone()
        if row is None:
            return None
        return FileHashes(
            sha256=row["sha256"],
            autov1=row["autov1"],
            autov2=row["sha256"][:10],
            autov3=row["autov3"],
            blake3=row["blake3"],
            crc32=row["crc32"],
        )

    def cache_hashes(self, path: str, size: int, mtime_ns: int, inode: int, h: FileHashes) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO hash_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.paths.recorded(path), size, mtime_ns, inode, h.sha256, h.autov1, h.autov3, h.blake3, h.crc32, now()),
        )

    # -- relations ---------------------------------------------------------------------------
    def add_location(self, adapter_id: str, path: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO locations VALUES (?, ?, ?)", (adapter_id, self.paths.recorded(path), now())
        )

    def locations(self, adapter_id: str) -> list[str]:
        rows = self.conn.execute("SELECT path FROM locations WHERE adapter_id = ? ORDER BY path", (adapter_id,))
        return [str(self.paths.located(r[0])) for r in rows]

    def add_preview(
        self,
        adapter_id: str,
        path: str,
        source: str | None,
        *,
        nsfw_level: int | None = None,
        infotext: str | None = None,
    ) -> None:
        """``source`` is text (a sidecar path, a URL, "hub gen: ..."); a path inside the home is recorded relative.
        ``nsfw_level`` and ``infotext``: what Civitai said of the image (its level, its generation parameters)."""
        if source is not None and Path(source).is_absolute():
            source = self.paths.recorded(source)
        self.conn.execute(
            "INSERT OR IGNORE INTO previews (adapter_id, path, source, nsfw_level, infotext) VALUES (?, ?, ?, ?, ?)",
            (adapter_id, self.paths.recorded(path), source, nsfw_level, infotext),
        )

    def previews(self, adapter_id: str) -> list[Preview]:
        from hub.models import Preview

        rows = self.conn.execute(
            "SELECT path, source, nsfw_level, infotext FROM previews WHERE adapter_id = ? ORDER BY path", (adapter_id,)
        )
        return [
            Preview(path=str(self.paths.located(p)), source=s, nsfw_level=level, infotext=text)
            for p, s, level, text in rows
        ]

    def add_lineage(
        self, *, parent_id: str | None, parent_ref: str, child_id: str, operation: str, params: dict
    ) -> None:
        self.conn.execute(
            "INSERT INTO lineage (parent_id, parent_ref, child_id, operation, params, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (parent_id, parent_ref, child_id, operation, json.dumps(params), now()),
        )

    def lineage(self, *, child_id: str | None = None, parent_id: str | None = None) -> list[LineageEdge]:
        from hub.models import LineageEdge

        column, value = ("child_id", child_id) if child_id is not None else ("parent_id", parent_id)
        rows = self.conn.execute(
            f"SELECT parent_id, parent_ref, child_id, operation, params, created_at FROM lineage WHERE {column} = ? "
            "ORDER BY id",
            (value,),
        ).fetchall()
        return [
            LineageEdge(
                parent_id=r[0],
                parent_ref=r[1],
                child_id=r[2],
                operation=r[3],
                params=json.loads(r[4]),
                created_at=r[5],
            )
            for r in rows
        ]

    def add_remote(self, adapter_id: str, ref: RemoteRef) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO remotes VALUES (?, ?, ?, ?, ?, ?, ?)",
            (adapter_id, ref.repo, ref.revision, ref.commit, ref.path, ref.direction, ref.at or now()),
        )

    def remotes(self, adapter_id: str) -> list[RemoteRef]:
        from hub.models import RemoteRef

        rows = self.conn.execute(
            "SELECT repo, revision, commit_sha, path, direction, at FROM remotes WHERE adapter_id = ? ORDER BY at",
            (adapter_id,),
        ).fetchall()
        return [RemoteRef(repo=r[0], revision=r[1], commit=r[2], path=r[3], direction=r[4], at=r[5]) for r in rows]

    # -- full-text search ------------------------------------------------------------------
    def reindex(self, adapter_id: str) -> None:
        # Civitai's model and version names and its creator are searched as names (its trained words are triggers,
        # its tags are tags by then).
        row = self.conn.execute(
            "SELECT a.rowid, a.name, a.triggers, a.description, d.metadata, "
            "trim(coalesce(c.model_name, '') || ' ' || coalesce(c.version_name, '') || ' ' || "
            "coalesce(c.creator, '')) "
            "FROM adapters a "
            "LEFT JOIN adapter_documents d ON d.adapter_id = a.id LEFT JOIN civitai c ON c.adapter_id = a.id "
            "WHERE a.id = ?",
            (adapter_id,),
        ).fetchone()
        if row is None:
            return
        rowid = row[0]
        self.conn.execute("DELETE FROM adapters_fts WHERE rowid = ?", (rowid,))
        triggers = " ".join(json.loads(row[2] or "[]"))
        tags = " ".join(self.tags(adapter_id))
        tag_frequency = " ".join(tag_frequency_words(json.loads(row[4] or "{}")))
        self.conn.execute(
            "INSERT INTO adapters_fts (rowid, name, triggers, tags, description, tag_frequency) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (rowid, f"{_searchable_name(row[1])} {row[5] or ''}".strip(), triggers, tags, row[3] or "", tag_frequency),
        )

    def delete_adapter(self, adapter_id: str) -> None:
        row = self.conn.execute("SELECT rowid FROM adapters WHERE id = ?", (adapter_id,)).fetchone()
        if row is not None:
            self.conn.execute("DELETE FROM adapters_fts WHERE rowid = ?", (row[0],))
        self.conn.execute("DELETE FROM adapters WHERE id = ?", (adapter_id,))

    def owned_hashes(self) -> set[str]:
        """The SHA256 of every entry, stored, in place or missing: stored bytes with one of them are never garbage
        (an entry owns them, or can be repaired with them)."""
        sql = "SELECT sha256 FROM adapters WHERE sha256 IS NOT NULL UNION SELECT value FROM hashes WHERE algo='sha256'"
        return {r[0] for r in self.conn.execute(sql)}


def _select(
    columns: str,
    query: str | None,
    filters: Sequence[tuple[str, Sequence[Any]]],
    order_by: str,
    limit: int | None,
) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for clause, values in filters:
        where.append(clause)
        params.extend(values)
    if query:
        where.append("rowid IN (SELECT rowid FROM adapters_fts WHERE adapters_fts MATCH ?)")
        params.append(fts_query(query))
    sql = f"SELECT {columns} FROM adapters"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order_by}"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return sql, params


def _searchable_name(name: str) -> str:
    # "my_style-v2" should match "style": index the name and its parts.
    parts = name.replace("_", " ").replace("-", " ").replace(".", " ")
    return f"{name} {parts}"


def tag_frequency_words(metadata: dict[str, str]) -> list[str]:
    """The tags of kohya's ``ss_tag_frequency`` ({dataset_dir: {tag: count}}), most frequent first."""
    raw = metadata.get("ss_tag_frequency")
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return []
    counts: dict[str, int] = {}
    if isinstance(data, dict):
        for tags in data.values():
            if isinstance(tags, dict):
                for tag, count in tags.items():
                    if isinstance(count, int | float):
                        counts[str(tag).strip()] = counts.get(str(tag).strip(), 0) + int(count)
    return sorted(counts, key=lambda t: -counts[t])


def fts_query(text: str) -> str:
    """A user's words as an FTS5 query: every word must match, each as a prefix; no syntax errors."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in text).split() if w]
    return " ".join(f'"{w}"*' for w in words) or '""'


def adapter_from_row(row: sqlite3.Row, tags: list[str]) -> Adapter:
    from hub.models import Adapter

    d = dict(row)
    for k in ("ranks", "modules", "triggers"):
        d[k] = json.loads(d[k]) if d.get(k) else ([] if k != "modules" else {})
    d["stored"] = bool(d["stored"])
    d["usable"] = bool(d["usable"])
    d["tags"] = tags
    # Rows were validated on the way in; re-validating 10,000 of them would dominate `hub ls`.
    return Adapter.model_construct(**d)
