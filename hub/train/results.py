"""What the trainer returns and what a run folder reads back as (pydantic, so the CLI and web UI share them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hub.models import Adapter, Frozen
from hub.train.runs import LogRow  # a stdlib dataclass: the training loop writes rows without pydantic

__all__ = ["LogRow", "RunDetail", "RunInfo", "RunStatus", "TrainResult"]

RunStatus = Literal["running", "done", "failed", "interrupted"]


class TrainResult(Frozen):
    adapter: Adapter
    path: str  # the registered file (store blob)
    run_id: str
    run_dir: str
    steps: int
    seconds: float
    final_loss: float
    first_loss: float
    samples: list[str] = Field(default_factory=list)  # sample grids, oldest first
    loss_curve: str
    card: str  # README.md in the run folder, ready for `hub push`
    command: str  # the recipe: the `hub train ...` command that retrains it
    dataset_sha256: str
    images: int
    class_images: int = 0
    class_images_generated: int = 0  # prior pictures made by this run (0 when all came from the cache)
    skipped: int = 0  # files in the dataset folder that are not readable images
    process_index: int = 0  # under a distributed launch every process returns; 0 is the one that wrote
    world_size: int = 1


class RunInfo(Frozen):
    """``run.json``: what the web UI lists."""

    run_id: str
    status: RunStatus
    name: str | None = None
    base: str
    options: dict[str, Any] = Field(default_factory=dict)
    started_at: str
    finished_at: str | None = None
    total_steps: int
    step: int = 0  # the last step logged
    last_loss: float | None = None
    adapter_id: str | None = None
    adapter_name: str | None = None
    error: str | None = None
    pid: int | None = None
    command: str | None = None
    run_dir: str = ""


class RunDetail(Frozen):
    info: RunInfo
    log: list[LogRow] = Field(default_factory=list)
    samples: list[str] = Field(default_factory=list)
    loss_curve: str | None = None
    checkpoints: list[str] = Field(default_factory=list)
