"""``hub serve``: build the web app for one registry home and run it on a local port.

``create_app`` gives the ASGI app (tests drive it with Starlette's client); ``serve`` runs it under uvicorn
until interrupted. The guard in :mod:`hub.web.security` sits in front of every route.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from hub.errors import ConflictError, UsageError
from hub.settings import Settings, load_settings
from hub.web.security import is_loopback

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


class ServeResult(BaseModel):
    url: str
    host: str
    port: int


def host_warning(host: str) -> str | None:
    """What to tell a user who binds beyond this machine (the CLI prints it)."""
    if is_loopback(host):
        return None
    return (
        f"serving on {host}: other machines on the network can reach this UI; it has no login, so anyone who "
        "can reach the port can browse, mix and delete adapters"
    )


def url_of(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def create_app(settings: Settings | None = None, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> Any:
    """The Starlette app serving ``settings``' registry; ``host``/``port`` are what the Host guard accepts."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from hub.errors import HubError
    from hub.web import engines, render
    from hub.web.jobs import JobQueue
    from hub.web.routes import adapter, files, gallery, generate, jobs, mix, runs
    from hub.web.security import Guard, GuardMiddleware

    settings = settings or load_settings()
    settings.paths.ensure()
    guard = Guard(host, extra_hosts=[socket.gethostname()] if not is_loopback(host) else [])

    def session(request):
        return render.json_response({"csrf_token": request.scope["csrf_token"], "header": "X-CSRF-Token"})

    routes = [
        *gallery.routes,
        *adapter.routes,
        *files.routes,
        *mix.routes,
        *generate.routes,
        *jobs.routes,
        *runs.routes,
        Route("/api/session", session, name="api_session"),
        Mount("/static", StaticFiles(directory=render.HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(GuardMiddleware, guard=guard)],
        exception_handlers={
            HubError: render.hub_error_handler,
            HTTPException: render.http_error_handler,
            sqlite3.Error: render.environment_error_handler,
            OSError: render.environment_error_handler,
        },
    )
    app.state.settings = settings
    app.state.jobs = JobQueue()
    app.state.renderers = engines.Renderers()
    app.state.url = url_of(host, port)
    return app


def check_port(host: str, port: int) -> None:
    """Fail with a clear message before uvicorn would (it exits with a log line instead of an error)."""
    if not 0 < port < 65536:
        raise UsageError(f"port must be between 1 and 65535, not {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise ConflictError(
                f"cannot listen on {host}:{port}: {e.strerror or e}",
                hint=f"another server holds it? try --port {port + 1}",
            ) from e


def serve(
    settings: Settings | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "warning",
) -> ServeResult:
    """Run the web UI until interrupted (Ctrl-C); ``on_ready(url)`` is called once it accepts connections."""
    import asyncio

    import uvicorn

    check_port(host, port)
    app = create_app(settings, host=host, port=port)
    url = app.state.url
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=log_level == "info")
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started and on_ready is not None:
            on_ready(url)
        await task

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it shut down on; for a server that is the normal end, not an error
    finally:
        app.state.jobs.close()
    return ServeResult(url=url, host=host, port=port)
