"""Training checkpoints: ``checkpoints/step-000050.pt`` with the LoRA factors, the optimizer and scheduler states
and the step; written atomically, the oldest pruned past the limit, read back with ``weights_only=True``.

RNG state is not saved because every step seeds its own generators from (seed, step): see
:mod:`hub.train.batches`.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from hub.errors import BadFileError, NotFoundError
from hub.paths import Paths, give_umask_mode
from hub.train.runs import list_run_infos, runs_root

NAME = re.compile(r"^step-(\d+)\.pt$")
FORMAT = "hub-train-checkpoint-1"


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"step-{step:06d}.pt"


def checkpoints_in(folder: Path) -> list[Path]:
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.pt") if (m := NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(folder: Path, step: int, state: dict[str, Any], *, keep: int) -> Path:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    target = checkpoint_path(folder, step)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    give_umask_mode(fd)  # a user's file, not a 0600 temp
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


def find_resume(ref: str, paths: Paths, *, name: str | None) -> tuple[Path, Path]:
    """(run folder, checkpoint) for ``--resume``: ``latest`` (the newest checkpoint of the newest run of the same
    adapter name, or of any run when unnamed), a run id, a run folder or a checkpoint file."""
    if ref == "latest":
        for info in list_run_infos(paths):
            if name and info.name != name:
                continue
            found = checkpoints_in(Path(info.run_dir) / "checkpoints")
            if found:
                return Path(info.run_dir), found[-1]
        raise NotFoundError(
            "no checkpoint to resume from" + (f" for '{name}'" if name else ""),
            hint="checkpoints are written with --checkpoint-every N and on Ctrl-C",
        )
    p = Path(ref).expanduser()
    if not p.exists():
        p = runs_root(paths) / ref
    if p.is_file():
        return p.parent.parent, p
    if p.is_dir():
        folder = p / "checkpoints" if (p / "checkpoints").is_dir() else p
        found = checkpoints_in(folder)
        if found:
            return folder.parent, found[-1]
    raise NotFoundError(f"no checkpoint at {ref}", hint="--resume latest, a run id, a run folder or a .pt file")
