"""``/mix``: pick adapters and weights, a method and a rank; the composition engine runs as a queued job and
the browser lands on the new entry's page. ``POST /api/mix`` takes the same as JSON."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.errors import UsageError
from hub.web import engines
from hub.web.deps import settings_of
from hub.web.jobs import Job, JobOutcome
from hub.web.render import page
from hub.web.routes.adapter import registered_id
from hub.web.routes.queueing import adapter_choices, pairs_of, queue_form, queue_json

METHODS = ("svd", "concat", "ties", "dare")


def _weight(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise UsageError(f"weight '{raw}' is not a number") from None


def parse(values: dict[str, Any]) -> dict[str, Any]:
    """Validate a mix request; ``values`` holds ``adapters`` [(ref, weight)], ``method``, ``rank``, ``name``."""
    pairs = [(ref.strip(), _weight(w)) for ref, w in pairs_of(values.get("adapters"), "adapters") if ref.strip()]
    if not pairs:
        raise UsageError("pick at least one adapter to mix")
    method = values.get("method") or "svd"
    if method not in METHODS:
        raise UsageError(f"unknown method '{method}'", hint=f"one of {', '.join(METHODS)}")
    raw_rank = str(values.get("rank") or "").strip()
    rank: int | str | None = None
    if raw_rank == "auto":
        rank = "auto"
    elif raw_rank:
        try:
            rank = int(raw_rank)
        except ValueError:
            raise UsageError(f"rank '{raw_rank}' must be a whole number or 'auto'") from None
        if rank < 1:
            raise UsageError("rank must be at least 1")
    if method == "concat":
        rank = None  # concat keeps every rank: exact
    name = str(values.get("name") or "").strip() or None
    return {"adapters": pairs, "method": method, "rank": rank, "name": name}


def submit(request: Request, spec: dict[str, Any]) -> Job:
    """Resolve every reference now (a typo is reported on the form, not in a failed job), then queue the mix."""
    settings = settings_of(request)
    pairs = [(registered_id(request, ref), w) for ref, w in spec["adapters"]]

    def work(progress) -> JobOutcome:
        result = engines.mix(
            pairs, method=spec["method"], rank=spec["rank"], name=spec["name"], settings=settings, progress=progress
        )
        return JobOutcome(result=result.model_dump(mode="json"), redirect=f"/a/{result.adapter.id}")

    title = "mix " + ", ".join(f"{ref}:{w:g}" for ref, w in spec["adapters"]) + f" ({spec['method']})"
    return request.app.state.jobs.submit("mix", title, work)


def _form_rows(form: Any) -> list[tuple[str, str]]:
    refs, weights = [str(v) for v in form.getlist("adapter")], [str(v) for v in form.getlist("weight")]
    return list(zip(refs, weights + ["1"] * (len(refs) - len(weights)), strict=False))


def mix_page(request: Request) -> Response:
    picked = request.query_params.getlist("a")
    rows = [(ref, "1") for ref in picked] + [("", "1")] * max(0, 4 - len(picked))
    return page(request, "mix.html", rows=rows, choices=adapter_choices(request), methods=METHODS, values={})


async def mix_form(request: Request) -> Response:
    form = await request.form()
    rows = _form_rows(form)
    values = {"adapters": rows, "method": form.get("method"), "rank": form.get("rank"), "name": form.get("name")}
    return await queue_form(request, lambda: submit(request, parse(values)), template="mix.html", rows=rows,
                            values=values, methods=METHODS)  # fmt: skip


async def mix_api(request: Request) -> Response:
    example = '{"adapters": [["name", 0.7], ...], "method": "svd", "rank": 16}'
    return await queue_json(request, lambda body: submit(request, parse(body)), example=example)


routes = [
    Route("/mix", mix_page, name="mix"),
    Route("/mix", mix_form, methods=["POST"]),
    Route("/api/mix", mix_api, methods=["POST"], name="api_mix"),
]
