"""The `hub ls` table, fitted to the terminal: name, kind, arch, rank and size always show.

Real file names are long. When the row does not fit, the source column goes first, then the triggers, then
the kind's format detail; the name is shortened in the middle (its start and its version suffix both say
something), and names that would look alike show where they differ. ``--json`` and ``hub show`` keep the full values.
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


def shorten_names(names: Sequence[str], width: int) -> list[str]:
    """Each name in ``width`` columns, distinct names staying distinct: names that :func:`shorten_middle` would make
    equal (``commonpike__l…lora_weights`` twice) show the part where they differ, after a short common start."""
    short = [shorten_middle(n, width) for n in names]
    groups: dict[str, set[str]] = {}
    for name, cut in zip(names, short, strict=True):
        groups.setdefault(cut, set()).add(name)
    for i, name in enumerate(names):
        group = groups[short[i]]
        if len(group) > 1:
            short[i] = _show_difference(name, _common_prefix(group), _common_prefix({g[::-1] for g in group}), width)
    counts: dict[str, int] = {}
    for i, cut in enumerate(short):  # a last resort for names alike over more than the width: number them
        if sum(c == cut for c in short) > 1 and len({n for n, c in zip(names, short, strict=True) if c == cut}) > 1:
            counts[cut] = counts.get(cut, 0) + 1
            mark = f"~{counts[cut]}"
            short[i] = cut[: max(width - len(mark), 1)] + mark
    return short


def _common_prefix(texts: set[str]) -> int:
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return n


def _show_difference(name: str, prefix: int, suffix: int, width: int) -> str:
    """A few characters of the common start, "…", where the names differ, "…", and the end if there is room."""
    word = max(name.rfind(sep, 0, prefix) for sep in "_-. ") + 1  # the differing word whole: "style-abc", not "c"
    if prefix - word <= 10:
        prefix = word
    head = name[: min(prefix, max(4, width // 4))]
    start = head + ("…" if len(head) < prefix else "")
    rest, room = name[prefix:], width - len(start)
    if len(rest) <= room:
        return start + rest
    differ = name[prefix : len(name) - suffix] if suffix < len(name) - prefix else rest
    if len(differ) + 1 >= room:
        return start + differ[: max(room - 1, 0)] + "…"
    tail = room - len(differ) - 1
    return start + differ + "…" + (name[len(name) - tail :] if tail else "")


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
    for r, kind, name in zip(rows, kinds, shorten_names(names, name_w), strict=True):
        row = [name, shorten_end(kind, kind_w), r.arch, r.rank, r.size]
        for c in extra:
            row.append(shorten_end(getattr(r, c), optional[c]))
        cells.append(row)
    return headers, cells
