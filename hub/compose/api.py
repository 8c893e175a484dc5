"""The composition engine's verbs: mix, resize, convert, scale, fuse, extract (``hub <verb>``).

Inputs are registry references (name, id, hash prefix) or file paths (read by :mod:`hub.compose.inputs`); every
adapter produced is written in kohya (default) or diffusers format, registered with lineage edges to its parents and
a recipe holding the exact ``hub`` command that rebuilds it, and optionally copied to ``out``. The maths is in
:mod:`hub.compose.ops`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hub.bases.devices import resolve_device, resolve_dtype
from hub.compose.inputs import (
    base_table,
    lineage_link,
    load_adapter,
    load_one,
    load_weighted,
    parent_use,
    recipe_input,
    resolve_adapter,
)
from hub.compose.output import FORMATS, register_one, register_output
from hub.compose.recipe import Recipe, RecipeInput, output_params
from hub.compose.results import (
    ConvertResult,
    ExpansionStats,
    ExtractResult,
    FuseResult,
    MixResult,
    ReductionStats,
    ResizeResult,
    ScaleResult,
)
from hub.context import Context, using
from hub.errors import UsageError
from hub.models import ParentLink, Progress

if TYPE_CHECKING:
    from hub.compose.ops import Reduction
    from hub.formats.lora_set import LoraModule, LoraSet

DEFAULT_AUTO_RULE = "sv_fro:0.99"


# ---------------------------------------------------------------- helpers


def _counter(progress: Progress | None, total: int) -> Callable[[str], None] | None:
    if progress is None:
        return None
    done = [0]

    def tick(_key: str) -> None:
        done[0] += 1
        progress(done[0], total)

    return tick


def _stats(red: Reduction) -> ReductionStats:
    kept = list(red.kept.values())
    return ReductionStats(
        kept={k: round(v, 6) for k, v in red.kept.items()},
        ranks=dict(red.ranks),
        mean_kept=sum(kept) / len(kept) if kept else None,
        min_kept=min(kept) if kept else None,
    )


def _parse_rank(rank: int | str | None) -> int | Literal["auto"] | None:
    """``--rank`` as given (a number, "auto" or nothing): parsed here, once, for the CLI and Python alike."""
    if rank is None or rank == "auto" or isinstance(rank, int):
        return rank  # type: ignore[return-value]
    try:
        return int(rank)
    except ValueError:
        raise UsageError(f"--rank wants an integer or 'auto', got {rank!r}") from None


# ---------------------------------------------------------------- operations


def mix(
    specs: Sequence[str | tuple[str, float]],
    *,
    method: str = "concat",
    rank: int | str | None = None,
    dynamic: str | None = None,
    density: float | None = None,
    seed: int = 0,
    name: str | None = None,
    out: str | Path | None = None,
    fmt: str = "kohya",
    device: str = "auto",
    dtype: str | None = None,
    progress: Progress | None = None,
    base: str | None = None,
    ctx: Context | None = None,
) -> MixResult:
    """Combine adapters by one of :data:`hub.compose.methods.MERGE_METHODS`: ``concat`` (exact), ``svd`` (best
    rank-R approximation of Σ w_i ΔW_i), ``ties``/``dare`` (PEFT semantics, then SVD to the rank).
    ``rank="auto"`` picks each module's rank by ``dynamic`` (default ``sv_fro:0.99``)."""
    from hub.compose import ops
    from hub.compose.methods import DEFAULT_DENSITY, MERGE_METHODS, MixParams

    chosen = MERGE_METHODS.get(method)
    if chosen is None:
        raise UsageError(f"unknown method {method!r}", hint=f"one of {', '.join(MERGE_METHODS)}")
    wanted = _parse_rank(rank)
    rule = ops.Dynamic.parse(dynamic) if dynamic else None
    if wanted == "auto":
        rule = rule or ops.Dynamic.parse(DEFAULT_AUTO_RULE)
    if not chosen.reduces and (wanted is not None or rule is not None):
        raise UsageError(f"--method {method} is exact and keeps rank = Σ ranks", hint="use --method svd to set a rank")
    with using(ctx) as c:
        started = time.perf_counter()
        loaded = load_weighted(c, specs, "mix", hint="hub mix A:0.7 B:0.5", table=base_table(c, base), several=True)
        weighted = [(lora_set, w) for _, w, _, lora_set in loaded]
        rank_cap = wanted if isinstance(wanted, int) else None
        if chosen.reduces and rank_cap is None and rule is None:
            rank_cap = max(m.rank for s, _ in weighted for m in s.modules.values())  # PEFT's default: the max rank
        params = MixParams(
            rank=rank_cap,
            dynamic=rule,
            density=density or DEFAULT_DENSITY,
            seed=seed,
            device=resolve_device(device),
            tick=_counter(progress, len({k for s, _ in weighted for k in s.modules})),
        )
        merged = chosen.run(weighted, params)
        reduction = merged if isinstance(merged, ops.Reduction) else None
        names = [d.name for _, _, d, _ in loaded]
        out_name = name or "mix-" + "-".join(n[:24] for n in names) + f"-{method}"
        recipe = Recipe(
            operation="mix",
            inputs=[recipe_input(r, d, w) for r, w, d, _ in loaded],
            params={
                "method": method,
                "rank": wanted,
                "dynamic": str(rule) if rule and wanted != "auto" else None,
                "density": params.density if chosen.uses_density else None,
                "seed": seed if chosen.uses_seed else None,
                "base": base,
                **output_params(fmt, dtype, out_name),
            },
        )
        edge: dict[str, Any] = {"method": method, "rank": "auto" if wanted == "auto" else rank_cap}
        if rule:
            edge["dynamic"] = str(rule)
        if chosen.uses_density:
            edge["density"] = params.density
        written = register_output(
            c,
            reduction.lora_set if reduction else merged,  # type: ignore[arg-type]
            recipe,
            source=f"mixed:{method}",
            lineage=[lineage_link(r, d, "mixed-from", {"weight": w, **edge}) for r, w, d, _ in loaded],
            fmt=fmt,
            out=out,
            inputs=[s for s, _ in weighted],
            merged_from=", ".join(f"{n}:{w:g}" for n, (_, w) in zip(names, weighted, strict=True)),
            started=started,
            triggers=list(dict.fromkeys(t for _, _, d, _ in loaded for t in d.triggers)),  # each parent's words
        )
        return MixResult(
            **dict(written),
            method=method,
            rank="auto" if wanted == "auto" else rank_cap,
            parents=[parent_use(r, d, w) for r, w, d, _ in loaded],
            reduction=_stats(reduction) if reduction else None,
        )


