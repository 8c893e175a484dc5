"""The run folder ``<home>/runs/<run_id>/``, and the only module that writes one: its id, ``run.json`` (rewritten
atomically), ``log.jsonl`` (appended one line per step), ``checkpoints/step-….pt`` (LoRA factors, optimizer and
scheduler state; read back with ``weights_only=True``), which run ``--resume`` continues; ``samples/``,
``loss.png`` and ``README.md`` are written into the folder it names. Readers never need the process that writes:
they build the pydantic results of :mod:`hub.train.results`.

RNG state is not checkpointed: every picture of every step seeds its own generators from (seed, step, position)
(:mod:`hub.train.batches`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import BadFileError, ConflictError, NotFoundError, UsageError
from hub.paths import Paths, give_umask_mode

if TYPE_CHECKING:
    from hub.train.results import RunDetail, RunInfo

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


@dataclass(frozen=True)
class LogRow:
    """One optimizer step of ``log.jsonl`` (a logged loss is always finite: a NaN stops the run first)."""

    step: int
    loss: float
    lr: float
    seconds: float  # since the run (or its resumed part) started

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> LogRow:
        """Raises ValueError for a line that is not a whole row (the writer may be half-way through it)."""
        try:
            d = json.loads(line)
            return cls(step=int(d["step"]), loss=float(d["loss"]), lr=float(d["lr"]), seconds=float(d["seconds"]))
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a log row: {line[:80]!r}") from e


def runs_root(paths: Paths) -> Path:
    return paths.home / "runs"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def check_run_id(run_id: str) -> str:
    if not RUN_ID.match(run_id):
        raise UsageError(f"bad run id {run_id!r}", hint="letters, digits, '.', '_' and '-' (at most 80)")
    return run_id


def check_new_run(paths: Paths, run_id: str) -> None:
    """A new run never writes into another run's folder: ``--run-id`` of an existing run is refused (exit 4)."""
    if (runs_root(paths) / check_run_id(run_id)).exists():
        raise ConflictError(f"run '{run_id}' exists", hint="--resume it, or give another --run-id")


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    give_umask_mode(fd)  # a user's file, not a 0600 temp
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunFolder:
    """The writer's handle on one run folder (only the main process of a distributed run writes)."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self.samples = folder / "samples"
        self.checkpoints = folder / "checkpoints"
        self.log_path = folder / "log.jsonl"
        self.loss_png = folder / "loss.png"
        self.card = folder / "README.md"
        self.info_path = folder / "run.json"

    @classmethod
    def create(cls, paths: Paths, run_id: str) -> RunFolder:
        folder = runs_root(paths) / check_run_id(run_id)
        for p in (folder, folder / "samples", folder / "checkpoints"):
            p.mkdir(parents=True, exist_ok=True)
        return cls(folder)

    def read_info(self) -> dict[str, Any]:
        try:
            return json.loads(self.info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def update(self, **fields: Any) -> None:
        info = self.read_info()
        info.update(fields)
        write_json_atomic(self.info_path, info)

    def log_rows(self) -> list[LogRow]:
        return read_log(self.log_path)

    def truncate_log(self, last_step: int) -> None:
        """On resume: keep the rows up to the checkpoint's step (later ones are trained again)."""
        rows = [r for r in self.log_rows() if r.step <= last_step]
        self.log_path.write_text("".join(r.to_json() + "\n" for r in rows), encoding="utf-8")

    def append_log(self, row: LogRow) -> None:
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(row.to_json() + "\n")

    def save_checkpoint(self, step: int, state: dict[str, Any], *, keep: int) -> Path:
        return save_checkpoint(self.checkpoints, step, state, keep=keep)


def read_log(path: Path) -> list[LogRow]:
    rows: list[LogRow] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return rows
    for line in lines:
        try:
            rows.append(LogRow.from_json(line))
        except ValueError:  # a line being written right now
            continue
    return rows


