"""Composition commands: mix, resize, convert, scale, fuse, extract (thin: parse, call hub.compose.api, print)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.context import hub_context
from cli.output import print_json, progress_bar, result_line
from cli.parsing import DASH_ARGUMENTS

if TYPE_CHECKING:  # results are pydantic models: building their classes would slow every `hub ls`
    from hub.compose.results import OutputResult, ReductionStats

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
NameOpt = Annotated[str | None, typer.Option("--name", help="Registry name of the output (default: derived).")]
OutOpt = Annotated[str | None, typer.Option("--out", help="Also write the output file here (file or folder).")]
FormatOpt = Annotated[str, typer.Option("--format", help="Output format: kohya (default) or diffusers.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA when present), cpu or cuda.")]
DtypeOpt = Annotated[str | None, typer.Option("--dtype", help="Output dtype: float32, float16, bfloat16.")]
BaseOpt = Annotated[
    str | None,
    typer.Option("--base", help="The base the adapters are for (folder, .safetensors, HF id or tiny): its modules "
                 "place kohya names (needed for diffusers output of a base hub has no table of)."),
]  # fmt: skip


def register(app: typer.Typer) -> None:
    for command in (mix, resize, convert, scale, fuse, extract):
        settings = DASH_ARGUMENTS if command is scale else None  # `hub scale NAME -0.5`
        app.command(name=command.__name__, context_settings=settings)(command)


def _print_output(result: OutputResult, json_out: bool, extra: str = "") -> None:
    if json_out:
        print_json(result)
        return
    a = result.adapter
    ranks = ",".join(map(str, result.ranks[:6])) + ("…" if len(result.ranks) > 6 else "")
    result_line(f"[green]registered[/green] {a.name}  [dim]{a.id}[/dim]  {a.format} {a.arch}  rank {ranks}  "
            f"{result.modules} modules  {result.seconds:.2f}s{extra}")  # fmt: skip
    if result.out:
        result_line(f"wrote {result.out}")
    result_line(f"[dim]recipe: {result.command}[/dim]")


def _kept(stats: ReductionStats | None) -> str:
    if stats is None or stats.mean_kept is None:
        return ""
    return f"  kept fro mean {stats.mean_kept:.4f} min {stats.min_kept:.4f}"


def mix(
    specs: Annotated[list[str], typer.Argument(help="Adapters with weights: NAME[:WEIGHT] (weight defaults to 1).")],
    method: Annotated[str, typer.Option("--method", "-m", help="concat (exact), svd, ties or dare.")] = "concat",
    rank: Annotated[str | None, typer.Option("--rank", "-r", help="Output rank (svd/ties/dare), or 'auto'.")] = None,
    dynamic: Annotated[
        str | None, typer.Option("--dynamic", help="Per-module rank rule: sv_fro:0.9, sv_ratio:4, sv_cumulative:0.9.")
    ] = None,
    density: Annotated[float | None, typer.Option("--density", help="ties/dare: fraction kept (0.5).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="dare: random seed.")] = 0,
    name: NameOpt = None,
    out: OutOpt = None,
    fmt: FormatOpt = "kohya",
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = None,
    base: BaseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Merge adapters into a new one and register it with lineage.

    Examples:

    \b
      hub mix dog:0.7 style:0.5                       # exact stack (rank = sum of ranks)
      hub mix dog:0.7 style:0.5 --method svd --rank 32
      hub mix a b c:-0.3 --method ties --density 0.4 --rank auto
    """
    from hub.compose import api as compose

    with progress_bar("mixing") as progress:
        result = compose.mix(
            specs,
            method=method,
            rank=rank,
            dynamic=dynamic,
            density=density,
            seed=seed,
            name=name,
            out=out,
            fmt=fmt,
            device=device,
            dtype=dtype,
            progress=progress,
            base=base,
            ctx=hub_context(),
        )
    _print_output(result, json_out, _kept(result.reduction))


