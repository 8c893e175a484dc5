"""``hub demo``: the main job on the embedded default, offline."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import hub_context
from cli.output import message, print_json, progress_bar, result_line


def register(app: typer.Typer) -> None:
    app.command(name="demo")(demo)


def demo(
    base: Annotated[str, typer.Option(help="Base model; 'tiny' is the embedded offline one.")] = "tiny",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Import sample adapters for the tiny base, teach it a subject (a LoRA on drawn pictures of an orange ball),
    render it before and after and over the LoRA's weight, mix it with a sample, list them.

    Everything happens in the demo's own registry (<home>/demo), rebuilt on every run: yours is untouched.

    Examples:

    \b
      hub demo --base tiny
    """
    from cli.commands.registry import _report, print_table
    from hub.demo import run_demo

    message("building the tiny base and sample adapters (offline)…")
    with progress_bar("importing, then training") as update:  # one bar: rich draws one live display at a time
        result = run_demo(base=base, progress=update, train_progress=update, ctx=hub_context())
    if json_out:
        print_json(result)
        return
    result_line(f"demo registry: {result.home} (its own: your registry is untouched)")
    result_line(f"base: {result.base_dir}")
    result_line(f"samples: {result.samples_dir}")
    _report(result.report, json_out=False)
    first, last = result.train_loss
    result_line(f"trained [bold]{result.trained.name}[/] on {result.subject_dir} (an orange ball, bound to sks) in "
            f"{result.train_seconds:.1f} s (loss {first:.4f} -> {last:.4f}); run folder with loss curve and samples: "
            f"{result.run_dir}")  # fmt: skip
    result_line(f"[dim]retrain: hub --home {result.home} {result.train_command.removeprefix('hub ')}[/]")
    result_line(f'"{result.prompt}": an orange ball in {result.subject_before:.0%} of the pictures before the LoRA, '
            f"{result.subject_after:.0%} after")  # fmt: skip
    result_line(f"before/after: {result.before_after}")
    result_line(f"weight grid (LoRA weight 0 to 1, left to right): {result.weight_grid}")
    if result.mixed and result.mix_command:
        result_line(
            f"mixed it with a sample into [bold]{result.mixed.name}[/] (rank {result.mixed.rank}, lineage kept)"
        )
        result_line(f"[dim]rebuild: hub --home {result.home} {result.mix_command.removeprefix('hub ')}[/]")
    print_table(result.adapters)
    result_line(f"look at it again: hub --home {result.home} ls   (`hub demo` rebuilds it from scratch)")
    result_line(f"the pictures: {result.pictures_dir}")
