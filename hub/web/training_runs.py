"""Training runs as the trainer leaves them under ``<home>/runs/<run_id>/``: ``run.json`` (status, options,
base, times, adapter, error), ``log.jsonl`` (step, loss, lr, seconds), ``samples/*.png``, ``loss.png``.

The web UI's only reader of those files: when ``hub.train.api`` (``list_runs``/``read_run``) lands, point
``list_runs``/``read_run`` here at it. Starting a run spawns ``python -m cli train ... --run-id ID``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from hub.errors import NotFoundError, UsageError
from hub.settings import Settings

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.(png|jpg|jpeg|webp)$")


class LossPoint(BaseModel):
    step: int
    loss: float
    lr: float | None = None
    seconds: float | None = None


class RunInfo(BaseModel):
    run_id: str
    status: str = "unknown"  # running | done | failed | interrupted
    options: dict[str, Any] = Field(default_factory=dict)
    base: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    adapter_id: str | None = None
    adapter_name: str | None = None
    error: str | None = None
    samples: list[str] = Field(default_factory=list)  # file names under samples/, sorted by step
    steps_logged: int = 0
    last_loss: float | None = None


def runs_dir(settings: Settings) -> Path:
    return settings.paths.home / "runs"


def run_dir(run_id: str, settings: Settings) -> Path:
    if not RUN_ID.match(run_id):
        raise NotFoundError(f"no run '{run_id}'")
    folder = runs_dir(settings) / run_id
    if not (folder / "run.json").is_file():
        raise NotFoundError(f"no run '{run_id}'", hint="the runs page lists them")
    return folder


def _step_key(name: str) -> tuple[int, str]:
    digits = re.findall(r"\d+", name)
    return (int(digits[-1]) if digits else -1, name)


def read_run(run_id: str, settings: Settings) -> RunInfo:
    folder = run_dir(run_id, settings)
    try:
        data = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {"status": "unknown", "error": "run.json cannot be read (being written?)"}
    adapter = data.get("adapter") if isinstance(data.get("adapter"), dict) else {}
    samples_dir = folder / "samples"
    samples = sorted((p.name for p in samples_dir.glob("*") if IMAGE.match(p.name)), key=_step_key)
    log = read_log(run_id, settings)
    status = str(data.get("status", "unknown"))
    died = _died_early(run_id, status, folder)
    if died:
        status, data["error"] = "failed", died
    return RunInfo(
        run_id=run_id,
        status=status,
        options=data.get("options") if isinstance(data.get("options"), dict) else {},
        base=data.get("base"),
        started_at=data.get("started_at"),
        finished_at=data.get("finished_at"),
        adapter_id=data.get("adapter_id") or adapter.get("id"),
        adapter_name=data.get("adapter_name") or adapter.get("name"),
        error=data.get("error"),
        samples=samples if samples_dir.is_dir() else [],
        steps_logged=len(log),
        last_loss=log[-1].loss if log else None,
    )


def list_runs(settings: Settings) -> list[RunInfo]:
    """Every run, newest first."""
    root = runs_dir(settings)
    if not root.is_dir():
        return []
    runs = [read_run(p.name, settings) for p in root.iterdir() if RUN_ID.match(p.name) and (p / "run.json").is_file()]
    return sorted(runs, key=lambda r: r.started_at or "", reverse=True)


def read_log(run_id: str, settings: Settings, after: int = -1) -> list[LossPoint]:
    """The loss log, from step ``after`` + 1 on; a line being written right now is skipped, not an error."""
    path = run_dir(run_id, settings) / "log.jsonl"
    points = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            row = json.loads(line)
            point = LossPoint(
                step=int(row["step"]), loss=float(row["loss"]), lr=row.get("lr"), seconds=row.get("seconds")
            )
        except (ValueError, KeyError, TypeError):
            continue
        if point.step > after:
            points.append(point)
    return points


def sample_path(run_id: str, name: str, settings: Settings) -> Path:
    """A sample image of a run, by its file name (no separators: only files the trainer wrote there)."""
    if not IMAGE.match(name):
        raise NotFoundError(f"no sample '{name}'")
    path = run_dir(run_id, settings) / "samples" / name
    if not path.is_file():
        raise NotFoundError(f"no sample '{name}' in run {run_id}")
    return path


TRAIN_OPTIONS = ("data", "base", "name", "steps", "rank", "lr", "resolution", "batch_size", "seed", "trigger")


def start_run(options: dict[str, Any], settings: Settings) -> str:
    """Spawn ``python -m cli train DATA --opt value ... --run-id ID`` for this home; returns the run id.

    The trainer writes run.json itself; a process that dies before it does is reported by ``read_run`` as
    missing, so this writes a first run.json with status "starting" (the trainer overwrites it)."""
    data = str(options.get("data") or "").strip()
    if not data:
        raise UsageError("choose the folder of training images")
    run_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    argv = [sys.executable, "-m", "cli", "train", data, "--run-id", run_id]
    for key in TRAIN_OPTIONS[1:]:
        value = str(options.get(key) or "").strip()
        if value:
            argv += [f"--{key.replace('_', '-')}", value]
    folder = runs_dir(settings) / run_id
    folder.mkdir(parents=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    first = {"run_id": run_id, "status": "starting", "options": options, "started_at": started, "argv": argv[1:]}
    (folder / "run.json").write_text(json.dumps(first, indent=2), encoding="utf-8")
    env = {**os.environ, "LORAHUB_HOME": str(settings.home)}
    with open(folder / "process.log", "wb") as log:
        _children[run_id] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    return run_id


# Trainer processes this server started: polled so that one that died before writing its own run.json shows
# as failed (with its output) instead of "starting" forever, and reaped so it leaves no zombie.
_children: dict[str, subprocess.Popen] = {}


def _died_early(run_id: str, status: str, folder: Path) -> str | None:
    child = _children.get(run_id)
    if child is None or status not in ("starting", "running") or child.poll() is None:
        return None
    try:
        tail = (folder / "process.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
    except OSError:
        tail = []
    return f"the trainer exited with code {child.returncode}: " + (" / ".join(tail) or "no output")