def resize(
    ref: Annotated[str, typer.Argument(help="Adapter (name, id, hash or path).")],
    rank: Annotated[int | None, typer.Option("--rank", "-r", help="New rank (cap for --dynamic).")] = None,
    dynamic: Annotated[
        str | None, typer.Option("--dynamic", help="sv_fro:0.9, sv_ratio:4 or sv_cumulative:0.9.")
    ] = None,
    conv_rank: Annotated[int | None, typer.Option("--conv-rank", help="Rank of 3x3 convs (default: --rank).")] = None,
    name: NameOpt = None,
    out: OutOpt = None,
    fmt: FormatOpt = "kohya",
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print the kept energy of every module.")] = False,
    base: BaseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Rank-reduce an adapter (best approximation per module; alpha/rank kept) and report the kept energy."""
    from hub.compose import api as compose

    with progress_bar("resizing") as progress:
        result = compose.resize(
            ref,
            rank=rank,
            dynamic=dynamic,
            conv_rank=conv_rank,
            name=name,
            out=out,
            fmt=fmt,
            device=device,
            dtype=dtype,
            progress=progress,
            base=base,
            ctx=hub_context(),
        )
    if verbose and not json_out:
        from cli.output import console

        table = console()
        for key, kept in result.reduction.kept.items():
            table.print(f"{result.reduction.ranks[key]:>4}  {kept:.4f}  {key}")
    _print_output(result, json_out, _kept(result.reduction))


def convert(
    ref: Annotated[str, typer.Argument(help="Adapter (name, id, hash or path).")],
    to: Annotated[str, typer.Option("--to", help="kohya or diffusers.")],
    rank: Annotated[
        int | None,
        typer.Option(
            "--rank",
            "-r",
            help="LyCORIS to diffusers: the rank to expand to (default: per module, keep 99% of the Frobenius "
            "norm; refused past 8x the file's size).",
        ),
    ] = None,
    name: NameOpt = None,
    out: OutOpt = None,
    dtype: DtypeOpt = None,
    base: BaseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Rewrite an adapter in another format (kohya for A1111/ComfyUI, diffusers/PEFT); every LoRA delta kept,
    a LyCORIS file kept as it is for kohya and expanded by kept energy for diffusers."""
    from hub.compose import api as compose

    result = compose.convert(ref, to=to, rank=rank, name=name, out=out, dtype=dtype, base=base, ctx=hub_context())
    exp = result.expansion
    extra = ""
    if exp is not None:
        extra = (f"\nexpanded LyCORIS to rank <= {exp.rank}: kept fro mean {exp.mean_kept:.4f} min "
                 f"{exp.min_kept:.4f}; {exp.bytes_in:,} -> {exp.bytes_out:,} bytes ({exp.growth:.1f}x)")  # fmt: skip
    _print_output(result, json_out, extra)


def scale(
    ref: Annotated[str, typer.Argument(help="Adapter (name, id, hash or path).")],
    weight: Annotated[float, typer.Argument(help="Multiplier of every delta (negative allowed).")],
    name: NameOpt = None,
    out: OutOpt = None,
    fmt: FormatOpt = "kohya",
    dtype: DtypeOpt = None,
    base: BaseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Multiply an adapter's strength (folded into alpha; exact)."""
    from hub.compose import api as compose

    _print_output(
        compose.scale(ref, weight, name=name, out=out, fmt=fmt, dtype=dtype, base=base, ctx=hub_context()), json_out
    )


def fuse(
    base: Annotated[str, typer.Argument(help="Base model: diffusers folder, single .safetensors file or HF id.")],
    specs: Annotated[list[str], typer.Argument(help="Adapters with weights: NAME[:WEIGHT].")],
    out: Annotated[str, typer.Option("--out", help="Output folder (diffusers base) or .safetensors file.")],
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Merge adapters into a base model's weights and write a full model, tensor by tensor.

    Examples:

    \b
      hub fuse ./sd15-diffusers dog:0.7 style:0.5 --out ./sd15-dog
      hub fuse v1-5-pruned.safetensors dog:0.8 --out dog-fused.safetensors
    """
    from hub.compose import api as compose

    with progress_bar("fusing") as progress:
        result = compose.fuse(base, specs, out=out, device=device, dtype=dtype, progress=progress, ctx=hub_context())
    if json_out:
        print_json(result)
        return
    result_line(f"[green]fused[/green] {result.modules_fused} modules into {result.layout} model at {result.out} "
            f"({result.tensors_written} tensors rewritten, {result.device}, {result.seconds:.2f}s)")  # fmt: skip


def extract(
    base: Annotated[str, typer.Option("--base", help="The original model (folder, .safetensors or HF id).")],
    tuned: Annotated[str, typer.Option("--tuned", help="The fine-tuned model.")],
    rank: Annotated[int, typer.Option("--rank", "-r", help="LoRA rank.")] = 32,
    conv_rank: Annotated[int | None, typer.Option("--conv-rank", help="Also extract 3x3 convs at this rank.")] = None,
    dynamic: Annotated[str | None, typer.Option("--dynamic", help="Per-module rank rule, capped at --rank.")] = None,
    min_diff: Annotated[float, typer.Option("--min-diff", help="Skip text encoders with max |ΔW| <= this.")] = 0.01,
    clamp_quantile: Annotated[
        float | None, typer.Option("--clamp-quantile", help="Clamp factors to this quantile (kohya: 0.99).")
    ] = None,
    name: NameOpt = None,
    out: OutOpt = None,
    fmt: FormatOpt = "kohya",
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Extract a LoRA approximating the difference of two models (kohya's extract_lora_from_models)."""
    from hub.compose import api as compose

    with progress_bar("extracting") as progress:
        result = compose.extract(
            base=base,
            tuned=tuned,
            rank=rank,
            conv_rank=conv_rank,
            dynamic=dynamic,
            min_diff=min_diff,
            clamp_quantile=clamp_quantile,
            name=name,
            out=out,
            fmt=fmt,
            device=device,
            dtype=dtype,
            progress=progress,
            ctx=hub_context(),
        )
    _print_output(result, json_out, _kept(result.reduction))
