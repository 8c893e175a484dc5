"""Requests that queue a job (``/mix``, ``/test`` and their ``/api/`` twins): the adapter rows their forms share,
and one way each ends. A form goes on to the job's page, or comes back with the error beside what the user typed
(a typo in a name is reported there, not in a failed job); a JSON request is answered 202 with the job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.errors import HubError, UsageError
from hub.registry import api as registry
from hub.web.deps import context
from hub.web.jobs import Job
from hub.web.render import json_body, json_response, page, status_of

CHOICES = 1000  # names offered for autocompletion; any other name or hash prefix can be typed


def adapter_choices(request: Request) -> list[str]:
    with context(request) as ctx:
        return registry.adapter_names(mergeable=True, limit=CHOICES, ctx=ctx)


def pairs_of(value: Any, what: str) -> list[tuple[str, Any]]:
    """``[[name, weight], ...]`` from a form's rows or a JSON body, refusing any other shape."""
    value = value or []
    if not isinstance(value, list | tuple) or not all(isinstance(p, list | tuple) and len(p) == 2 for p in value):
        raise UsageError(f'{what}: a list of [name, weight] pairs, e.g. [["dog", 0.7], ["style", 0.5]]')
    return [(str(ref), w) for ref, w in value]


async def queue_form(
    request: Request,
    queue: Callable[[], Job],
    *,
    template: str,
    rows: list[tuple[str, str]],
    values: dict[str, Any],
    **shown: Any,
) -> Response:
    """Run ``queue`` (parse the form, check it, submit the job) and go to the job's page; on a HubError, the
    form (``template`` with its ``rows``, ``values`` and ``shown``) again with the error."""
    try:
        job = await run_in_threadpool(queue)
    except HubError as e:
        choices = await run_in_threadpool(adapter_choices, request)
        return page(request, template, status=status_of(e), rows=rows or [("", "1")], choices=choices,
                    values=values, error=str(e), hint=e.hint, **shown)  # fmt: skip
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


async def queue_json(request: Request, queue: Callable[[dict[str, Any]], Job], *, example: str) -> Response:
    """Run ``queue`` on the request's JSON object; 202 with the job and the URL to poll."""
    body = await json_body(request, example)
    job = await run_in_threadpool(queue, body)
    return json_response({"job": job, "url": f"/api/jobs/{job.id}"}, status=202)
