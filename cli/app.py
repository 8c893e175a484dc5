"""The ``hub`` / ``lorahub`` command line: the root typer app and the one place errors are printed."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.models import CommandInfo

from cli.commands import civitai, compose, demo, gen, link, registry, sync, train, web
from cli.context import open_context
from hub.errors import HubError, RegistryError

app = typer.Typer(
    name="hub",
    help="sd-lora-hub: catalog, compose, train and share Stable Diffusion LoRA adapters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command's context
)


def _print_version(value: bool) -> None:
    if value:
        from hub import __version__

        print(f"hub {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", metavar="PATH", help="Registry home for this command (wins over $LORAHUB_HOME)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    # Settings are read here, once per command, and reach every hub verb as one context (cli.context).
    open_context(ctx, home)


# Each command module adds its commands; the order here is the order in `hub --help`.
for _module in (registry, link, compose, train, gen, sync, civitai, web, demo):
    _module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turn every HubError into one ``error:`` line and its exit code.

    Not in click's standalone mode: click would turn a closed pipe (``hub ls | head -1``) into exit 1, where
    Unix tools end quietly; usage errors are printed here as click prints them (exit 2).
    """
    args = sys.argv[1:] if argv is None else list(argv)
    everything = app.registered_commands
    app.registered_commands = _commands_to_build(everything, args)
    try:
        code = app(args=args, prog_name="hub", standalone_mode=False)
        sys.stdout.flush()  # a closed pipe shows here, not at exit where Python would print a warning
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(0)
    except SystemExit:
        # typer turns a closed pipe (EPIPE) raised inside a command into exit 1 after wrapping the streams;
        # `hub ls | head -1` is not a failure: end quietly with 0, as other Unix tools do.
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            _quiet_stdout()
            sys.exit(0)
        raise
    except typer.TyperException as e:  # click's usage errors: our one `error:` line and a hint, exit 2
        _print_usage_error(e)
        sys.exit(e.exit_code)
    except typer.Abort:
        _print_error("aborted", None)
        sys.exit(1)
    except HubError as e:
        if "--json" in args:  # scripts asked for JSON: the error is JSON too, on stdout (exit code kept)
            _print_json_error(e)
        _print_error(str(e), e.hint)
        _debug_traceback()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _print_error("interrupted", None)
        sys.exit(130)
    except _sqlite_error() as e:  # locked past the busy timeout, disk I/O error, a damaged file
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
        if _in_home(e):  # a read-only or foreign home: the registry's family, with the way out
            _print_error(f"the home folder cannot be written: {e.strerror or e}{where}", _HOME_HINT)
            _debug_traceback()
            sys.exit(RegistryError.exit_code)
        _print_error(f"{e.strerror or e}{where}", None)
        _debug_traceback()
        sys.exit(1)
    finally:
        app.registered_commands = everything
    sys.exit(code if isinstance(code, int) else 0)


def _commands_to_build(commands: list[CommandInfo], args: list[str]) -> list[CommandInfo]:
    """The commands typer needs to build for this run.

    typer reads every command's signature and type hints when it builds the CLI (about 0.1 s for 25 commands, a
    third of `hub --help`); a run needs only the command it names. Without one (`hub --help`, a misspelt name)
    every command is listed from its help text alone: a stand-in with the same name and docstring, no parameters.
    """
    name = _command_name(args)
    chosen = [info for info in commands if info.name == name]
    if chosen:
        return chosen
    return [_listed_only(info) for info in commands]


def _command_name(args: list[str]) -> str | None:
    """The first word that is not a global option (`hub --home PATH ls` names `ls`)."""
    words = iter(args)
    for word in words:
        if word == "--home":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _listed_only(info: CommandInfo) -> CommandInfo:
    def listed() -> None:  # never run: a named command is built for real by _commands_to_build
        raise AssertionError(f"{info.name} was listed, not built")

    listed.__doc__ = info.callback.__doc__ if info.callback else None
    stand_in = copy.copy(info)
    stand_in.callback = listed
    return stand_in


def _quiet_stdout() -> None:
    """The reader went away: point stdout at /dev/null so the exit flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _print_json_error(e: HubError) -> None:
    import json

    error = {"error": str(e), "hint": e.hint, "exit_code": e.exit_code, "kind": type(e).__name__}
    try:
        sys.stdout.write(json.dumps(error, indent=2) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()


def _debug_traceback() -> None:
    if os.environ.get("LORAHUB_DEBUG"):
        import traceback

        traceback.print_exc()


def _sqlite_error() -> Any:
    """``sqlite3.Error`` once a command has imported sqlite3, else nothing to catch (none can have been raised):
    importing it up front would put its memory under `hub train`'s peak, which opens the registry only at the end."""
    sqlite3 = sys.modules.get("sqlite3")
    return sqlite3.Error if sqlite3 is not None else ()


def _print_usage_error(e: Any) -> None:
    """click's usage errors (no such option, missing argument, invalid value) in the `error:`/`hint:` form;
    a command given no arguments shows its help, as before."""
    if type(e).__name__ == "NoArgsIsHelpError" or not hasattr(e, "ctx"):
        show = getattr(e, "show", None)
        show() if show else _print_error(e.format_message(), None)
        return
    command = e.ctx.command_path if e.ctx is not None else "hub"
    message = e.format_message().rstrip(".")
    _print_error(message[:1].lower() + message[1:], f"`{command} --help` shows the usage")


_HOME_HINT = "give a writable home: hub --home PATH, or LORAHUB_HOME (the home can be copied there as a folder)"


def _in_home(e: OSError) -> bool:
    import errno

    from cli import context

    home = context.home_in_use
    if e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM) or home is None or not e.filename:
        return False
    return Path(os.path.abspath(str(e.filename))).is_relative_to(home)


def _print_error(message: str, hint: str | None) -> None:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
