"""``/a/{id}``: one adapter. Metadata in readable sections, hashes as Civitai prints them, lineage as a graph,
recipe, remotes, previews, copy buttons, and forms that edit tags and trigger words."""

from __future__ import annotations

import os
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub import library as registry_api  # show() (moving to hub.registry.api)
from hub.errors import AmbiguousError, NotFoundError, UsageError
from hub.models import AdapterDetail
from hub.registry import edit
from hub.registry.db import open_registry
from hub.web import formatting
from hub.web.lineage_svg import Node, edge_label, lineage_svg
from hub.web.render import json_body, json_response, page, wants_json


def registered_id(request: Request, ref: str) -> str:
    """The id of the entry a user typed (name, id or hash prefix). Never a file path: ``resolve`` would open
    one, and nothing a browser sends may make the server read outside its home."""
    with open_registry(request.app.state.settings) as reg:
        ids = reg.find_ids(ref.strip())
    if not ids:
        raise NotFoundError(f"no adapter '{ref}' in the registry", hint="a name, an id or a hash prefix")
    if len(ids) > 1:
        raise AmbiguousError(f"'{ref}' matches {len(ids)} adapters", hint="use the full name or a longer hash")
    return ids[0]


def registered_name(request: Request, ref: str) -> str:
    """The registry name of what a user typed (names are unique): what generation labels grids and infotext by."""
    adapter_id = registered_id(request, ref)
    return names_of(request, [adapter_id])[adapter_id]


def load(request: Request) -> AdapterDetail:
    """The entry whose id is in the URL. Only ids: a name or path here would let a URL make us read a file."""
    adapter_id = request.path_params["adapter_id"]
    settings = request.app.state.settings
    with open_registry(settings) as reg:
        if reg.adapter_row(adapter_id) is None:
            raise NotFoundError(f"no adapter with id '{adapter_id}'", hint="the gallery lists them")
    return registry_api.show(adapter_id, settings=settings)


def names_of(request: Request, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    with open_registry(request.app.state.settings) as reg:
        marks = ",".join("?" * len(ids))
        return dict(reg.conn.execute(f"SELECT id, name FROM adapters WHERE id IN ({marks})", ids).fetchall())


def lineage(request: Request, detail: AdapterDetail) -> str:
    names = names_of(request, [e.child_id for e in detail.children])
    parents = [
        Node(
            label=e.parent_ref,
            href=f"/a/{e.parent_id}" if e.parent_id else None,
            edge=edge_label(e.operation, e.params),
        )
        for e in detail.parents
    ]
    children = [
        Node(label=names.get(e.child_id, e.child_id), href=f"/a/{e.child_id}", edge=edge_label(e.operation, e.params))
        for e in detail.children
    ]
    return lineage_svg(detail.name, parents, children)


def hub_url(repo: str, revision: str, path: str | None) -> str:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return f"{endpoint}/{repo}/blob/{revision}/{path}" if path else f"{endpoint}/{repo}/tree/{revision}"


def detail_page(request: Request) -> Response:
    detail = load(request)
    if wants_json(request):
        return json_response(detail)
    context: dict[str, Any] = {
        "a": detail,
        "sections": formatting.readable_metadata(detail.metadata),
        "hashes": formatting.civitai_hashes(detail.hashes),
        "lineage_svg": lineage(request, detail),
        "lora_tag": formatting.lora_tag(detail.name, detail.preferred_weight),
        "mix_command": formatting.mix_command(detail.name, detail.preferred_weight),
        "remotes": [(r, hub_url(r.repo, r.revision, r.path)) for r in detail.remotes],
        "notice": request.query_params.get("saved"),
    }
    return page(request, "adapter.html", **context)


def _words(raw: str) -> list[str]:
    return [w.strip() for w in raw.replace("\n", ",").split(",")]


async def _values(request: Request, field: str) -> list[str]:
    """The edited list from a form (comma or line separated) or a JSON body (``{"tags": [...]}``)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await json_body(request, f'{{"{field}": ["...", ...]}}')
        values = body.get(field)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise UsageError(f'send {{"{field}": ["...", ...]}}')
        return values
    form = await request.form()
    return _words(str(form.get(field, "")))


async def _edit(request: Request, field: str) -> Response:
    from starlette.concurrency import run_in_threadpool

    detail = await run_in_threadpool(load, request)
    values = await _values(request, field)
    verb = edit.set_tags if field == "tags" else edit.set_triggers
    adapter = await run_in_threadpool(verb, detail.id, values, settings=request.app.state.settings)
    if wants_json(request):
        return json_response(adapter)
    return RedirectResponse(f"/a/{detail.id}?saved={field}", status_code=303)


async def edit_tags(request: Request) -> Response:
    return await _edit(request, "tags")


async def edit_triggers(request: Request) -> Response:
    return await _edit(request, "triggers")


routes = [
    Route("/a/{adapter_id}", detail_page, name="adapter"),
    Route("/api/adapters/{adapter_id}", detail_page, name="api_adapter"),
    Route("/a/{adapter_id}/tags", edit_tags, methods=["POST"], name="edit_tags"),
    Route("/a/{adapter_id}/triggers", edit_triggers, methods=["POST"], name="edit_triggers"),
    Route("/api/adapters/{adapter_id}/tags", edit_tags, methods=["POST"]),
    Route("/api/adapters/{adapter_id}/triggers", edit_triggers, methods=["POST"]),
]
