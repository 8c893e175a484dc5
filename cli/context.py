"""The hub context of the running command: made once by the root callback (``--home``), closed when it ends."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from hub.context import Context

_current: Context | None = None  # one process runs one command; CliRunner tests run them one after another


home_in_use: Path | None = None


def open_context(click_ctx: typer.Context, home: Path | None) -> None:
    """Read the settings once (``--home`` wins over ``LORAHUB_HOME``) and keep them for the command's verbs."""
    global _current
    from hub.context import Context
    from hub.settings import load_settings

    global home_in_use
    settings = load_settings(home=home.expanduser() if home else None)
    home_in_use = settings.home  # kept past the context's close, for the error handler's "not writable" hint
    context = Context(settings)
    _current = click_ctx.obj = context

    def close() -> None:  # the registry connection, if a verb opened it
        global _current
        context.close()
        _current = None

    click_ctx.call_on_close(close)


def hub_context() -> Context | None:
    """What every command passes to its hub verb (``ctx=``): one settings read, one registry connection.

    None outside a command run by the root app: the verb then reads the settings itself."""
    return _current
