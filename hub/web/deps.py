"""What every route needs from the app: its settings, and a hub Context on them.

A Context is made per call and closed after it: a SQLite connection stays in the thread that opened it, and
Starlette runs each sync route (and each ``run_in_threadpool`` call) in a worker thread of its own choosing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.requests import Request

from hub.context import Context
from hub.settings import Settings


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


@contextmanager
def context(request: Request) -> Iterator[Context]:
    """The registry of the app's home for one call (every verb gets ``ctx=``, never its own settings)."""
    with Context(settings_of(request)) as ctx:
        yield ctx
