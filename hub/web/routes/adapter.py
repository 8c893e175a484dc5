"""``/a/{id}``: one adapter. Metadata in readable sections, hashes as Civitai prints them, lineage as a graph,
recipe, remotes, previews, copy buttons, and forms that edit tags and trigger words."""

from __future__ import annotations

import os
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.errors import NotFoundError, UsageError
from hub.models import AdapterDetail
from hub.registry import api as registry
from hub.web import formatting
from hub.web.deps import context, settings_of
from hub.web.lineage_svg import Node, edge_label, lineage_svg
from hub.web.render import json_body, json_response, page, wants_json


def registered_id(request: Request, ref: str) -> str:
    """The id of the entry a user typed (name, id or hash prefix). Never a file path: nothing a browser sends
    may make the server read outside its home."""
    with context(request) as ctx:
        return registry.find_id(ref, ctx=ctx)


def registered_name(request: Request, ref: str) -> str:
    """The registry name of what a user typed (names are unique): what generation labels grids and infotext by."""
    with context(request) as ctx:
        adapter_id = registry.find_id(ref, ctx=ctx)
        return registry.names_by_id([adapter_id], ctx=ctx)[adapter_id]


def load(request: Request) -> AdapterDetail:
    """The entry whose id is in the URL. Only ids: a name or path here would let a URL make us read a file."""
    adapter_id = request.path_params["adapter_id"]
    with context(request) as ctx:
        if not registry.names_by_id([adapter_id], ctx=ctx):
            raise NotFoundError(f"no adapter with id '{adapter_id}'", hint="the gallery lists them")
        return registry.show(adapter_id, ctx=ctx)


def names_of(request: Request, ids: list[str]) -> dict[str, str]:
    with context(request) as ctx:
        return registry.names_by_id(ids, ctx=ctx)


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
        "blurred": blurred_previews(detail, settings_of(request).nsfw_blur_above),
        "civitai": civitai_section(detail),
    }
    return page(request, "adapter.html", **context)


def blurred_previews(detail: AdapterDetail, above: int) -> list[bool]:
    """Which previews the page blurs: Civitai's level of each image, else R for an adapter that is NSFW (so marked
    on Civitai, or tagged nsfw), above the LORAHUB_NSFW_BLUR setting."""
    nsfw = "nsfw" in detail.tags or bool(
        detail.civitai and (detail.civitai.nsfw or (detail.civitai.nsfw_level or 0) >= 4)
    )
    return [(p.nsfw_level or (4 if nsfw else 0)) > above for p in detail.previews]


NSFW_LEVEL_R = 4  # Civitai's "R": an NSFW adapter's preview without a level of its own counts as this


def _link(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("https://", "http://")) else None


def civitai_section(detail: AdapterDetail) -> dict[str, Any] | None:
    """The Civitai panel's values: links only when http(s), the description sanitised again as it is shown."""
    c = detail.civitai
    if c is None:
        return None
    return {
        "info": c,
        "nsfw": registry.nsfw_label(c.nsfw_level),
        "page_url": _link(c.page_url),
        "download_url": _link(c.download_url),
        "description": registry.sanitise_html(c.description) if c.description else None,
    }


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
    adapter = await run_in_threadpool(_save, request, field, detail.id, values)
    if wants_json(request):
        return json_response(adapter)
    return RedirectResponse(f"/a/{detail.id}?saved={field}", status_code=303)


def _save(request: Request, field: str, adapter_id: str, values: list[str]):
    verb = registry.set_tags if field == "tags" else registry.set_triggers
    with context(request) as ctx:
        return verb(adapter_id, values, ctx=ctx)


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
