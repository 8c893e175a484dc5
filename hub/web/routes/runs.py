"""``/runs``: training runs with their status, a live loss curve, sample images per step and the adapter they
made; a form starts a new run (the trainer runs as its own process)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from hub.errors import HubError
from hub.web import training_runs
from hub.web.charts import loss_svg
from hub.web.render import json_response, page, status_of, wants_json

if TYPE_CHECKING:
    from hub.train.results import RunDetail


def run_list(request: Request) -> Response:
    runs = training_runs.list_runs(request.app.state.settings)
    if wants_json(request):
        return json_response(runs)
    return page(request, "runs.html", runs=runs, values={}, fields=training_runs.form_fields())


def _detail(request: Request) -> RunDetail:
    return training_runs.read_run(request.path_params["run_id"], request.app.state.settings)


def run_page(request: Request) -> Response:
    detail = _detail(request)
    samples = [Path(s).name for s in detail.samples]  # by step: the trainer names them step-NNNNNN.png
    if wants_json(request):
        after = int(request.query_params.get("after") or -1)
        log = [row for row in detail.log if row.step > after]
        return json_response({"run": detail.info, "log": log, "samples": samples})
    return page(request, "run.html", run=detail.info, logged=len(detail.log), samples=samples,
                chart=loss_svg(detail.log))  # fmt: skip


def loss_chart(request: Request) -> Response:
    svg = loss_svg(_detail(request).log)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def sample(request: Request) -> Response:
    return FileResponse(training_runs.sample_path(_detail(request), request.path_params["name"]))


async def start(request: Request) -> Response:
    form = await request.form()
    values = {f.name: str(form.get(f.name) or "") for f in training_runs.form_fields()}
    try:
        job = await run_in_threadpool(training_runs.start_run, values, request.app.state.settings,
                                      request.app.state.jobs)  # fmt: skip
    except HubError as e:
        runs = await run_in_threadpool(training_runs.list_runs, request.app.state.settings)
        return page(
            request,
            "runs.html",
            status=status_of(e),
            runs=runs,
            values=values,
            fields=training_runs.form_fields(),
            error=str(e),
            hint=e.hint,
        )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


routes = [
    Route("/runs", run_list, name="runs"),
    Route("/runs", start, methods=["POST"]),
    Route("/api/runs", run_list),
    Route("/runs/{run_id}", run_page, name="run"),
    Route("/api/runs/{run_id}", run_page),
    Route("/runs/{run_id}/loss.svg", loss_chart, name="loss_chart"),
    Route("/runs/{run_id}/samples/{name}", sample, name="run_sample"),
]
