"""``/runs``: training runs with their status, a live loss curve, sample images per step and the adapter they
made; a form starts a new run (the trainer runs as its own process)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from hub.errors import HubError
from hub.web import training_runs
from hub.web.charts import loss_svg
from hub.web.render import json_response, page, status_of, wants_json


def run_list(request: Request) -> Response:
    runs = training_runs.list_runs(request.app.state.settings)
    if wants_json(request):
        return json_response(runs)
    return page(request, "runs.html", runs=runs, values={}, fields=training_runs.TRAIN_OPTIONS)


def run_page(request: Request) -> Response:
    settings = request.app.state.settings
    run = training_runs.read_run(request.path_params["run_id"], settings)
    if wants_json(request):
        after = int(request.query_params.get("after") or -1)
        log = training_runs.read_log(run.run_id, settings, after=after)
        return json_response({"run": run, "log": log})
    points = training_runs.read_log(run.run_id, settings)
    return page(request, "run.html", run=run, chart=loss_svg(points))


def loss_chart(request: Request) -> Response:
    settings = request.app.state.settings
    points = training_runs.read_log(request.path_params["run_id"], settings)
    return Response(loss_svg(points), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def sample(request: Request) -> Response:
    path = training_runs.sample_path(
        request.path_params["run_id"], request.path_params["name"], request.app.state.settings
    )
    return FileResponse(path)


async def start(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in training_runs.TRAIN_OPTIONS}
    try:
        run_id = await run_in_threadpool(training_runs.start_run, values, request.app.state.settings)
    except HubError as e:
        runs = await run_in_threadpool(training_runs.list_runs, request.app.state.settings)
        return page(
            request,
            "runs.html",
            status=status_of(e),
            runs=runs,
            values=values,
            fields=training_runs.TRAIN_OPTIONS,
            error=str(e),
            hint=e.hint,
        )
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


routes = [
    Route("/runs", run_list, name="runs"),
    Route("/runs", start, methods=["POST"]),
    Route("/api/runs", run_list),
    Route("/runs/{run_id}", run_page, name="run"),
    Route("/api/runs/{run_id}", run_page),
    Route("/runs/{run_id}/loss.svg", loss_chart, name="loss_chart"),
    Route("/runs/{run_id}/samples/{name}", sample, name="run_sample"),
]
