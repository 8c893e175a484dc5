"""Training runs as the trainer leaves them under ``<home>/runs/<run_id>/``: ``run.json`` (status, options,
base, times, adapter, error), ``log.jsonl`` (step, loss, lr, seconds), ``samples/step-*.png``, ``loss.png``.

The web UI's only reader of those files (``hub.train.api.list_runs``/``read_run`` read the same folder: this
module can be pointed at them). Starting a run spawns ``python -m cli train --images ... --run-id ID``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import tempfile
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
    total_steps: int = 0
    command: str | None = None
    steps_logged: int = 0
    step: int = 0  # the last step logged
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
    died = _died_early(run_id, status, folder, data.get("pid"))
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
        total_steps=int(data.get("total_steps") or 0),
        command=data.get("command"),
        samples=samples if samples_dir.is_dir() else [],
        steps_logged=len(log),
        step=log[-1].step if log else 0,
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
    folder = runs_dir(settings) / run_id
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
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


# Trainer processes this server started: polled so that one that died before writing its own status shows as
# failed (with its output), and reaped so it leaves no zombie (a zombie still answers kill(pid, 0)).
_children: dict[str, subprocess.Popen] = {}


def _died_early(run_id: str, status: str, folder: Path, pid: Any) -> str | None:
    if status != "running":
        return None
    child = _children.get(run_id)
    if child is None:  # started elsewhere (`hub train` in a terminal): is its process still there?
        return None if _alive(pid) else "the training process ended without finishing"
    if child.poll() is None:
        return None
    try:
        tail = (folder / "process.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
    except OSError:
        tail = []
    return f"the trainer exited with code {child.returncode}: " + (" / ".join(tail) or "no output")


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True  # no pid recorded: trust the status
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
