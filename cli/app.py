"""The ``hub`` / ``lorahub`` command line: the root typer app and the one place errors are printed."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.commands import compose, demo, gen, registry, sync, web
from cli.context import open_context
from hub.errors import HubError, RegistryError

app = typer.Typer(
    name="hub",
    help="sd-lora-hub: catalog, compose, train and share Stable Diffusion LoRA adapters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", metavar="PATH", help="Registry home for this command (wins over $LORAHUB_HOME)."),
    ] = None,
) -> None:
    # Settings are read here, once per command, and reach every hub verb as one context (cli.context).
    open_context(ctx, home)


# Each command module adds its commands; the order here is the order in `hub --help`.
for _module in (registry, compose, gen, sync, web, demo):
    _module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turn every HubError into one ``error:`` line and its exit code.

    typer (standalone mode) prints its own usage errors and exits 2; only our errors arrive here.
    """
    try:
        app(args=argv)
    except HubError as e:
        _print_error(str(e), e.hint)
        _debug_traceback()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _print_error("interrupted", None)
        sys.exit(130)
    except sqlite3.Error as e:  # locked past the busy timeout, disk I/O error, a damaged file
        locked = "locked" in str(e) or "busy" in str(e)
        hint = (
            "another hub process holds the registry; retry when it is done"
            if locked
            else "the registry file may be damaged or from another hub: keep a copy of it and report this"
        )
        _print_error(f"registry: {e}", hint)
        _debug_traceback()
        sys.exit(RegistryError.exit_code)
    except OSError as e:  # disk full, permissions: the environment, not a bug of ours
        where = f": {e.filename}" if e.filename else ""
        _print_error(f"{e.strerror or e}{where}", None)
        _debug_traceback()
        sys.exit(1)


def _debug_traceback() -> None:
    if os.environ.get("LORAHUB_DEBUG"):
        import traceback

        traceback.print_exc()


def _print_error(message: str, hint: str | None) -> None:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
