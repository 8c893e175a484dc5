"""``/``: the gallery. Search, filters, sort and page live in the URL, so a search is a bookmark and works
without JavaScript; ``/api/adapters`` answers the same query as JSON."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.errors import UsageError
from hub.registry import api as registry
from hub.web.deps import context, settings_of
from hub.web.render import json_response, page

PARAMS = ("q", "arch", "kind", "tag", "source", "sort", "page", "per_page")
SORT_LABELS = {
    "name": "Name",
    "imported": "Newest import",
    "created": "Newest",
    "size": "Largest",
    "rank": "Highest rank",
    "arch": "Architecture",
    "kind": "Kind",
}


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not '{raw}'") from None


def query_page(request: Request) -> registry.BrowsePage:
    p = request.query_params
    with context(request) as ctx:
        return registry.browse(
            p.get("q") or None,
            arch=p.get("arch") or None,
            kind=p.get("kind") or None,
            tag=p.get("tag") or None,
            source=p.get("source") or None,
            sort=p.get("sort") or "name",
            page=_int(request, "page", 1),
            per_page=_int(request, "per_page", 48),
            ctx=ctx,
        )


def url_with(request: Request, **changes: object) -> str:
    """This page's URL with some parameters changed (None drops one); page resets unless given."""
    params = {k: v for k, v in request.query_params.items() if k in PARAMS and v}
    if "page" not in changes:
        params.pop("page", None)
    for k, v in changes.items():
        if v in (None, ""):
            params.pop(k, None)
        else:
            params[k] = str(v)
    return "/?" + urlencode(params) if params else "/"


def gallery(request: Request) -> Response:
    result = query_page(request)
    return page(
        request,
        "gallery.html",
        result=result,
        sorts=SORT_LABELS,
        source_kinds=registry.SOURCE_KINDS,
        url_with=lambda **c: url_with(request, **c),
        blur_above=settings_of(request).nsfw_blur_above,
    )


def gallery_json(request: Request) -> Response:
    return json_response(query_page(request))


routes = [
    Route("/", gallery, name="gallery"),
    Route("/api/adapters", gallery_json, name="api_adapters"),
]
