"""``/jobs/{id}``: a queued job's progress. The page refreshes itself (a meta refresh without JavaScript, a
poll of ``/api/jobs/{id}`` with it) and, when the job made an entry, lands on that entry's page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.errors import NotFoundError
from hub.web.jobs import Job
from hub.web.render import json_response, page, wants_json
from hub.web.routes.adapter import names_of


def find(request: Request) -> Job:
    job = request.app.state.jobs.get(request.path_params["job_id"])
    if job is None:
        raise NotFoundError("no such job", hint="jobs are forgotten when the server restarts; their outputs stay")
    return job


def job_page(request: Request) -> Response:
    job = find(request)
    if wants_json(request):
        return json_response(job)
    if job.status == "done" and job.redirect:
        return RedirectResponse(job.redirect, status_code=303)
    loras = (job.result.get("request") or {}).get("loras") or []
    return page(request, "job.html", job=job, names=names_of(request, [ref for ref, _ in loras]))


def job_list(request: Request) -> Response:
    jobs = request.app.state.jobs.jobs()
    if wants_json(request):
        return json_response(jobs)
    return page(request, "jobs.html", jobs=jobs)


routes = [
    Route("/jobs", job_list, name="jobs"),
    Route("/api/jobs", job_list),
    Route("/jobs/{job_id}", job_page, name="job"),
    Route("/api/jobs/{job_id}", job_page, name="api_job"),
]
