"""What a composition writes: the adapter it made, in kohya or diffusers format, registered with its recipe and
lineage, optionally copied to ``--out``; the fields every writing verb's result shares (:class:`OutputResult`)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.compose.inputs import lineage_link
from hub.compose.recipe import Recipe
from hub.compose.results import OutputResult
from hub.context import Context
from hub.errors import UsageError
from hub.models import AdapterDetail, ParentLink

if TYPE_CHECKING:
    from hub.formats.lora_set import LoraSet

FORMATS = ("kohya", "diffusers")
# what a one-parent operation did, as its output's source ("resized:NAME") and lineage edge ("resized-from") say it
_DONE = {"resize": "resized", "convert": "converted", "scale": "scaled"}


def _input_dtype(sets: Sequence[LoraSet]):
    """The output's dtype when none is asked for: the inputs'."""
    for s in sets:
        for mod in s.modules.values():
            return mod.up.dtype
    return None


def register_output(
    ctx: Context,
    lora_set: LoraSet | None,
    recipe: Recipe,
    *,
    source: str,
    lineage: Sequence[ParentLink],
    fmt: str,
    out: str | Path | None,
    inputs: Sequence[LoraSet],
    merged_from: str,
    started: float,
    raw: tuple[dict[str, Any], dict[str, str]] | None = None,
    triggers: Sequence[str] = (),
) -> OutputResult:
    """Write ``lora_set`` in ``fmt``, under the recipe's name and dtype (default: the inputs' dtype), register it
    with its recipe, copy it to ``out``; what every writing operation returns, before its own fields are added.
    ``raw``: (tensors, metadata) written as they are instead of a LoraSet (a LyCORIS file kept in its own
    algorithm). ``triggers``: the parents' trigger words, which the output still answers to."""
    from hub.bases.devices import resolve_dtype
    from hub.formats.write import save_lora_set, write_safetensors
    from hub.registry.api import add_one

    name = recipe.params["name"]
    out_dtype = resolve_dtype(recipe.params["dtype"]) or _input_dtype(inputs)
    if fmt not in FORMATS:
        raise UsageError(f"unknown output format {fmt!r}", hint="kohya or diffusers")
    command = recipe.command()
    with tempfile.TemporaryDirectory(prefix="hub-compose-") as tmp:
        filename = f"{name}.safetensors" if fmt == "kohya" else "pytorch_lora_weights.safetensors"
        if raw is not None:
            path = write_safetensors(raw[0], {**raw[1], "lorahub.recipe": command}, Path(tmp) / filename)
        else:
            assert lora_set is not None
            path = save_lora_set(
                lora_set,
                Path(tmp) / filename,
                fmt=fmt,
                dtype=out_dtype,
                title=name,
                merged_from=merged_from,
                metadata={"lorahub.recipe": command},
            )
        adapter = add_one(path, name=name, source=source, triggers=triggers, lineage=lineage, recipe=recipe.stored(),
                          ctx=ctx)  # fmt: skip
        if out is not None:
            dest = Path(out).expanduser()
            if dest.is_dir():
                dest = dest / filename
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            out = str(dest)
    return OutputResult(
        adapter=adapter,
        out=out,
        command=command,
        recipe=recipe,
        modules=len(lora_set.modules) if lora_set else len({k.rpartition(".")[0] for k in raw[0]} if raw else ()),
        ranks=sorted({m.rank for m in lora_set.modules.values()}) if lora_set else _raw_ranks(raw),
        notes=list(lora_set.notes) if lora_set else ["LyCORIS tensors written as they are (nothing to expand)"],
        seconds=round(time.perf_counter() - started, 3),
    )


def _raw_ranks(raw: tuple[dict[str, Any], dict[str, str]] | None) -> list[int]:
    """The nominal ranks of LyCORIS tensors written as they are (the inner dimension of their factors)."""
    inner = (".lokr_w1_b", ".lokr_w2_b", ".hada_w1_b", ".lora_down.weight")
    return sorted({int(t.shape[0]) for k, t in (raw[0] if raw else {}).items() if k.endswith(inner)})


def register_one(
    ctx: Context,
    lora_set: LoraSet | None,
    recipe: Recipe,
    parent: tuple[str, AdapterDetail],
    edge: dict[str, Any],
    *,
    fmt: str,
    out: str | Path | None,
    inputs: Sequence[LoraSet],
    started: float,
    raw: tuple[dict[str, Any], dict[str, str]] | None = None,
) -> OutputResult:
    """:func:`register_output` of an adapter made from one (resize, convert, scale): its source, lineage edge and
    ``merged_from`` name that one parent."""
    ref, detail = parent
    done = _DONE[recipe.operation]
    return register_output(ctx, lora_set, recipe, source=f"{done}:{detail.name}",
                           lineage=[lineage_link(ref, detail, f"{done}-from", edge)], fmt=fmt, out=out,
                           inputs=inputs, merged_from=detail.name, started=started, raw=raw,
                           triggers=detail.triggers)  # fmt: skip