def _info(folder: Path, rows: list[LogRow] | None = None) -> RunInfo | None:
    from hub.train.results import RunInfo

    data = RunFolder(folder).read_info()
    if not data.get("run_id"):
        return None
    if rows is None:
        rows = read_log(folder / "log.jsonl")
    if rows:
        data.setdefault("step", rows[-1].step)
        data["step"] = rows[-1].step
        data["last_loss"] = rows[-1].loss
    if data.get("status") == "running" and not _alive(data.get("pid")):
        data["status"] = "failed"
        data["error"] = data.get("error") or "the training process ended without finishing"  # run.json: null
    data["run_dir"] = str(folder)
    try:
        return RunInfo.model_validate(data)
    except ValueError:
        return None


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_run_infos(paths: Paths) -> list[RunInfo]:
    root = runs_root(paths)
    if not root.is_dir():
        return []
    infos = [i for d in root.iterdir() if d.is_dir() and (i := _info(d)) is not None]
    return sorted(infos, key=lambda i: i.started_at, reverse=True)


def read_run_detail(paths: Paths, run_id: str) -> RunDetail:
    from hub.train.results import RunDetail

    folder = runs_root(paths) / check_run_id(run_id)
    rows = read_log(folder / "log.jsonl")
    info = _info(folder, rows)
    if info is None:
        raise NotFoundError(f"no training run {run_id!r}", hint="`hub runs` lists them")
    run = RunFolder(folder)
    return RunDetail(
        info=info,
        log=rows,
        samples=[str(p) for p in sorted(run.samples.glob("step-*.png"))],
        loss_curve=str(run.loss_png) if run.loss_png.is_file() else None,
        checkpoints=[str(p) for p in sorted(run.checkpoints.glob("step-*.pt"))],
    )


# ---------------------------------------------------------------- checkpoints and resume

NAME = re.compile(r"^step-(\d+)\.pt$")
FORMAT = "hub-train-checkpoint-1"


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"step-{step:06d}.pt"


def checkpoints_in(folder: Path) -> list[Path]:
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.pt") if (m := NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(folder: Path, step: int, state: dict[str, Any], *, keep: int) -> Path:
    """``checkpoints/step-….pt`` written atomically, the oldest pruned past ``keep`` (0: keep all)."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    target = checkpoint_path(folder, step)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    os.close(fd)
    try:
        torch.save({"format": FORMAT, "step": step, **state}, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if keep > 0:
        for old in checkpoints_in(folder)[:-keep]:
            old.unlink(missing_ok=True)
    return target


def load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle / zip errors of many kinds: one line for the user
        raise BadFileError(f"cannot read checkpoint: {e}".splitlines()[0], path=str(path)) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise BadFileError("not a hub train checkpoint", path=str(path))
    return state


def find_resume(ref: str, paths: Paths, *, name: str, run_id: str | None = None) -> tuple[Path, Path]:
    """(run folder, checkpoint) for ``--resume``: ``latest`` (the newest checkpoint of the newest unfinished run
    that trains the adapter ``name``; with ``run_id``, of that run only), a run id, a run folder or a checkpoint
    file. A finished run is never extended, nor a run of another adapter."""
    if ref == "latest":
        for info in list_run_infos(paths):
            if info.name != name or info.status == "done" or (run_id and info.run_id != run_id):
                continue
            found = checkpoints_in(Path(info.run_dir) / "checkpoints")
            if found:
                return Path(info.run_dir), found[-1]
        which = f"run '{run_id}' of '{name}'" if run_id else f"run of '{name}'"
        raise NotFoundError(
            f"no unfinished {which} with a checkpoint to resume",
            hint="checkpoints are written with --checkpoint-every N and on Ctrl-C; `hub runs` lists the runs",
        )
    p = Path(ref).expanduser()
    if not p.exists():
        p = runs_root(paths) / ref
    if p.is_file():
        folder, checkpoint = p.parent.parent, p
    elif p.is_dir() and (found := checkpoints_in(p / "checkpoints" if (p / "checkpoints").is_dir() else p)):
        folder, checkpoint = (p if (p / "checkpoints").is_dir() else p.parent), found[-1]
    else:
        raise NotFoundError(f"no checkpoint at {ref}", hint="--resume latest, a run id, a run folder or a .pt file")
    if run_id and folder.name != run_id:
        raise UsageError(f"--resume {ref} continues run '{folder.name}', not --run-id {run_id}",
                         hint="drop --run-id, or give the run's own id")  # fmt: skip
    return folder, checkpoint
