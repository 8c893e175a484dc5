"""The trainer's verbs: ``train`` (pictures -> a registered LoRA), ``list_runs`` and ``read_run``.

``train`` runs the same way in one process and under ``accelerate launch`` (every process calls it; the main one
writes the run folder and registers the result). Every run leaves ``<home>/runs/<run_id>/`` with ``run.json``,
``log.jsonl``, ``samples/``, ``loss.png``, ``checkpoints/`` and ``README.md``, whatever its outcome.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.context import Context
from hub.paths import Paths
from hub.settings import Settings, load_settings
from hub.train.loop import OnStep, StopFlag
from hub.train.options import resolve_options
from hub.train.runs import list_run_infos, read_run_detail

if TYPE_CHECKING:  # pydantic results: a training process imports them once its steps are over
    from hub.models import Progress
    from hub.train.results import RunDetail, RunInfo, TrainResult

__all__ = ["list_runs", "read_run", "train"]


def _paths(settings: Settings | None, ctx: Context | None) -> Paths:
    return ctx.paths if ctx is not None else (settings or load_settings()).paths


def list_runs(settings: Settings | None = None, *, ctx: Context | None = None) -> list[RunInfo]:
    """Every run under ``<home>/runs``, newest first (a run whose process died shows as failed)."""
    return list_run_infos(_paths(settings, ctx))


def read_run(run_id: str, settings: Settings | None = None, *, ctx: Context | None = None) -> RunDetail:
    """One run: its ``run.json``, every logged step, its sample grids, loss curve and checkpoints."""
    return read_run_detail(_paths(settings, ctx), run_id)


def train(
    images: str | Path,
    *,
    token: str,
    class_word: str,
    base: str = "tiny",
    name: str | None = None,
    base_config: str | None = None,
    steps: int | None = None,
    lr: float | None = None,
    rank: int | None = None,
    alpha: float | None = None,
    resolution: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    instance_prompt: str | None = None,
    class_prompt: str | None = None,
    dropout: float | None = None,
    conv: bool | None = None,
    conv_rank: int | None = None,
    train_text_encoder: bool | None = None,
    text_encoder_lr: float | None = None,
    optimizer: str | None = None,
    weight_decay: float | None = None,
    scheduler: str | None = None,
    warmup_steps: int | None = None,
    grad_accum: int | None = None,
    max_grad_norm: float | None = None,
    mixed_precision: str | None = None,
    gradient_checkpointing: bool | None = None,
    min_snr_gamma: float | None = None,
    noise_offset: float | None = None,
    crop: str | None = None,
    flip: bool | None = None,
    buckets: bool | None = None,
    repeats: int | None = None,
    cache_latents: bool | None = None,
    caption: str | None = None,
    caption_model: str | None = None,
    overwrite_captions: bool | None = None,
    prior_images: int | None = None,
    prior_weight: float | None = None,
    class_images: str | None = None,
    prior_from_base: bool | None = None,
    sample_prompts: list[str] | None = None,
    sample_every: int | None = None,
    sample_steps: int | None = None,
    checkpoint_every: int | None = None,
    checkpoint_limit: int | None = None,
    resume: str | None = None,
    device: str | None = None,
    preset: str | None = None,
    run_id: str | None = None,
    settings: Settings | None = None,
    ctx: Context | None = None,
    progress: Progress | None = None,
    on_step: OnStep | None = None,
) -> TrainResult:
    """Train a LoRA on ``images`` (a folder, a .zip, or kohya's ``<repeats>_<tokens>`` layout) binding ``token``
    to ``class_word``, write it as a kohya file with full metadata and register it. Options left ``None`` come from
    ``preset`` then the defaults (:class:`hub.train.options.TrainOptions`). ``progress(done, total)`` and
    ``on_step(row)`` (step, loss, lr, seconds) are called after every step; raising KeyboardInterrupt from either
    stops the run like Ctrl-C. ``ctx`` (or ``settings``) says which home to use."""
    given = {k: v for k, v in locals().items() if k not in ("run_id", "settings", "ctx", "progress", "on_step")}
    given["images"] = str(images)
    o = resolve_options(given)
    from hub.train.preflight import preflight
    from hub.train.session import TrainSession

    with _context(settings, ctx) as c:
        preflight(o, c.paths)  # every refusal that needs no model, before the run folder exists
        session = TrainSession(o, c, run_id=run_id)
        with _ctrl_c(session.stop):
            return session.run(progress, on_step)


def _context(settings: Settings | None, ctx: Context | None) -> AbstractContextManager[Context]:
    """``ctx`` as given (its owner closes it), else a context on ``settings`` (or the environment's)."""
    return nullcontext(ctx) if ctx is not None else Context(settings or load_settings())


@contextmanager
def _ctrl_c(stop: StopFlag) -> Iterator[None]:
    """The first Ctrl-C asks the loop to stop at the next step boundary (a checkpoint is written); a second one
    interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
