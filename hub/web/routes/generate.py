"""``/test``: try adapters with a prompt. Generation and X/Y grids run as queued jobs (one at a time); the
images land in ``<home>/outputs/web/`` with their recipe in the PNG, and any of them can become a preview."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.errors import NotFoundError, UsageError
from hub.registry import api as registry
from hub.web import engines
from hub.web.deps import context, settings_of
from hub.web.jobs import Job, JobOutcome
from hub.web.render import page
from hub.web.routes.adapter import registered_id, registered_name
from hub.web.routes.queueing import adapter_choices, pairs_of, queue_form, queue_json

LIMITS = {"steps": (1, 150), "width": (64, 2048), "height": (64, 2048), "n": (1, 8)}


def _number(values: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    raw = values.get(key)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise UsageError(f"{key} must be a number, not '{raw}'") from None
    low, high = LIMITS.get(key, (None, None))
    if low is not None and not low <= value <= high:
        raise UsageError(f"{key} must be between {low} and {high}, not {value}")
    return value


def _floats(raw: str, what: str) -> list[float]:
    try:
        return [float(x) for x in raw.replace(" ", "").split(",") if x]
    except ValueError:
        raise UsageError(f"{what}: a comma-separated list of numbers, e.g. 0,0.5,1") from None


def parse(values: dict[str, Any]) -> dict[str, Any]:
    """Validate a generation request: prompt, negative, loras [(ref, weight)], seed, steps, cfg, size, n, base."""
    prompt = str(values.get("prompt") or "").strip()
    if not prompt:
        raise UsageError("write a prompt")
    loras = []
    for ref, weight in pairs_of(values.get("loras"), "loras"):
        if str(ref).strip():
            loras.append((str(ref).strip(), _number({"w": weight}, "w", float, 1.0)))
    base = str(values.get("base") or "").strip() or None
    if base and (base.startswith(("/", ".", "~", "\\")) or ":" in base[:3]):
        # a path would make the server read any folder a form names; the CLI takes paths
        raise UsageError(
            f"base '{base}': the web UI takes a base by name ('tiny') or Hub id", hint="hub gen --base PATH"
        )
    return {
        "prompt": prompt,
        "negative": str(values.get("negative") or ""),
        "loras": loras,
        "base": base,
        "seed": _number(values, "seed", int, None),
        "steps": _number(values, "steps", int, 20),
        "cfg": _number(values, "cfg", float, 7.0),
        "width": _number(values, "width", int, None),
        "height": _number(values, "height", int, None),
        "n": _number(values, "n", int, 1),
    }


def out_dir(request: Request) -> Any:
    folder = settings_of(request).paths.home / "outputs" / "web" / time.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def submit_generate(request: Request, spec: dict[str, Any]) -> Job:
    """Check the adapters now (a typo is reported on the form), then queue the render."""
    settings = settings_of(request)
    out = out_dir(request)
    spec = {**spec, "loras": [(registered_name(request, ref), w) for ref, w in spec["loras"]]}
    renderers = request.app.state.renderers

    def work(progress) -> JobOutcome:
        result = renderers.generate(spec, out=out, settings=settings, progress=progress)
        images = [{"path": str(i.path), "seed": i.seed, "infotext": i.infotext} for i in result.images]
        return JobOutcome(result={"images": images, "request": spec})

    return request.app.state.jobs.submit("generate", f"generate: {spec['prompt'][:60]}", work)


def submit_grid(request: Request, spec: dict[str, Any], axes: list[tuple[str, list[float]]], seeds: list[int]) -> Job:
    settings = settings_of(request)
    out = out_dir(request)
    keep = {k: spec[k] for k in ("negative", "base", "steps", "cfg", "width", "height")}
    # LoRAs with a weight but no grid weights are in every cell, at that weight
    on_axes = {ref for ref, _ in axes}
    fixed = [(registered_name(request, ref), w) for ref, w in spec["loras"] if ref not in on_axes]
    axes = [(registered_name(request, ref), weights) for ref, weights in axes]

    def work(progress) -> JobOutcome:
        result = engines.grid(
            spec["prompt"], axes, seeds=seeds, loras=fixed, out=out, settings=settings, progress=progress, **keep
        )
        return JobOutcome(
            result={"images": [{"path": str(result.path)}], "request": {**spec, "axes": axes, "loras": fixed}}
        )

    return request.app.state.jobs.submit("grid", f"grid: {spec['prompt'][:60]}", work)


def _rows(request: Request) -> list[tuple[str, str]]:
    picked = request.query_params.getlist("a")
    return [(ref, "1") for ref in picked] + [("", "1")] * max(0, 2 - len(picked))


def generate_form(request: Request) -> Response:
    return page(request, "generate.html", rows=_rows(request), choices=adapter_choices(request), values={})


async def generate_submit(request: Request) -> Response:
    form = await request.form()
    refs, weights = [str(v) for v in form.getlist("lora")], [str(v) for v in form.getlist("weight")]
    rows = list(zip(refs, weights, strict=False))
    fields = ("prompt", "negative", "base", "seed", "steps", "cfg", "width", "height", "n")
    values: dict[str, Any] = {k: form.get(k) for k in fields}
    values["loras"] = rows
    grid_weights = [str(v) for v in form.getlist("grid_weights")]

    def queue() -> Job:
        spec = parse(values)
        if not form.get("grid"):
            return submit_generate(request, spec)
        axes = [
            (ref, _floats(str(w), f"grid weights of {ref}"))
            for ref, w in zip(refs, grid_weights, strict=False)
            if ref.strip() and str(w).strip()
        ]
        if not axes:
            raise UsageError("an X/Y grid needs weights for at least one LoRA, e.g. 0,0.5,1")
        seeds = [int(s) for s in _floats(str(form.get("grid_seeds") or ""), "seeds")]
        return submit_grid(request, spec, axes, seeds)

    return await queue_form(request, queue, template="generate.html", rows=rows, values=values)


async def generate_api(request: Request) -> Response:
    example = '{"prompt": "...", "loras": [["name", 0.8]], "seed": 1, "steps": 20}'
    return await queue_json(request, lambda body: submit_generate(request, parse(body)), example=example)


async def make_preview(request: Request) -> Response:
    """Store image ``index`` of a job as an adapter's preview (first, so cards show it)."""
    job = request.app.state.jobs.get(request.path_params["job_id"])
    index = request.path_params["index"]
    images = (job.result.get("images") or []) if job else []
    if index >= len(images):
        raise NotFoundError("no such image")
    form = await request.form()
    adapter_id = await run_in_threadpool(registered_id, request, str(form.get("adapter") or ""))
    await run_in_threadpool(_add_preview, request, adapter_id, images[index]["path"])
    return RedirectResponse(f"/a/{adapter_id}?saved=preview", status_code=303)


def _add_preview(request: Request, adapter_id: str, image: str) -> None:
    with context(request) as ctx:
        registry.add_preview(adapter_id, image, ctx=ctx)


routes = [
    Route("/test", generate_form, name="test"),
    Route("/test", generate_submit, methods=["POST"]),
    Route("/api/generate", generate_api, methods=["POST"], name="api_generate"),
    Route("/jobs/{job_id}/image/{index:int}/preview", make_preview, methods=["POST"], name="make_preview"),
]
