"""The README's main job on the embedded default: write sample adapters and import them, draw pictures of a
subject the tiny base cannot draw (an orange ball) and train a LoRA binding it to ``sks``, render it before and
after and over the LoRA's weight, mix the trained LoRA with a sample, list the registry.

Everything is made locally (``--base tiny`` is the small text-to-image model shipped in the package, which draws
balls and boxes of six colours), so the demo runs offline on a fresh machine.
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
    pictures of an orange ball (``preset=cpu-dreambooth``), render "a photo of a sks ball on a green background"
    over its weight (a before/after picture and a weight grid), mix it with a sample by SVD, list the registry."""
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
            pictures = render_subject(c, trained.adapter.name)
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
                subject_dir=str(subject_dir(c)),
                pictures_dir=str(pictures.folder),
                prompt=pictures.prompt,
                before_after=str(pictures.before_after),
                weight_grid=str(pictures.weight_grid),
                subject_before=pictures.before,
                subject_after=pictures.after,
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
    """A LoRA binding ``sks`` to the orange ball the drawn pictures show, on the tiny base (about a minute on a
    CPU core)."""
    from hub.testing.subjects import CLASS_PROMPT, PROMPT, write_subject_dataset
    from hub.train.api import train

    pictures = write_subject_dataset(subject_dir(ctx), token="sks", colour="orange")
    return train(pictures, token="sks", class_word="ball", base="tiny", name="demo-sks-ball", preset="cpu-dreambooth",
                 seed=0, sample_prompts=[PROMPT.format(token="sks"), CLASS_PROMPT], run_id="demo-train", ctx=ctx,
                 progress=progress)  # fmt: skip


def subject_dir(ctx: Context) -> Path:
    return ctx.paths.home / "demo-subject"


@dataclasses.dataclass(frozen=True)
class SubjectPictures:
    folder: Path
    prompt: str
    before_after: Path
    weight_grid: Path
    before: float  # share of the before pictures that show the subject (read back from the pixels)
    after: float


WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SEEDS = (1, 2, 3, 4)


def render_subject(ctx: Context, lora: str) -> SubjectPictures:
    """One ``hub grid`` of the subject prompt over the LoRA's weight (0 to 1) and four seeds, kept as the weight
    grid; its first and last columns side by side are the before/after picture. Both under ``<home>/pictures``."""
    from PIL import Image

    from hub.gen.api import grid
    from hub.testing.subjects import PROMPT, rate, shows
    from hub.testing.tiny_world import read_picture

    folder = ctx.paths.home / "pictures"
    prompt = PROMPT.format(token="sks")
    result = grid(prompt, [(lora, WEIGHTS)], seeds=SEEDS, base="tiny", out=folder / "weight-grid.png", ctx=ctx)
    sheet = Image.open(result.path).convert("RGB")
    cells = {(c.weights[lora], c.seed): sheet.crop(c.box) for c in result.cells}
    before = [cells[(0.0, seed)] for seed in SEEDS]
    after = [cells[(1.0, seed)] for seed in SEEDS]
    path = save_before_after(before, after, prompt=prompt, lora=lora, out=folder / "before-after.png")
    return SubjectPictures(
        folder=folder,
        prompt=prompt,
        before_after=path,
        weight_grid=Path(result.path),
        before=rate([read_picture(p) for p in before], shows("orange")),
        after=rate([read_picture(p) for p in after], shows("orange")),
    )


def save_before_after(before: list, after: list, *, prompt: str, lora: str, out: Path) -> Path:
    """Two labelled rows of pictures (the same seeds): the base alone, then with the LoRA; the prompt on top."""
    from PIL import Image, ImageDraw

    from hub.train.pictures import font, grid, save_png

    rows = [grid(before, title="before: the tiny base alone", labels=[f"seed {s}" for s in SEEDS]),
            grid(after, title=f"after: with the LoRA {lora}", labels=[f"seed {s}" for s in SEEDS])]  # fmt: skip
    title = font(20)
    head = 44
    sheet = Image.new("RGB", (max(r.width for r in rows), head + sum(r.height for r in rows)), "white")
    ImageDraw.Draw(sheet).text((10, 12), f'"{prompt}"', fill=(30, 30, 30), font=title)
    y = head
    for row in rows:
        sheet.paste(row, (0, y))
        y += row.height
    return save_png(sheet, out)


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
