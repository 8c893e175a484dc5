"""Printing: rich tables for people, JSON for scripts, progress bars on stderr.

rich is imported only when something is drawn, so ``hub ls --json`` never pays for it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # pydantic is imported when something is printed, not when a command module loads
    from pydantic import BaseModel


def print_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any] | list[Any]) -> None:
    from pydantic import BaseModel, TypeAdapter

    if isinstance(value, BaseModel):
        sys.stdout.write(value.model_dump_json(indent=2) + "\n")
        return
    if isinstance(value, list | tuple) and all(isinstance(v, BaseModel) for v in value):
        # The list's item type is only known at run time; pydantic then serialises it as the model does.
        item_type = type(value[0]) if value else Any
        adapter: TypeAdapter[list[Any]] = TypeAdapter(cast(Any, list)[item_type])
        sys.stdout.write(adapter.dump_json(list(value), indent=2).decode() + "\n")
        return
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich exits 1 when the reader went away (`hub ls | head -1`); cli.app.main ends quietly with 0.
            raise BrokenPipeError

    stream = sys.stderr if stderr else sys.stdout
    # $COLUMNS wins (scripts, tests); a terminal says its width; piped output has none, and 80 would cut tables.
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else None if stream.isatty() else 160
    return PipeConsole(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def message(text: str) -> None:
    """A status line for people, on stderr so stdout stays clean for pipes."""
    console(stderr=True).print(text, soft_wrap=True)  # one line stays one line in a log


def result_line(text: str) -> None:
    """A line of a command's result for people (what it found, made or changed), on stdout: `> file` keeps it."""
    console().print(text, soft_wrap=True)


def short_path(p: str) -> str:
    home = str(Path.home())
    return "~" + p[len(home) :] if p.startswith(home + "/") else p


def short_source(source: str) -> str:
    """A table-sized source: remote and generated sources as they are, local files as folder/name."""
    if "://" in source or not source.startswith("/"):
        return source
    parts = Path(source).parts
    return "/".join(parts[-2:])


@contextmanager
def progress_bar(description: str) -> Iterator[Any]:
    """Yields ``update(done, total)`` (a :data:`hub.models.Progress`); draws a bar on stderr on a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
        disable=not sys.stderr.isatty(),
    )
    with bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
