"""``hub train`` (pictures -> a registered LoRA) and ``hub runs`` (the training runs): parse, call hub.train, print."""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from cli.output import console, print_json, result_line
from hub.train.options import LOOK

if TYPE_CHECKING:
    from hub.train.results import LogRow, TrainResult


def register(app: typer.Typer) -> None:
    app.command(name="train")(_train_command())
    app.command(name="runs")(runs)


@contextmanager
def _train_bar(enabled: bool) -> Iterator[tuple[Callable[[int, int], None] | None, Callable[[LogRow], None] | None]]:
    """(progress, on_step) drawing step/total, loss, it/s and time left on stderr (a terminal only)."""
    if not enabled or not sys.stderr.isatty():
        yield None, None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task("training", total=None, loss="-", rate="")

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            speed = bar.tasks[0].speed
            bar.update(task, rate=f"{speed:.2f} it/s" if speed else "")

        def on_step(row: LogRow) -> None:
            bar.update(task, loss=f"{row.loss:.4f}")

        yield progress, on_step


def _train_command() -> Callable[..., None]:
    """``train`` with one flag per declared option (hub.train.options): its type, help, default and panel."""
    from hub.train.options import REQUIRED, option_specs

    params = []
    for spec in option_specs():
        flags = f"{spec.flag}/{spec.off_flag}" if spec.is_switch else spec.flag
        kind = spec.type if spec.default is REQUIRED else spec.type | None
        if typing.get_origin(spec.type) is Literal or any(
            typing.get_origin(a) is Literal for a in typing.get_args(kind)
        ):
            kind = str | None  # choices are checked (and listed in the help) by hub.train, in one place
        option = typer.Option(flags, help=spec.help_text, rich_help_panel=spec.opt.panel, show_default=False)
        default = inspect.Parameter.empty if spec.default is REQUIRED else None
        params.append(inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=Annotated[kind, option]))  # fmt: skip
    run_id = typer.Option("--run-id", help="Id of the run folder. [time-based]", rich_help_panel=LOOK)
    json_out = typer.Option("--json", help="Print the result as JSON.")
    params += [
        inspect.Parameter(
            "run_id", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[str | None, run_id]
        ),
        inspect.Parameter(
            "json_out", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[bool, json_out]
        ),
    ]
    train.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    train.__annotations__ = {p.name: p.annotation for p in params}
    return train


def train(*, json_out: bool = False, **options: Any) -> None:
    """Train a LoRA (DreamBooth with prior preservation) on a folder of pictures and register it.

    Examples:

    \b
      hub train --images ./dog --token sks --class-word dog --preset cpu-tiny
      hub train --images dog.zip --token sks --class-word dog --base runwayml/stable-diffusion-v1-5 \\
          --preset cpu-tiny --prior-images 2 --sample-prompt "a sks dog on the beach" --sample-every 15
      hub train --images ./dog --token sks --class-word dog --preset cpu-tiny --resume latest
    """
    from cli.context import hub_context
    from hub.train.api import train as run_training

    with _train_bar(not json_out) as (progress, on_step):
        result = run_training(**options, progress=progress, on_step=on_step, ctx=hub_context())
    if result.process_index != 0:  # a distributed launch: the main process reports for all
        return
    if json_out:
        print_json(result)
        return
    _print_result(result)


def _print_result(r: TrainResult) -> None:
    a = r.adapter
    result_line(
        f"[green]registered[/green] {a.name}  [dim]{a.id}[/dim]  {a.format} rank {a.rank}  "
        f"{r.steps} steps  {r.seconds:.1f}s  loss {r.first_loss:.4f} -> {r.final_loss:.4f}"
    )
    skipped = f" ({r.skipped} non-picture files skipped)" if r.skipped else ""
    result_line(f"pictures: {r.images}{skipped}  class pictures: {r.class_images}")
    result_line(f"run: {r.run_dir}")
    if r.samples:
        result_line(f"samples: {r.samples[-1]}")
    result_line(f"loss curve: {r.loss_curve}")
    result_line(f"[dim]recipe: {r.command}[/dim]")


def runs(
    run_id: Annotated[str | None, typer.Argument(help="Show one run (its steps) instead of the list.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List training runs (newest first), or show one.

    Examples:

    \b
      hub runs
      hub runs 20260101-120000-ab12cd --json
    """
    from cli.context import hub_context
    from hub.train.api import list_runs, read_run

    if run_id:
        detail = read_run(run_id, ctx=hub_context())
        if json_out:
            print_json(detail)
            return
        i = detail.info
        result_line(f"{i.run_id}  {i.status}  {i.name or ''}  base {i.base}  step {i.step}/{i.total_steps}")
        if i.error:
            result_line(f"error: {i.error}")
        for row in detail.log[-10:]:
            result_line(f"  step {row.step:>6}  loss {row.loss:.5f}  lr {row.lr:.3g}  {row.seconds:.1f}s")
        for p in detail.samples[-1:]:
            result_line(f"samples: {p}")
        return
    infos = list_runs(ctx=hub_context())
    if json_out:
        print_json(infos)
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for col in ("run", "status", "adapter", "base", "step", "loss"):
        table.add_column(col, no_wrap=col in ("run", "status"), overflow="fold")
    for i in infos:
        loss = "-" if i.last_loss is None else f"{i.last_loss:.4f}"
        table.add_row(
            i.run_id, i.status, i.adapter_name or i.name or "", i.base[:18], f"{i.step}/{i.total_steps}", loss
        )
    console().print(table)
