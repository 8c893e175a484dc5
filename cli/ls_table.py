"""The `hub ls` table, fitted to the terminal: name, kind, arch, rank and size always show.

Real file names are long. When the row does not fit, the source column goes first, then the triggers, then
the kind's format detail; the name is shortened in the middle (its start and its version suffix both say
something). ``--json`` and ``hub show`` keep the full values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

GAP = 2  # spaces between columns
NAME_MIN = 16  # below this a name says too little: drop optional columns first
TRIGGERS_MAX = 28
SOURCE_MAX = 32


@dataclass(frozen=True)
class Row:
    name: str
    kind: str  # kind with its format, e.g. "lycoris (lycoris-lokr)"
    kind_short: str  # kind alone
    arch: str
    rank: str
    size: str
    triggers: str
    source: str


def shorten_middle(text: str, width: int) -> str:
    """``my-very-long-style-name-v1.5`` -> ``my-very-…name-v1.5``: the start and the end both survive."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    tail = (width - 1) // 2
    head = width - 1 - tail
    return text[:head] + "…" + text[len(text) - tail :]


def shorten_end(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def fit(rows: Sequence[Row], width: int) -> tuple[list[str], list[list[str]]]:
    """Headers and cell texts that fit ``width`` columns (``width`` <= 0: no limit)."""

    def col_width(header: str, values: Sequence[str], cap: int | None = None) -> int:
        w = max([len(header), *map(len, values)])
        return min(w, cap) if cap else w

    names = [r.name for r in rows]
    fixed = {
        "arch": col_width("arch", [r.arch for r in rows]),
        "rank": col_width("rank", [r.rank for r in rows]),
        "size": col_width("size", [r.size for r in rows]),
    }
    kinds_full = [r.kind for r in rows]
    kinds_short = [r.kind_short for r in rows]
    optional = {
        "triggers": col_width("triggers", [r.triggers for r in rows], TRIGGERS_MAX),
        "source": col_width("source", [r.source for r in rows], SOURCE_MAX),
    }
    name_natural = col_width("name", names)
    # Layouts from richest to plainest; the first whose name column keeps NAME_MIN (or its natural width) wins.
    layouts = [
        (True, ("triggers", "source")),
        (True, ("triggers",)),
        (True, ()),
        (False, ()),
    ]
    chosen = layouts[-1]
    for full_kind, extra in layouts:
        kind_w = col_width("kind", kinds_full if full_kind else kinds_short)
        used = sum(fixed.values()) + kind_w + sum(optional[c] for c in extra) + GAP * (4 + len(extra))
        if width <= 0 or width - used >= min(NAME_MIN, name_natural):
            chosen = (full_kind, extra)
            break
    full_kind, extra = chosen
    kinds = kinds_full if full_kind else kinds_short
    kind_w = col_width("kind", kinds)
    used = sum(fixed.values()) + kind_w + sum(optional[c] for c in extra) + GAP * (4 + len(extra))
    name_w = name_natural if width <= 0 else max(min(name_natural, width - used), 4)

    headers = ["name", "kind", "arch", "rank", "size", *extra]
    cells = []
    for r, kind in zip(rows, kinds, strict=True):
        row = [shorten_middle(r.name, name_w), shorten_end(kind, kind_w), r.arch, r.rank, r.size]
        for c in extra:
            row.append(shorten_end(getattr(r, c), optional[c]))
        cells.append(row)
    return headers, cells
