"""Training runs for the web UI: read through :mod:`hub.train.api` (``list_runs``, ``read_run``), and started as
their own process (``python -m cli train --images ... --run-id ID``).

What only this server knows is added to what the trainer's folder says: a trainer it started that exited before
writing its own status reads as failed, with its exit code and the last lines it printed.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import NotFoundError, UsageError
from hub.paths import give_umask_mode
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.train.results import RunDetail, RunInfo


def list_runs(settings: Settings) -> list[RunInfo]:
    """Every run, newest first."""
    from hub.train.api import list_runs as trainer_runs

    return [_with_exit(info) for info in trainer_runs(settings)]


def read_run(run_id: str, settings: Settings) -> RunDetail:
    """One run with its log and samples; an id that cannot name a run is a missing page, not a usage mistake."""
    from hub.train.api import read_run as trainer_run

    try:
        detail = trainer_run(run_id, settings)
    except UsageError:
        raise NotFoundError(f"no run '{run_id}'", hint="the runs page lists them") from None
    return detail.model_copy(update={"info": _with_exit(detail.info)})


def sample_path(detail: RunDetail, name: str) -> Path:
    """A sample image of a run by its file name: only the files the trainer's reader lists, never a path."""
    for sample in detail.samples:
        if Path(sample).name == name:
            return Path(sample)
    raise NotFoundError(f"no sample '{name}' in run {detail.info.run_id}")


# `hub train` options the form offers (the first three are required), in the trainer's flag names
TRAIN_OPTIONS = (
    "images",
    "token",
    "class_word",
    "base",
    "name",
    "preset",
    "steps",
    "rank",
    "lr",
    "resolution",
    "seed",
    "sample_prompt",
    "sample_every",
)
REQUIRED = {
    "images": "the folder of training pictures",
    "token": "the trigger token (e.g. sks)",
    "class_word": "the class word (e.g. dog)",
}


def start_run(options: dict[str, Any], settings: Settings) -> str:
    """Spawn ``python -m cli train --images ... --run-id ID`` on this home; returns the run id.

    run.json is written first (status running, the pid once known), so the run is listed at once and a process
    that dies before the trainer writes its own status reads as failed, not as running forever."""
    values = {k: str(options.get(k) or "").strip() for k in TRAIN_OPTIONS}
    missing = [what for key, what in REQUIRED.items() if not values[key]]
    if missing:
        raise UsageError(f"missing {', '.join(missing)}")
    run_id = time.strftime("%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(3)
    argv = [sys.executable, "-m", "cli", "train"]
    for key in TRAIN_OPTIONS:
        if values[key]:
            argv += [f"--{key.replace('_', '-')}", values[key]]
    argv += ["--run-id", run_id]
    folder = settings.paths.home / "runs" / run_id
    folder.mkdir(parents=True)
    info = {
        "run_id": run_id,
        "status": "running",
        "base": values["base"] or "tiny",
        "name": values["name"] or None,
        "options": {k: v for k, v in values.items() if v},
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "total_steps": int(values["steps"]) if values["steps"].isdigit() else 0,
        "command": shlex.join(["hub", *argv[3:]]),
    }
    _write_json(folder / "run.json", info)
    env = {**os.environ, "LORAHUB_HOME": str(settings.home)}
    with open(folder / "process.log", "wb") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    _children[run_id] = child
    # the trainer needs seconds to import torch before it touches run.json: adding the pid now does not race it
    _write_json(folder / "run.json", {**info, "pid": child.pid})
    return run_id


def _write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".run-", dir=path.parent)
    give_umask_mode(fd)  # a user's file, not a 0600 temp
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


# Trainer processes this server started: polled so that one that died before writing its own status shows as
# failed (with its output), and reaped so it leaves no zombie (a zombie still answers kill(pid, 0)).
_children: dict[str, subprocess.Popen] = {}


def _with_exit(info: RunInfo) -> RunInfo:
    """``info``, failed with the exit code and output of this server's trainer process when that ended without
    the trainer saying so (no ``finished_at``: the trainer writes one however it ends)."""
    child = _children.get(info.run_id)
    if child is None or info.finished_at is not None or info.status not in ("running", "failed"):
        return info
    if child.poll() is None:
        return info
    try:
        log = Path(info.run_dir) / "process.log"
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
    except OSError:
        tail = []
    error = f"the trainer exited with code {child.returncode}: " + (" / ".join(tail) or "no output")
    return info.model_copy(update={"status": "failed", "error": error})
