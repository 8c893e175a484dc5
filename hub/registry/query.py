"""What ``hub ls`` selects and in which order: a :class:`ListQuery` (search text, filters, sort, limit) and the SQL
clauses it stands for, shared by :func:`hub.registry.api.ls`, :func:`hub.registry.api.ls_json` and the browsing
page. Standard library only: ``hub ls --json`` builds one without loading pydantic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hub.errors import UsageError

SORTS = {
    "name": "name COLLATE NOCASE",
    "size": "size DESC, name",
    "imported": "imported_at DESC, name",
    "created": "created_at DESC, name",
    "rank": "rank DESC, name",
    "arch": "arch, name COLLATE NOCASE",
    "kind": "kind, name COLLATE NOCASE",
}


@dataclass(frozen=True)
class ListQuery:
    """``hub ls TEXT --arch --kind --format --tag --base --remote --sort --limit``; a bad sort is refused here."""

    text: str | None = None  # full-text search: name, triggers, tags, description, training tags
    arch: str | None = None
    kind: str | None = None
    format: str | None = None
    tag: str | None = None
    base: str | None = None  # declared base label (e.g. Pony) or arch
    remote: str | None = None  # a Hub repo the adapter was pushed to or pulled from
    sort: str = "name"
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise UsageError(f"unknown sort '{self.sort}'", hint=f"one of: {', '.join(SORTS)}")

    @classmethod
    def of(cls, query: str | ListQuery | None, **fields: Any) -> ListQuery:
        """What :func:`hub.registry.api.ls` was called with: a ListQuery (``fields`` replace some of its own), or
        the search text and ``fields`` as keywords."""
        if isinstance(query, ListQuery):
            return replace(query, **fields) if fields else query
        return cls(query, **fields)

    @property
    def order_by(self) -> str:
        return SORTS[self.sort]

    def filters(self) -> list[tuple[str, Sequence[Any]]]:
        """(SQL clause, parameters) pairs, ANDed by the registry's select."""
        filters: list[tuple[str, Sequence[Any]]] = []
        if self.arch:
            filters.append(("arch = ?", [self.arch.lower()]))
        if self.kind:
            # LyCORIS files are low-rank adapters too (kind "lora"); "lycoris" selects them by format.
            filters.append(("format LIKE 'lycoris-%'", []) if self.kind == "lycoris" else ("kind = ?", [self.kind]))
        if self.format:
            filters.append(("format = ?", [self.format]))
        if self.tag:
            filters.append(("id IN (SELECT adapter_id FROM tags WHERE tag = ?)", [self.tag.lower()]))
        if self.base:
            filters.append(("(base_label LIKE ? OR arch = ?)", [f"%{self.base}%", self.base.lower()]))
        if self.remote:
            filters.append(("id IN (SELECT adapter_id FROM remotes WHERE repo LIKE ?)", [f"%{self.remote}%"]))
        return filters
