"""Which cell of an X/Y grid gets which adapter weights and seed, and how A1111 names the axes. Pure.

The first axis runs along X. The rows are every combination of the other axes and of the seeds (the seed shows
in the row label only when there are several), so any number of axes still makes one sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

from hub.errors import UsageError
from hub.gen.infotext import number


@dataclass(frozen=True)
class PlannedCell:
    column: int
    row: int
    weights: dict[str, float]  # axis adapter -> weight
    seed: int


@dataclass(frozen=True)
class GridPlan:
    columns: list[str]
    rows: list[str]
    cells: list[PlannedCell]  # row by row, left to right
    names: list[str]  # axis adapters, X first
    values: list[list[float]]
    seeds: list[int]

    def xy_fields(self) -> list[tuple[str, str]]:
        """The infotext fields A1111's X/Y/Z plot script adds, with our axis types."""
        fields = [("Script", "X/Y/Z plot"), ("X Type", f"LoRA weight {self.names[0]}"),
                  ("X Values", ", ".join(number(v) for v in self.values[0]))]  # fmt: skip
        if len(self.rows) > 1:
            parts = [f"LoRA weight {n}" for n in self.names[1:]] + (["Seed"] if len(self.seeds) > 1 else [])
            fields += [("Y Type", " x ".join(parts)), ("Y Values", " | ".join(self.rows))]
        return fields


def label(name: str, weight: float) -> str:
    return f"{name}: {number(weight)}"


def plan_grid(axes: Sequence[tuple[str, Sequence[float]]], seeds: Sequence[int]) -> GridPlan:
    if not axes or any(not values for _, values in axes):
        raise UsageError("a grid needs at least one axis with weights", hint="hub grid 'a dog' dog:0,0.5,1")
    if not seeds:
        raise UsageError("a grid needs at least one seed", hint="--seeds 1,2")
    names = [name for name, _ in axes]
    if len(set(names)) != len(names):
        raise UsageError("an adapter is on two axes", hint="give each adapter one axis")
    values = [[float(v) for v in vs] for _, vs in axes]
    row_keys = list(product(*values[1:], [int(s) for s in seeds]))
    rows = []
    for key in row_keys:
        parts = [label(n, w) for n, w in zip(names[1:], key[:-1], strict=True)]
        rows.append(", ".join(parts + ([f"seed {key[-1]}"] if len(seeds) > 1 else [])))
    cells = []
    for r, key in enumerate(row_keys):
        for c, x in enumerate(values[0]):
            weights = {names[0]: x, **dict(zip(names[1:], key[:-1], strict=True))}
            cells.append(PlannedCell(column=c, row=r, weights=weights, seed=int(key[-1])))
    columns = [label(names[0], x) for x in values[0]]
    return GridPlan(columns=columns, rows=rows, cells=cells, names=names, values=values, seeds=list(seeds))
