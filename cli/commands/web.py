"""``hub serve``: the local web UI."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import message


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; anything but loopback is reachable by others.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the UI in the default browser.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request.")] = False,
) -> None:
    """Browse, test, mix and watch training in the browser: a local web app on this registry, offline.

    Examples:

    \b
      hub serve
      hub serve --port 8000 --open
      hub serve --host 0.0.0.0      # reachable from the network: prints a warning
    """
    from cli.context import hub_context
    from hub.settings import load_settings
    from hub.web.api import host_warning
    from hub.web.api import serve as run_server

    context = hub_context()
    settings = context.settings if context is not None else load_settings()  # --home wins over LORAHUB_HOME

    warning = host_warning(host)
    if warning:
        message(f"[bold yellow]warning:[/] {warning}")

    def ready(url: str) -> None:
        message(f"serving {settings.home} at [bold]{url}[/] (Ctrl-C stops)")
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    run_server(settings, host=host, port=port, on_ready=ready, log_level="info" if verbose else "warning")
