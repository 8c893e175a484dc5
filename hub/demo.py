"""The README's main job on the embedded default: write sample adapters and import them, train a LoRA on
pictures it draws, mix the trained LoRA with a sample, list the registry.

Everything is made locally (``--base tiny`` is a tiny Stable Diffusion pipeline built from configs),
so the demo runs offline on a fresh machine.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hub.context import Context, using
from hub.errors import UsageError
from hub.models import Adapter, DemoResult, Progress
from hub.paths import Paths

if TYPE_CHECKING:
    from hub.train.results import TrainResult


def run_demo(
    *,
    base: str = "tiny",
    ctx: Context | None = None,
    progress: Progress | None = None,
    train_progress: Progress | None = None,
) -> DemoResult:
    """Build the tiny base, write a folder of sample adapters with sidecars and import it, train a LoRA on drawn
    pictures (``preset=cpu-tiny``), mix it with a sample by SVD, list the registry."""
    from hub.bases.tiny import tiny_pipeline_dir
    from hub.registry import api as registry
    from hub.testing import write_sample_library

    if base != "tiny":
        raise UsageError(f"the demo knows only the embedded base 'tiny', not '{base}'", hint="hub demo --base tiny")
    with using(ctx) as user, _quiet_libraries():
        # The demo's own registry, inside the user's home: it never adds rows to the user's registry, and it
        # starts empty on every run so that a rerun gives the same result (no demo-mix-2). The tiny base and
        # the samples are kept (cache/, demo-samples/): a rerun does not rebuild them.
        demo = Context(dataclasses.replace(user.settings, home=demo_home(user)))
        with demo as c:
            _reset_registry(c.paths)
            c.paths.ensure()
            base_dir = tiny_pipeline_dir("sd1", paths=c.paths)
            samples = samples_dir(c)
            if not samples.is_dir() or not any(samples.rglob("*.safetensors")):
                write_sample_library(samples, base=base_dir)
            report = registry.import_dir(samples, progress=progress, ctx=c)
            trained = _train(c, train_progress)
            mixed, command = _mix_two(c, trained.adapter.name)
            return DemoResult(
                home=str(c.paths.home),
                base=base,
                base_dir=str(base_dir),
                samples_dir=str(samples),
                report=report,
                trained=trained.adapter,
                train_command=trained.command,
                train_seconds=trained.seconds,
                train_loss=(trained.first_loss, trained.final_loss),
                run_dir=trained.run_dir,
                mixed=mixed,
                mix_command=command,
                adapters=registry.ls(ctx=c),
            )


def demo_home(ctx: Context) -> Path:
    """Where the demo keeps its registry: ``<home>/demo`` (look at it with ``hub --home <that> ls``)."""
    return ctx.paths.home / "demo"


def _reset_registry(paths: Paths) -> None:
    """Empty the demo's registry (rows, stored blobs, previews) and its training run (a run id is never reused);
    keep the cached base and the samples."""
    for name in ("registry.db", "registry.db-wal", "registry.db-shm"):
        (paths.home / name).unlink(missing_ok=True)
    for folder in (paths.store, paths.previews, paths.tmp, paths.home / "runs" / "demo-train"):
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _quiet_libraries() -> Iterator[None]:
    """A first run shows what hub says, not transformers' advice or its "Writing model shards" bar.

    These libraries read the variables when first imported (in this block); a user's own setting wins."""
    quiet = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error", "DIFFUSERS_VERBOSITY": "error"}
    saved = {k: os.environ.get(k) for k in quiet}
    for k, v in quiet.items():
        os.environ.setdefault(k, v)
    try:
        yield
    finally:
        for k, before in saved.items():
            if before is None:
                os.environ.pop(k, None)


def _train(ctx: Context, progress: Progress | None) -> TrainResult:
    """A LoRA binding ``sks`` to the "ball" the drawn pictures show, on the tiny base (seconds on a CPU)."""
    from hub.testing import draw_training_pictures
    from hub.train.api import train

    pictures = draw_training_pictures(ctx.paths.home / "demo-pictures")
    return train(pictures, token="sks", class_word="ball", base="tiny", name="demo-sks-ball", preset="cpu-tiny",
                 seed=0, sample_prompts=["a photo of sks ball"], run_id="demo-train", ctx=ctx,
                 progress=progress)  # fmt: skip


def _mix_two(ctx: Context, trained: str) -> tuple[Adapter | None, str | None]:
    """Merge the trained LoRA with a plain kohya sample of the tiny base into a rank-8 one: lineage recorded."""
    from hub.compose.api import mix
    from hub.registry import api as registry

    samples = [
        a for a in registry.ls(format="kohya", ctx=ctx)
        if a.usable and a.arch == "tiny" and not a.source.startswith(("mixed:", "trained:"))
    ]  # fmt: skip
    if not samples:
        return None, None
    result = mix(
        [(trained, 0.7), (samples[0].name, 0.5)], method="svd", rank=8, name="demo-mix", device="cpu", ctx=ctx
    )
    return result.adapter, result.command


def samples_dir(ctx: Context) -> Path:
    return ctx.paths.home / "demo-samples"
