"""One job at a time: generations, grids and mixes share one worker thread, so the GPU (or the CPU) is
never asked for two pipelines at once and a page waiting for its turn says where it is in the queue.

Jobs live in memory: a restart forgets them, never their outputs (those are files and registry rows).
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from hub.errors import HubError

Progress = Callable[[int, int], None]
Work = Callable[[Progress], "JobOutcome"]
KEEP = 200  # finished jobs remembered for their pages


class JobOutcome(BaseModel):
    result: dict[str, Any] = Field(default_factory=dict)
    redirect: str | None = None  # the page to land on when done (a new adapter, the results)


class Job(BaseModel):
    id: str
    kind: str
    title: str
    status: Literal["queued", "running", "done", "failed"] = "queued"
    done: int = 0
    total: int = 0
    error: str | None = None
    hint: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    redirect: str | None = None
    position: int = 0  # jobs ahead of this one while queued
    created: float = Field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None


class JobQueue:
    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._work: dict[str, Work] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, kind: str, title: str, work: Work) -> Job:
        job = Job(id=secrets.token_hex(6), kind=kind, title=title)
        with self._lock:
            self._jobs[job.id] = job
            self._work[job.id] = work
            while len(self._jobs) > KEEP:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].status in ("queued", "running"):
                    break
                del self._jobs[oldest]
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hub-web-jobs", daemon=True)
                self._thread.start()
        self._queue.put(job.id)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.status == "queued":
                ahead = [
                    j for j in self._jobs.values() if j.status in ("queued", "running") and j.created < job.created
                ]
                job.position = len(ahead)
            return job.model_copy()

    def jobs(self) -> list[Job]:
        with self._lock:
            return [j.model_copy() for j in reversed(self._jobs.values())]

    def wait(self, job_id: str, timeout: float = 60.0) -> Job | None:
        """Block until the job has finished (tests and scripts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job is None or job.status in ("done", "failed"):
                return job
            time.sleep(0.02)
        return self.get(job_id)

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._lock:
                job = self._jobs.get(job_id)
                work = self._work.pop(job_id, None)
                if job is None or work is None:
                    continue
                job.status, job.started = "running", time.time()

            def progress(done: int, total: int, job: Job = job) -> None:
                job.done, job.total = done, total

            try:
                outcome = work(progress)
            except HubError as e:
                self._finish(job, error=str(e), hint=e.hint)
            except Exception as e:  # a bug or the environment (disk full, out of memory): say it on the page
                self._finish(job, error=f"{type(e).__name__}: {e}")
            else:
                self._finish(job, outcome=outcome)

    def _finish(
        self, job: Job, *, outcome: JobOutcome | None = None, error: str | None = None, hint: str | None = None
    ):
        with self._lock:
            job.finished = time.time()
            if outcome is not None:
                job.status, job.result, job.redirect = "done", outcome.result, outcome.redirect
            else:
                job.status, job.error, job.hint = "failed", error, hint
