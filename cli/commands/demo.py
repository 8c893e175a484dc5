"""``hub demo``: the main job on the embedded default, offline."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import hub_context
from cli.output import message, print_json, progress_bar


def register(app: typer.Typer) -> None:
    app.command(name="demo")(demo)


def demo(
    base: Annotated[str, typer.Option(help="Base model; 'tiny' is the embedded offline one.")] = "tiny",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Generate sample adapters for the tiny base, import them into the registry, and list them.

    Examples:

    \b
      hub demo --base tiny
    """
    from cli.commands.registry import _report, print_table
    from hub.demo import run_demo

    message("building the tiny base and sample adapters (offline)…")
    with progress_bar("importing") as update:
        result = run_demo(base=base, progress=update, ctx=hub_context())
    if json_out:
        print_json(result)
        return
    message(f"demo registry: {result.home} (its own: your registry is untouched)")
    message(f"base: {result.base_dir}")
    message(f"samples: {result.samples_dir}")
    _report(result.report, json_out=False)
    if result.mixed:
        message(f"mixed two samples into [bold]{result.mixed.name}[/] (rank {result.mixed.rank}, lineage recorded)")
        message(f"[dim]rebuild: hub --home {result.home} {result.mix_command.removeprefix('hub ')}[/]")
    print_table(result.adapters)
    message(f"look at it again: hub --home {result.home} ls   (`hub demo` rebuilds it from scratch)")