def resize(
    ref: str,
    *,
    rank: int | None = None,
    dynamic: str | None = None,
    conv_rank: int | None = None,
    name: str | None = None,
    out: str | Path | None = None,
    fmt: str = "kohya",
    device: str = "auto",
    dtype: str | None = None,
    progress: Progress | None = None,
    base: str | None = None,
    ctx: Context | None = None,
) -> ResizeResult:
    """Rank-reduce one adapter (kohya resize_lora: alpha/r kept); reports the Frobenius fraction kept per module."""
    from hub.compose import ops

    with using(ctx) as c:
        started = time.perf_counter()
        detail, lora_set = load_one(c, ref, base_table(c, base))
        rule = ops.Dynamic.parse(dynamic) if dynamic else None
        if rule is None and rank is not None:
            _refuse_a_resize_that_reduces_nothing(detail.name, lora_set, rank, conv_rank)
        red = ops.resize(lora_set, rank, dynamic=rule, conv_rank=conv_rank, device=resolve_device(device),
                         progress=_counter(progress, len(lora_set.modules)))  # fmt: skip
        label = f"r{rank}" if rule is None else str(rule).replace(":", "")
        out_name = name or f"{detail.name}-{label}"
        recipe = Recipe(
            operation="resize",
            inputs=[recipe_input(ref, detail)],
            params={"rank": rank, "dynamic": str(rule) if rule else None, "conv_rank": conv_rank or None,
                    "base": base, **output_params(fmt, dtype, out_name)},
        )  # fmt: skip
        edge = {"rank": rank, "dynamic": str(rule) if rule else None}
        written = register_one(c, red.lora_set, recipe, (ref, detail), edge, fmt=fmt, out=out, inputs=[lora_set],
                               started=started)  # fmt: skip
        return ResizeResult(**dict(written), parent=parent_use(ref, detail), rank=rank,
                            dynamic=str(rule) if rule else None, reduction=_stats(red))  # fmt: skip


