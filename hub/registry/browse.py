"""The registry as a browsing UI reads it: one page at a time with the counts a filter bar needs, and the
small lookups a page makes (names for ids, an entry's preview files, names to complete).

``hub ls`` returns every matching row; a browser showing 10,000 adapters wants 48 of them, the total,
and per-facet counts, each answered by SQLite with an index, never by building 10,000 objects.
Search, filters and sorts are exactly ``hub ls``'s (the same SQL clauses). Re-exported by
:mod:`hub.registry.api`, which callers use.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.context import Context, using
from hub.errors import AmbiguousError, NotFoundError, UsageError
from hub.models import Adapter
from hub.registry.db import _LIST_COLUMNS, _select, adapter_from_row
from hub.registry.query import NSFW_IDS_SQL, NSFW_LEVEL_R, ListQuery

# source -> where the adapter came from, as a filter: a file, the Hub, or a hub operation
SOURCE_KINDS = ("local", "hf", "trained", "mixed", "resized", "converted", "scaled", "extracted")
MAX_PER_PAGE = 200


class BrowseItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    adapter: Adapter
    previews: int = 0  # how many preview images the registry holds for it
    source_kind: str = "local"
    # the cover's NSFW level: Civitai's for its image, else R (4) for an adapter that is NSFW (Civitai, or tagged)
    cover_nsfw_level: int | None = None


class BrowsePage(BaseModel):
    model_config = ConfigDict(frozen=True)

    query: str | None = None
    arch: str | None = None
    kind: str | None = None
    tag: str | None = None
    source: str | None = None
    sort: str = "name"
    page: int = 1
    per_page: int = 48
    total: int  # rows matching the search and filters
    pages: int
    items: list[BrowseItem]
    # counts over the whole registry, for the filter menus
    arches: dict[str, int] = Field(default_factory=dict)
    kinds: dict[str, int] = Field(default_factory=dict)
    sources: dict[str, int] = Field(default_factory=dict)
    tags: dict[str, int] = Field(default_factory=dict)  # the most used tags first


def source_kind(source: str) -> str:
    """``hf://...`` -> hf, ``mixed:svd`` -> mixed, a path -> local."""
    if source.startswith("hf://"):
        return "hf"
    head, sep, _ = source.partition(":")
    if sep and head in SOURCE_KINDS:
        return head
    return "local"


# the text before the first ':' of each source, counted in one pass; source_kind() maps the heads to kinds
_SOURCE_HEAD_SQL = (
    "SELECT CASE WHEN source LIKE 'hf://%' THEN 'hf' ELSE substr(source, 1, instr(source, ':') - 1) END AS head, "
    "count(*) FROM adapters GROUP BY head"
)


def _source_filter(kind: str) -> tuple[str, list[Any]]:
    if kind not in SOURCE_KINDS:
        raise UsageError(f"unknown source '{kind}'", hint=f"one of: {', '.join(SOURCE_KINDS)}")
    if kind == "hf":
        return "source LIKE 'hf://%'", []
    if kind == "local":
        others = " AND ".join(f"source NOT LIKE '{k}:%'" for k in SOURCE_KINDS if k not in ("local", "hf"))
        return f"(source NOT LIKE 'hf://%' AND {others})", []
    return "source LIKE ?", [f"{kind}:%"]


