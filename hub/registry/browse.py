"""The registry one page at a time, with the counts a filter bar needs: what a gallery UI asks for.

``hub ls`` returns every matching row; a browser showing 10,000 adapters wants 48 of them, the total,
and per-facet counts, each answered by SQLite with an index, never by building 10,000 objects.
Search, filters and sorts are exactly ``hub ls``'s (the same SQL clauses).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub import library as registry_api  # `hub ls`'s filters and sorts (moving to hub.registry.api)
from hub.errors import UsageError
from hub.models import Adapter
from hub.registry.db import _LIST_COLUMNS, _select, adapter_from_row, open_registry
from hub.settings import Settings

# source -> where the adapter came from, as a filter: a file, the Hub, or a hub operation
SOURCE_KINDS = ("local", "hf", "trained", "mixed", "resized", "converted", "scaled", "extracted")
MAX_PER_PAGE = 200


class BrowseItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    adapter: Adapter
    previews: int = 0  # how many preview images the registry holds for it
    source_kind: str = "local"


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
    settings: Settings | None = None,
) -> BrowsePage:
    """One page of ``hub ls QUERY --arch --kind --tag`` (plus a source filter), with totals and facet counts."""
    if page < 1:
        raise UsageError(f"page must be >= 1, not {page}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise UsageError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
    filters = registry_api._ls_filters(arch=arch, kind=kind, format=None, tag=tag, base=None, remote=None, sort=sort)
    if source:
        filters.append(_source_filter(source))
    with open_registry(settings) as reg:
        sql, params = _select(_LIST_COLUMNS, query, filters, registry_api.SORTS[sort], None)
        (total,) = reg.conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()
        pages = max(1, -(-total // per_page))
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
        items = []
        for r in rows:
            adapter = adapter_from_row(r, tags.get(r["id"], []))
            items.append(
                BrowseItem(adapter=adapter, previews=previews.get(r["id"], 0), source_kind=source_kind(r["source"]))
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
