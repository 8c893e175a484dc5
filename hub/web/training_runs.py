"""Training runs for the web UI: read through :mod:`hub.train.api` (``list_runs``, ``read_run``), and started
through it as a job of the server's queue (one job at a time: a run does not share the machine with a generation).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import NotFoundError, UsageError
from hub.settings import Settings
from hub.web.jobs import Job, JobOutcome, JobQueue

if TYPE_CHECKING:
    from hub.train.results import RunDetail, RunInfo


def list_runs(settings: Settings) -> list[RunInfo]:
    """Every run, newest first."""
    from hub.train.api import list_runs as trainer_runs

    return trainer_runs(settings)


def read_run(run_id: str, settings: Settings) -> RunDetail:
    """One run with its log and samples; an id that cannot name a run is a missing page, not a usage mistake."""
    from hub.train.api import read_run as trainer_run

    try:
        detail = trainer_run(run_id, settings)
    except UsageError:
        raise NotFoundError(f"no run '{run_id}'", hint="the runs page lists them") from None
    return detail


def sample_path(detail: RunDetail, name: str) -> Path:
    """A sample image of a run by its file name: only the files the trainer's reader lists, never a path."""
    for sample in detail.samples:
        if Path(sample).name == name:
            return Path(sample)
    raise NotFoundError(f"no sample '{name}' in run {detail.info.run_id}")


def form_fields() -> list[Any]:
    """The options the start form offers, as the trainer declares them (name, help, default)."""
    from hub.train.api import declared_options

    return [s for s in declared_options() if s.opt.web]


def start_run(values: dict[str, Any], settings: Settings, jobs: JobQueue) -> Job:
    """Check the form's options as ``hub train`` would (every refusal that needs no model, so a mistake is shown on
    the form), then queue the run as a job: it trains through :func:`hub.train.api.train`, shows in /jobs while it
    waits and runs, and in /runs (its folder, written by the trainer alone) from its first step."""
    from hub.train.api import check_train, new_run_id, train

    given: dict[str, Any] = {}
    for spec in form_fields():
        text = str(values.get(spec.name) or "").strip()
        if text:
            given[spec.name] = [text] if spec.name == "sample_prompts" else text
    missing = [f"--{n.replace('_', '-')}" for n in ("images", "token", "class_word") if n not in given]
    if missing:
        hint = "the pictures' folder, the trigger token and the class word"
        raise UsageError(f"missing {', '.join(missing)}", hint=hint)
    o = check_train(given, settings)
    run_id = new_run_id()

    def work(progress: Any) -> JobOutcome:
        result = train(**given, run_id=run_id, settings=settings, progress=progress)
        return JobOutcome(result=result.model_dump(mode="json"), redirect=f"/runs/{run_id}")

    return jobs.submit("train", f"train {o.adapter_name} ({run_id})", work)