def _refuse_a_resize_that_reduces_nothing(name: str, lora_set: LoraSet, rank: int, conv_rank: int | None) -> None:
    """``resize --rank 99`` of a rank-4 adapter would register ``NAME-r99`` still at rank 4: refused, not done."""

    from hub.compose.ops import rank_for

    def target(m: LoraModule) -> int:
        return rank_for(tuple(m.weight_shape), rank, conv_rank) or rank

    if all(m.rank <= target(m) for m in lora_set.modules.values()):
        highest = max((m.rank for m in lora_set.modules.values()), default=0)
        raise UsageError(
            f"'{name}' is rank {highest}: --rank {rank} would change nothing (resize only lowers a rank)",
            hint=f"a rank below {highest}, e.g. `hub resize {name} --rank {max(1, highest // 2)}`",
        )


def convert(
    ref: str,
    *,
    to: str,
    rank: int | None = None,
    name: str | None = None,
    out: str | Path | None = None,
    dtype: str | None = None,
    base: str | None = None,
    ctx: Context | None = None,
) -> ConvertResult:
    """Rewrite one adapter in another format. Plain LoRA: every delta preserved. A kohya-named LyCORIS file to
    kohya: its LoHa/LoKr tensors written as they are. A LyCORIS file to diffusers: expanded to LoRA factors of the
    rank keeping 99% of each module's Frobenius norm (or ``rank``), refused past 8x the source's size without
    ``rank`` (see :func:`hub.formats.convert.expand_lycoris`)."""
    from hub.formats.convert import expand_lycoris, lycoris_passthrough

    if to not in FORMATS:
        raise UsageError(f"cannot convert to {to!r}", hint="--to kohya or --to diffusers")
    if rank is not None and rank < 1:
        raise UsageError(f"--rank must be at least 1, got {rank}")
    with using(ctx) as c:
        started = time.perf_counter()
        detail = resolve_adapter(c, ref)
        lycoris = detail.format.startswith("lycoris")
        if rank is not None and not (lycoris and to != "kohya"):
            raise UsageError("--rank sets the rank a LyCORIS file is expanded to (--to diffusers); this conversion "
                             "keeps every delta exactly", hint=f"hub resize {ref} --rank {rank}")  # fmt: skip
        out_name = name or f"{detail.name}-{to}"
        recipe = Recipe(operation="convert", inputs=[recipe_input(ref, detail)],
                        params={"to": to, "rank": rank, "base": base,
                                **output_params("kohya", dtype, out_name)})  # fmt: skip
        lora_set, raw, expansion = None, None, None
        if lycoris and to == "kohya":
            raw = lycoris_passthrough(detail.path)
        elif lycoris:
            lora_set, expansion = expand_lycoris(
                detail.path,
                rank=rank,
                dtype=resolve_dtype(dtype),
                label=f"'{detail.name}'" if detail.id else None,
                arch=detail.arch if detail.arch != "unknown" else None,
                table=base_table(c, base),
                rank_hint=f"hub convert {ref} --to {to} --rank N",
            )
        else:
            lora_set = load_adapter(detail, base_table(c, base))
        written = register_one(c, lora_set, recipe, (ref, detail), {"to": to, "rank": rank}, fmt=to, out=out,
                               inputs=[lora_set] if lora_set else [], started=started, raw=raw)  # fmt: skip
        expanded = None
        if expansion is not None:
            expanded = ExpansionStats(rank=expansion.rank, keep=expansion.keep, mean_kept=expansion.mean_kept,
                                      min_kept=expansion.min_kept, bytes_in=expansion.bytes_in,
                                      bytes_out=Path(written.adapter.path).stat().st_size)  # fmt: skip
        return ConvertResult(**dict(written), parent=parent_use(ref, detail), to=to, expansion=expanded)


def scale(
    ref: str,
    weight: float,
    *,
    name: str | None = None,
    out: str | Path | None = None,
    fmt: str = "kohya",
    dtype: str | None = None,
    base: str | None = None,
    ctx: Context | None = None,
) -> ScaleResult:
    """Multiply an adapter's deltas by ``weight`` (exact: folded into alpha)."""
    from hub.compose import ops

    with using(ctx) as c:
        started = time.perf_counter()
        detail, lora_set = load_one(c, ref, base_table(c, base))
        out_name = name or f"{detail.name}-x{weight:g}"
        recipe = Recipe(operation="scale", inputs=[recipe_input(ref, detail, weight)],
                        params={"base": base, **output_params(fmt, dtype, out_name)})  # fmt: skip
        written = register_one(c, ops.scale(lora_set, weight), recipe, (ref, detail), {"weight": weight}, fmt=fmt,
                               out=out, inputs=[lora_set], started=started)  # fmt: skip
        return ScaleResult(**dict(written), parent=parent_use(ref, detail), weight=weight)