def browse(
    query: str | None = None,
    *,
    arch: str | None = None,
    kind: str | None = None,
    tag: str | None = None,
    source: str | None = None,
    sort: str = "name",
    page: int = 1,
    per_page: int = 48,
    top_tags: int = 40,
    ctx: Context | None = None,
) -> BrowsePage:
    """One page of ``hub ls QUERY --arch --kind --tag`` (plus a source filter), with totals and facet counts."""
    if page < 1:
        raise UsageError(f"page must be >= 1, not {page}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise UsageError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
    q = ListQuery(query, arch=arch, kind=kind, tag=tag, sort=sort)
    filters = q.filters()
    if source:
        filters.append(_source_filter(source))
    with using(ctx) as c:
        reg = c.registry
        sql, params = _select(_LIST_COLUMNS, q.text, filters, q.order_by, None)
        (total,) = reg.conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()
        pages = max(1, -(-total // per_page))
        if page > pages:
            raise NotFoundError(f"page {page} is past the last page ({pages})", hint="page=1 is the first")
        rows = reg.conn.execute(f"{sql} LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page]).fetchall()
        ids = [r["id"] for r in rows]
        marks = ",".join("?" * len(ids))
        tags: dict[str, list[str]] = {}
        previews: dict[str, int] = {}
        if ids:
            for adapter_id, t in reg.conn.execute(
                f"SELECT adapter_id, tag FROM tags WHERE adapter_id IN ({marks}) ORDER BY tag", ids
            ):
                tags.setdefault(adapter_id, []).append(t)
            previews = dict(
                reg.conn.execute(
                    f"SELECT adapter_id, count(*) FROM previews WHERE adapter_id IN ({marks}) GROUP BY adapter_id",
                    ids,
                ).fetchall()
            )
        covers: dict[str, int | None] = {}
        nsfw: set[str] = set()
        if ids:
            covers = dict(
                reg.conn.execute(
                    f"SELECT adapter_id, nsfw_level FROM previews p WHERE adapter_id IN ({marks}) "
                    "AND path = (SELECT min(path) FROM previews WHERE adapter_id = p.adapter_id)",
                    ids,
                ).fetchall()
            )
            nsfw = {
                r[0]
                for r in reg.conn.execute(
                    f"SELECT adapter_id FROM ({NSFW_IDS_SQL}) WHERE adapter_id IN ({marks})", ids
                )
            }
        items = []
        for r in rows:
            adapter = adapter_from_row(r, tags.get(r["id"], []))
            level = covers.get(r["id"]) or (NSFW_LEVEL_R if r["id"] in nsfw else None)
            items.append(
                BrowseItem(
                    adapter=adapter,
                    previews=previews.get(r["id"], 0),
                    source_kind=source_kind(r["source"]),
                    cover_nsfw_level=level,
                )
            )
        arches = dict(reg.conn.execute("SELECT arch, count(*) FROM adapters GROUP BY arch ORDER BY arch"))
        kinds = dict(reg.conn.execute("SELECT kind, count(*) FROM adapters GROUP BY kind ORDER BY kind"))
        tag_counts = dict(
            reg.conn.execute(
                "SELECT tag, count(*) AS n FROM tags GROUP BY tag ORDER BY n DESC, tag LIMIT ?", (top_tags,)
            )
        )
        sources: dict[str, int] = {}
        for head, n in reg.conn.execute(_SOURCE_HEAD_SQL):
            kind_of = head if head in SOURCE_KINDS else "local"
            sources[kind_of] = sources.get(kind_of, 0) + n
    sources = {k: sources[k] for k in SOURCE_KINDS if k in sources}
    return BrowsePage(
        query=query or None,
        arch=arch,
        kind=kind,
        tag=tag,
        source=source,
        sort=sort,
        page=page,
        per_page=per_page,
        total=total,
        pages=pages,
        items=items,
        arches=arches,
        kinds=kinds,
        sources=sources,
        tags=tag_counts,
    )


def find_id(ref: str, *, ctx: Context | None = None) -> str:
    """The id of the entry ``ref`` names (a name, an id or a hash prefix), never a file: unlike
    :func:`hub.registry.api.resolve`, a path is not opened, so text from a web form cannot make us read a file."""
    with using(ctx) as c:
        ids = c.registry.find_ids(ref.strip())
    if not ids:
        raise NotFoundError(f"no adapter '{ref}' in the registry", hint="a name, an id or a hash prefix")
    if len(ids) > 1:
        raise AmbiguousError(f"'{ref}' matches {len(ids)} adapters", hint="use the full name or a longer hash")
    return ids[0]


def names_by_id(ids: list[str], *, ctx: Context | None = None) -> dict[str, str]:
    """Entry names for ids (ids that are not in the registry are left out)."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    with using(ctx) as c:
        return dict(c.registry.conn.execute(f"SELECT id, name FROM adapters WHERE id IN ({marks})", ids).fetchall())


def adapter_names(*, mergeable: bool = True, limit: int = 1000, ctx: Context | None = None) -> list[str]:
    """Names in ``hub ls`` order, for completing a typed name; ``mergeable``: usable LoRAs only (no embeddings)."""
    where = "WHERE usable AND kind != 'embedding' " if mergeable else ""
    with using(ctx) as c:
        rows = c.registry.conn.execute(
            f"SELECT name FROM adapters {where}ORDER BY name COLLATE NOCASE LIMIT ?", (limit,)
        )
        return [r[0] for r in rows]


def preview_paths(adapter_id: str, *, ctx: Context | None = None) -> list[str]:
    """The adapter's preview files, in the order ``hub show`` lists them (the first is the cover)."""
    with using(ctx) as c:
        if c.registry.adapter_row(adapter_id) is None:
            raise NotFoundError(f"no adapter with id '{adapter_id}'")
        return [p.path for p in c.registry.previews(adapter_id)]
