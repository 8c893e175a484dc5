"""Pages and JSON from the same data, and one way errors look: a readable page for people, the same text as
JSON for scripts (``{"error": ..., "hint": ..., "status": ...}``)."""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from hub.errors import (
    AuthError,
    BadFileError,
    ConfigError,
    ConflictError,
    DependencyError,
    HubError,
    IncompatibleError,
    NotFoundError,
    RegistryError,
    RemoteError,
    UsageError,
)

HERE = Path(__file__).resolve().parent

# HubError subclass -> HTTP status; the first match in this order wins (subclasses before their parents).
STATUS: tuple[tuple[type[HubError], int], ...] = (
    (NotFoundError, 404),
    (UsageError, 400),
    (ConflictError, 409),
    (IncompatibleError, 422),
    (BadFileError, 422),
    (AuthError, 401),
    (RemoteError, 502),
    (RegistryError, 503),
    (DependencyError, 501),
    (ConfigError, 500),
)


def status_of(error: HubError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 400


@cache
def templates() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "svg"]))
    from hub.web import formatting

    env.filters.update(formatting.FILTERS)
    return env


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.query_params.get("format") == "json"


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # a training log row
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


async def json_body(request: Request, example: str) -> dict[str, Any]:
    """The request's JSON object; a readable 400 (showing ``example``) for anything else."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise UsageError(f"send a JSON object, e.g. {example}")
    return body


def json_response(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(to_jsonable(value), status_code=status)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = (
        templates()
        .get_template(template)
        .render(
            request=request,
            csrf_token=request.scope.get("csrf_token", ""),
            nav=template.split(".")[0],
            **context,
        )
    )
    return HTMLResponse(html, status_code=status)


def error(request: Request, message: str, status: int, hint: str | None = None) -> Response:
    if wants_json(request):
        return JSONResponse({"error": message, "hint": hint, "status": status}, status_code=status)
    return page(request, "error.html", status=status, message=message, hint=hint, status_code=status)


async def hub_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubError)
    return error(request, str(exc), status_of(exc), exc.hint)


async def environment_error_handler(request: Request, exc: Exception) -> Response:
    """What the CLI says for the same failures: a locked or damaged registry, a full disk, a permission."""
    import sqlite3

    if isinstance(exc, sqlite3.Error):
        locked = "locked" in str(exc) or "busy" in str(exc)
        hint = "another hub process holds the registry; retry when it is done" if locked else None
        return error(request, f"registry: {exc}", 503, hint or "the registry file may be damaged")
    assert isinstance(exc, OSError)
    where = f": {exc.filename}" if exc.filename else ""
    return error(request, f"{exc.strerror or exc}{where}", 500)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    from starlette.exceptions import HTTPException

    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no page at {request.url.path}"
    return error(request, message, exc.status_code)
