"""The README's main job on the embedded default: generate sample adapters, import them, list them.

Everything is made locally (``--base tiny`` is a tiny Stable Diffusion pipeline built from configs),
so the demo runs offline on a fresh machine.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.context import Context, using
from hub.errors import UsageError
from hub.models import Adapter, DemoResult, Progress
from hub.paths import Paths


def run_demo(*, base: str = "tiny", ctx: Context | None = None, progress: Progress | None = None) -> DemoResult:
    """Build the tiny base, write a folder of sample adapters with sidecars, import it, list the registry."""
    from hub.bases.tiny import tiny_pipeline_dir
    from hub.registry import api as registry
    from hub.testing import write_sample_library

    if base != "tiny":
        raise UsageError(f"the demo knows only the embedded base 'tiny', not '{base}'", hint="hub demo --base tiny")
    with using(ctx) as user, _quiet_libraries():
        # The demo's own registry, inside the user's home: it never adds rows to the user's registry, and it
        # starts empty on every run so that a rerun gives the same result (no demo-mix-2). The tiny base and
        # the samples are kept (cache/, demo-samples/): a rerun does not rebuild them.
        demo = Context(user.settings.model_copy(update={"home": demo_home(user)}))
        with demo as c:
            _reset_registry(c.paths)
            c.paths.ensure()
            base_dir = tiny_pipeline_dir("sd1", paths=c.paths)
            samples = samples_dir(c)
            if not samples.is_dir() or not any(samples.rglob("*.safetensors")):
                write_sample_library(samples, base=base_dir)
            report = registry.import_dir(samples, progress=progress, ctx=c)
            mixed, command = _mix_two(c)
            return DemoResult(
                home=str(c.paths.home),
                base=base,
                base_dir=str(base_dir),
                samples_dir=str(samples),
                report=report,
                mixed=mixed,
                mix_command=command,
                adapters=registry.ls(ctx=c),
            )


def demo_home(ctx: Context) -> Path:
    """Where the demo keeps its registry: ``<home>/demo`` (look at it with ``hub --home <that> ls``)."""
    return ctx.paths.home / "demo"


def _reset_registry(paths: Paths) -> None:
    """Empty the demo's registry (rows, stored blobs, previews); keep the cached base and the samples."""
    for name in ("registry.db", "registry.db-wal", "registry.db-shm"):
        (paths.home / name).unlink(missing_ok=True)
    for folder in (paths.store, paths.previews, paths.tmp):
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
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


def _mix_two(ctx: Context) -> tuple[Adapter | None, str | None]:
    """Merge the first two plain kohya LoRAs of the tiny base into a rank-8 one: composition with lineage."""
    from hub.compose.api import mix
    from hub.registry import api as registry

    loras = [
        a for a in registry.ls(format="kohya", ctx=ctx)
        if a.usable and a.arch == "unknown" and not a.source.startswith("mixed:")
    ]  # fmt: skip
    if len(loras) < 2:
        return None, None
    result = mix(
        [(loras[0].name, 0.7), (loras[1].name, 0.5)], method="svd", rank=8, name="demo-mix", device="cpu", ctx=ctx
    )
    return result.adapter, result.command


def samples_dir(ctx: Context) -> Path:
    return ctx.paths.home / "demo-samples"
