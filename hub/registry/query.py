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

ARCHES = ("sd1", "sd2", "sdxl", "flux", "unknown")
KINDS = ("lora", "lycoris", "embedding", "lora+embedding")
# What people type, from Civitai's base-model labels and the A1111/kohya folders: "sd15" must not answer
# "0 adapters". Keys are lower-case with spaces, dots, dashes and underscores removed.
_ARCH_ALIASES = {
    **{a: a for a in ARCHES},
    **dict.fromkeys(("sd15", "sd14", "sd1x", "sdv1", "sdv15", "15", "stablediffusion15", "v1"), "sd1"),
    **dict.fromkeys(("sd21", "sd20", "sd2x", "sdv2", "sd21768", "21", "v2"), "sd2"),
    **dict.fromkeys(("sdxl10", "sdxl1", "xl", "sdxlbase", "sdxl09"), "sdxl"),
    **dict.fromkeys(("flux1", "fluxdev", "flux1dev", "flux1schnell", "fluxschnell"), "flux"),
}
_KIND_ALIASES = {
    **{k.replace("+", ""): k for k in KINDS},
    **dict.fromkeys(("loras", "locon", "lowrank"), "lora"),
    **dict.fromkeys(("lycoriss", "loha", "lokr"), "lycoris"),
    **dict.fromkeys(("embeddings", "ti", "textualinversion", "textualinversions", "embed"), "embedding"),
    **dict.fromkeys(("loraembedding", "loraembeddings", "pivotal"), "lora+embedding"),
}


def _canonical(value: str, aliases: dict[str, str], valid: Sequence[str], what: str, example: str) -> str:
    key = "".join(ch for ch in value.lower() if ch not in " ._-+")
    if key in aliases:
        return aliases[key]
    raise UsageError(f"unknown {what} '{value}'", hint=f"one of: {', '.join(valid)} ({example})")


def canonical_arch(value: str) -> str:
    """``sd15``, ``SD 1.5``, ``sdxl1.0`` ... -> ``sd1``/``sdxl``; anything unknown is refused with the list."""
    return _canonical(value, _ARCH_ALIASES, ARCHES, "arch", "sd15 and sd1.5 mean sd1, sdxl1.0 means sdxl")


def canonical_kind(value: str) -> str:
    """``loras``, ``embeddings``, ``lokr`` ... -> ``lora``/``embedding``/``lycoris``; unknown ones are refused."""
    return _canonical(value, _KIND_ALIASES, KINDS, "kind", "loras means lora, embeddings embedding")


@dataclass(frozen=True)
class ListQuery:
    """``hub ls TEXT --arch --kind --format --tag --base --remote --base-model --nsfw/--sfw --sort --limit``; a bad
    sort is refused here."""

    text: str | None = None  # full-text search: name, triggers, tags, description, training tags
    arch: str | None = None
    kind: str | None = None
    format: str | None = None
    tag: str | None = None
    base: str | None = None  # declared base label (e.g. Pony) or arch
    remote: str | None = None  # a Hub repo the adapter was pushed to or pulled from
    base_model: str | None = None  # Civitai's base model ("Pony", "SDXL 1.0") or the arch it maps to, or declared
    nsfw: bool | None = None  # True: NSFW on Civitai (or tagged nsfw); False: not
    sort: str = "name"
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise UsageError(f"unknown sort '{self.sort}'", hint=f"one of: {', '.join(SORTS)}")
        if self.arch:  # frozen: the canonical value replaces what was typed
            object.__setattr__(self, "arch", canonical_arch(self.arch))
        if self.kind:
            object.__setattr__(self, "kind", canonical_kind(self.kind))

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
            filters.append(("arch = ?", [self.arch]))
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
        if self.base_model:
            filters.append(_base_model_filter(self.base_model))
        if self.nsfw is not None:
            filters.append((f"id {'' if self.nsfw else 'NOT '}IN ({NSFW_IDS_SQL})", []))
        return filters


# NSFW: the model is marked so on Civitai, its version's level is R or above (bit flags 4 R, 8 X, 16 XXX), or its
# owner tagged it nsfw.
NSFW_LEVEL_R = 4
NSFW_IDS_SQL = (
    f"SELECT adapter_id FROM civitai WHERE nsfw = 1 OR nsfw_level >= {NSFW_LEVEL_R} "
    "UNION SELECT adapter_id FROM tags WHERE tag = 'nsfw'"
)


def _base_model_filter(value: str) -> tuple[str, list[Any]]:
    """Civitai's base model label or the declared base (any part of it: "pony", "sdxl 1.0"), or a Civitai label
    mapped to that arch ("sdxl" also finds Pony and Illustrious adapters)."""
    label = f"%{value.strip()}%"
    clause = "(base_label LIKE ? OR id IN (SELECT adapter_id FROM civitai WHERE base_model LIKE ?"
    params: list[Any] = [label, label]
    try:
        arch = canonical_arch(value)
    except UsageError:
        arch = None
    if arch:
        clause += " OR base_arch = ?"
        params.append(arch)
    return clause + "))", params
