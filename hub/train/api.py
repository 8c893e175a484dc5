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
from hub.train.options import Spec, TrainOptions, option_specs, resolve_options
from hub.train.runs import check_new_run, list_run_infos, new_run_id, read_run_detail

if TYPE_CHECKING:  # pydantic results: a training process imports them once its steps are over
    from hub.models import Progress
    from hub.train.results import RunDetail, RunInfo, TrainResult

__all__ = ["check_train", "declared_options", "list_runs", "new_run_id", "read_run", "train"]


def _paths(settings: Settings | None, ctx: Context | None) -> Paths:
    return ctx.paths if ctx is not None else (settings or load_settings()).paths


def list_runs(settings: Settings | None = None, *, ctx: Context | None = None) -> list[RunInfo]:
    """Every run under ``<home>/runs``, newest first (a run whose process died shows as failed)."""
    return list_run_infos(_paths(settings, ctx))


def read_run(run_id: str, settings: Settings | None = None, *, ctx: Context | None = None) -> RunDetail:
    """One run: its ``run.json``, every logged step, its sample grids, loss curve and checkpoints."""
    return read_run_detail(_paths(settings, ctx), run_id)


def declared_options() -> tuple[Spec, ...]:
    """Every option of ``train`` as declared once (name, type, default, bounds, help): for forms and docs."""
    return option_specs()


def check_train(
    options: dict[str, Any], settings: Settings | None = None, *, ctx: Context | None = None
) -> TrainOptions:
    """``options`` resolved and checked as ``train`` would, with every refusal that needs no model (the pictures,
    the device, the home, the base); nothing is written."""
    o = resolve_options(options)
    from hub.train.preflight import preflight

    preflight(o, _paths(settings, ctx))
    return o


def train(
    images: str | Path,
    *,
    token: str,
    class_word: str,
    run_id: str | None = None,
    settings: Settings | None = None,
    ctx: Context | None = None,
    progress: Progress | None = None,
    on_step: OnStep | None = None,
    **options: Any,
) -> TrainResult:
    """Train a LoRA on ``images`` (a folder, a .zip, or kohya's ``<repeats>_<tokens>`` layout) binding ``token``
    to ``class_word``, write it as a kohya file with full metadata and register it. ``options`` are those of
    :class:`hub.train.options.TrainOptions` (``hub train --help`` lists them with their defaults); those left out
    or ``None`` come from ``preset`` then the defaults. ``progress(done, total)`` and ``on_step(row)`` (step,
    loss, lr, seconds) are called after every step; raising KeyboardInterrupt from either stops the run like
    Ctrl-C. ``ctx`` (or ``settings``) says which home to use; ``run_id`` names the run folder."""
    o = resolve_options({**options, "images": str(images), "token": token, "class_word": class_word})
    from hub.train.preflight import preflight
    from hub.train.session import TrainSession

    with _context(settings, ctx) as c:
        preflight(o, c.paths)  # every refusal that needs no model, before the run folder exists
        if run_id and not o.resume:  # every process checks before the accelerator's rendezvous; the main one
            check_new_run(c.paths, run_id)  # creates the folder only after it
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
