"""What a composition reads, and how it names what it read.

Inputs are registry references (name, id, hash prefix) or file paths, with a weight (``NAME[:WEIGHT]``). They are
resolved and checked against the registry before any tensor is read, then loaded as :class:`LoraSet`. An input is
named again three ways once the output exists: in the recipe (a hash prefix, which survives renames), in the
lineage (the registry name, or the absolute path of a file) and in the result (the reference as given).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.compose.recipe import RecipeInput
from hub.compose.results import ParentUse
from hub.context import Context
from hub.errors import BadFileError, IncompatibleError, NotFoundError, UnsupportedFormatError, UsageError
from hub.models import AdapterDetail, ParentLink
from hub.refs import parse_spec

if TYPE_CHECKING:
    from hub.formats.lora_set import LoraSet
    from hub.formats.module_tables import ModuleTable

Loaded = tuple[str, float, AdapterDetail, "LoraSet"]  # (reference as given, weight, registry entry, adapter)


def resolve_adapter(ctx: Context, ref: str) -> AdapterDetail:
    """The registry entry (or probed file) of ``ref``, checked loadable; reads no tensor."""
    from hub.registry.api import resolve

    detail = resolve(ref, ctx=ctx)
    if detail.kind == "embedding":
        raise IncompatibleError(
            f"'{detail.name}' is a textual-inversion embedding, not a LoRA: it has no weights to merge",
            hint="use it in the prompt by its trigger; mix/resize/fuse take LoRA and LyCORIS adapters",
        )
    if not detail.usable:
        raise UnsupportedFormatError(f"'{detail.name}' ({detail.format}) cannot be loaded yet: {detail.note}")
    return detail


def load_adapter(detail: AdapterDetail, table: ModuleTable | None = None) -> LoraSet:
    from hub.formats.load import load_lora_set

    arch = detail.arch if detail.arch != "unknown" else None
    # A stored file's name is its hash: errors name the adapter the user asked for instead.
    label = f"'{detail.name}'" if detail.id else None
    try:
        return load_lora_set(detail.path, arch=arch, label=label, table=table)
    except BadFileError as e:
        if not (detail.stored and e.path == str(detail.path)):
            raise
        # The registry checked this file when it was added: a bad copy now means the store was damaged since.
        reason = e.message.removeprefix(f"{e.path}: ")
        raise BadFileError(
            f"the registry's stored copy of {label} is damaged: {reason}",
            hint=f"`hub verify {detail.name}` compares it with the hash recorded when it was added",
        ) from e


def load_one(ctx: Context, ref: str, table: ModuleTable | None = None) -> tuple[AdapterDetail, LoraSet]:
    detail = resolve_adapter(ctx, ref)
    return detail, load_adapter(detail, table)


def base_table(ctx: Context, base: str | None) -> ModuleTable | None:
    """The modules of the user's base, read from its files (safetensors headers), to place kohya names on."""
    if base is None:
        return None
    from hub.bases.api import resolve_base
    from hub.compose.model_files import open_base

    return open_base(resolve_base(base, paths=ctx.paths)).module_table(name=base)


def _resolve_spec(ctx: Context, ref: str) -> AdapterDetail:
    """``resolve_adapter`` of one NAME[:WEIGHT] reference; a ``name:word`` whose name exists is a weight that is
    not a number (a usage error), not a missing adapter."""
    from hub.registry.api import resolve

    try:
        return resolve_adapter(ctx, ref)
    except NotFoundError:
        head, sep, tail = ref.rpartition(":")
        if sep and head:
            try:
                resolve(head, ctx=ctx)
            except NotFoundError:
                pass
            else:
                raise UsageError(
                    f"the weight in '{ref}' is not a number: '{tail}'", hint=f"NAME[:WEIGHT], e.g. {head}:0.7"
                ) from None
        raise


def _check_archs(details: Sequence[AdapterDetail], refs: Sequence[str]) -> None:
    """Adapters for different bases are refused from their registry rows, before any tensor is read."""
    archs: dict[str, str] = {}
    for ref, d in zip(refs, details, strict=True):
        if d.arch != "unknown":
            archs.setdefault(d.arch, d.name if d.id else Path(ref).name)
    if len(archs) > 1:
        named = ", ".join(f"'{name}' is {arch}" for arch, name in sorted(archs.items()))
        raise IncompatibleError(
            f"cannot combine adapters for different base models: {' + '.join(sorted(archs))} ({named})",
            hint="mix only adapters trained on the same architecture (hub ls --arch ...)",
        )


def load_weighted(
    ctx: Context,
    specs: Sequence[str | tuple[str, float]],
    verb: str,
    hint: str,
    table: ModuleTable | None = None,
    *,
    several: bool = False,
) -> list[Loaded]:
    """``several``: at least two different adapters (a mix of one, or of one twice, is a scale in disguise)."""
    pairs = [parse_spec(s) if isinstance(s, str) else (s[0], float(s[1])) for s in specs]
    if not pairs:
        raise UsageError(f"nothing to {verb}", hint=hint)
    if several and len(pairs) == 1:
        ref, w = pairs[0]
        raise UsageError(
            f"{verb} needs two adapters or more, got only '{ref}'",
            hint=f"one adapter at a weight is `hub scale {ref} {w:g}`; {hint}",
        )
    # Every name is resolved and every arch checked from the registry before the first (slow) load.
    details = [_resolve_spec(ctx, ref) for ref, _ in pairs]
    if several:
        _refuse_repeats(pairs, details, verb)
    _check_archs(details, [ref for ref, _ in pairs])
    return [(ref, w, d, load_adapter(d, table)) for (ref, w), d in zip(pairs, details, strict=True)]


def _refuse_repeats(pairs: list[tuple[str, float]], details: list[AdapterDetail], verb: str) -> None:
    seen: dict[str, tuple[str, float]] = {}
    for (ref, w), d in zip(pairs, details, strict=True):
        key = d.id or d.sha256 or str(Path(ref).resolve())
        if key in seen:
            first, w0 = seen[key]
            same = f"'{first}' and '{ref}' are the same adapter" if first != ref else f"'{ref}' is given twice"
            raise UsageError(
                f"{verb}: {same} ({d.name})",
                hint=f"give it once with the summed weight, e.g. `{d.name}:{w0 + w:g}`",
            )
        seen[key] = (ref, w)


# ---------------------------------------------------------------- an input, named again


def parent_use(ref: str, detail: AdapterDetail, weight: float = 1.0) -> ParentUse:
    """In the result: the reference as the user gave it."""
    return ParentUse(ref=ref, adapter_id=detail.id or None, name=detail.name, weight=weight)


def recipe_input(ref: str, detail: AdapterDetail, weight: float = 1.0) -> RecipeInput:
    """In the recipe: a hash prefix resolves the same bytes however the entry is renamed later; a path stays a
    path."""
    return RecipeInput(ref=detail.sha256[:12] if detail.id and detail.sha256 else ref, weight=weight)


def lineage_link(ref: str, detail: AdapterDetail, operation: str, params: dict[str, Any]) -> ParentLink:
    """In the lineage: the registry row, or the absolute path of a file that is not registered."""
    return ParentLink(
        parent_ref=detail.name if detail.id else str(Path(ref).absolute()),
        operation=operation,
        params=params,
        parent_id=detail.id or None,
    )