def fuse(
    base: str,
    specs: Sequence[str | tuple[str, float]],
    *,
    out: str | Path,
    device: str = "auto",
    dtype: str | None = None,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> FuseResult:
    """Merge the adapters into ``base`` (diffusers folder, single .safetensors or HF id) and write a full model."""
    from hub.bases.api import resolve_base
    from hub.compose.fuse import check_out, fuse_into
    from hub.compose.model_files import open_base

    with using(ctx) as c:
        started = time.perf_counter()
        model = open_base(resolve_base(base, paths=c.paths))
        check_out(model, Path(out).expanduser())  # before any adapter is read
        table = model.module_table(name=base)
        loaded = load_weighted(c, specs, "fuse", hint="hub fuse BASE A:0.7 --out DIR", table=table)
        dev = resolve_device(device)
        total = sum(len(s.modules) for *_, s in loaded)
        report = fuse_into(model, [(s, w) for _, w, _, s in loaded], Path(out).expanduser(), device=dev,
                           dtype=resolve_dtype(dtype), progress=_counter(progress, total))  # fmt: skip
        return FuseResult(
            base=base,
            out=str(report.out),
            layout=report.layout,
            parents=[parent_use(r, d, w) for r, w, d, _ in loaded],
            modules_fused=report.modules_fused,
            tensors_written=report.tensors_written,
            files=report.files_written,
            device=str(dev),
            seconds=round(time.perf_counter() - started, 3),
        )


def extract(
    *,
    base: str,
    tuned: str,
    rank: int,
    conv_rank: int | None = None,
    dynamic: str | None = None,
    min_diff: float = 0.01,
    clamp_quantile: float | None = None,
    name: str | None = None,
    out: str | Path | None = None,
    fmt: str = "kohya",
    device: str = "auto",
    dtype: str | None = None,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> ExtractResult:
    """A LoRA approximating ``tuned − base`` (kohya's extract), registered with lineage to both models."""
    from hub.bases.api import resolve_base
    from hub.compose import ops
    from hub.compose.extract import extract_models
    from hub.compose.model_files import detect_arch, open_base

    with using(ctx) as c:
        started = time.perf_counter()
        b, t = open_base(resolve_base(base, paths=c.paths)), open_base(resolve_base(tuned, paths=c.paths))
        rule = ops.Dynamic.parse(dynamic) if dynamic else None
        tick = _counter(progress, len(b.module_keys()))
        red = extract_models(b, t, rank, conv_rank=conv_rank, dynamic=rule, min_diff=min_diff,
                             clamp_quantile=clamp_quantile, device=resolve_device(device), arch=detect_arch(b),
                             progress=tick)  # fmt: skip
        out_name = name or f"extract-{Path(tuned).name}-r{rank}"
        recipe = Recipe(
            operation="extract",
            inputs=[RecipeInput(ref=base, role="base"), RecipeInput(ref=tuned, role="tuned")],
            params={
                "rank": rank,
                "conv_rank": conv_rank or None,
                "dynamic": str(rule) if rule else None,
                "min_diff": min_diff if min_diff != 0.01 else None,
                "clamp_quantile": clamp_quantile or None,
                **output_params(fmt, dtype, out_name),
            },
        )
        edge = {"rank": rank, "conv_rank": conv_rank}
        lineage = [
            ParentLink(parent_ref=base, operation="extracted-from", params={**edge, "role": "base"}),
            ParentLink(parent_ref=tuned, operation="extracted-from", params={**edge, "role": "tuned"}),
        ]
        written = register_output(c, red.lora_set, recipe, source=f"extracted:{base}..{tuned}", lineage=lineage,
                                  fmt=fmt, out=out, inputs=[], merged_from=f"{base}..{tuned}",
                                  started=started)  # fmt: skip
        return ExtractResult(**dict(written), base=base, tuned=tuned, rank=rank, reduction=_stats(red))
