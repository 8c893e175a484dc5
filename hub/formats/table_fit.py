"""Whether an adapter's modules fit a base's module table: each module the base has, with its widths.

Read from tensor shapes alone (a safetensors header, no torch), so a caller can refuse an adapter for another
base before the base's weights load. Modules are placed by their flat path (every key style,
:func:`hub.formats.key_styles.group_modules`); kohya's LDM-path UNet names (SDXL) through the table's UNet layout.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from hub.errors import IncompatibleError
from hub.formats.arch_detect import module_in_dim, module_out_dim
from hub.formats.key_styles import ModuleEntry, group_modules
from hub.formats.kohya_names import from_kohya
from hub.formats.module_tables import ModuleTable, tiny_path


@dataclass(frozen=True)
class TableFit:
    """How an adapter's modules sit on a base: placed (found in its table), and those of them of other widths."""

    modules: int
    placed: int
    misfits: tuple[str, ...]  # "<module>: adapter 768 -> 320, base 32 -> 32", in the file's order

    @property
    def fits(self) -> bool:
        """No module placed with other widths; modules left unplaced are for the loader to judge (a naming hub does
        not parse, modules named by index)."""
        return not self.misfits


def header_modules(path: str | os.PathLike[str]) -> list[ModuleEntry]:
    """The adapted modules of a safetensors adapter file, from its header."""
    from hub.formats.safetensors_header import read_header

    shapes = {k: tuple(t.shape) for k, t in read_header(path).tensors.items()}
    return list(group_modules(shapes).modules.values())


def _flat_index(table: ModuleTable) -> dict[tuple[str, str], tuple[int, ...]]:
    out: dict[tuple[str, str], tuple[int, ...]] = {}
    for key, shape in table.modules.items():
        component, _, path = key.partition(".")
        out[(component, tiny_path(component, path.replace(".", "_").lower()))] = tuple(shape)
    return out


def _base_shape(
    entry: ModuleEntry, table: ModuleTable, index: dict[tuple[str, str], tuple[int, ...]]
) -> tuple[int, ...] | None:
    shape = index.get((entry.component, tiny_path(entry.component, entry.path)))
    if shape is None and entry.name.startswith("lora_"):  # kohya's SDXL names: LDM paths
        try:
            canonical = from_kohya(entry.name, table)
        except IncompatibleError:
            return None
        shape = tuple(table.modules[canonical]) if canonical else None
    return shape


def table_fit(modules: list[ModuleEntry], table: ModuleTable) -> TableFit:
    index = _flat_index(table)
    placed = 0
    misfits: list[str] = []
    for entry in modules:
        shape = _base_shape(entry, table, index)
        if shape is None or len(shape) < 2:
            continue
        placed += 1
        in_dim, out_dim = module_in_dim(entry), module_out_dim(entry)
        # a conv's in-width is in-channels, or in-channels x kernel where factors are 2-D (LoHa, LoKr)
        in_fits = in_dim is None or in_dim in (shape[1], math.prod(shape[1:]))
        if not in_fits or (out_dim is not None and out_dim != shape[0]):
            misfits.append(f"{entry.name}: adapter {in_dim} -> {out_dim}, base {shape[1]} -> {shape[0]}")
    return TableFit(modules=len(modules), placed=placed, misfits=tuple(misfits))
