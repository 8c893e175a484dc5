"""The README's main job on the embedded default: generate sample adapters, import them, list them.

Everything is made locally (``--base tiny`` is a tiny Stable Diffusion pipeline built from configs),
so the demo runs offline on a fresh machine.
"""

from __future__ import annotations

from pathlib import Path

from hub.context import Context, using
from hub.errors import UsageError
from hub.models import Adapter, DemoResult, Progress


def run_demo(*, base: str = "tiny", ctx: Context | None = None, progress: Progress | None = None) -> DemoResult:
    """Build the tiny base, write a folder of sample adapters with sidecars, import it, list the registry."""
    from hub.bases.tiny import tiny_pipeline_dir
    from hub.registry import api as registry
    from hub.testing import write_sample_library

    if base != "tiny":
        raise UsageError(f"the demo knows only the embedded base 'tiny', not '{base}'", hint="hub demo --base tiny")
    with using(ctx) as c:  # one home, one registry connection: the demo lists the registry it mixed into
        c.paths.ensure()
        base_dir = tiny_pipeline_dir("sd1", paths=c.paths)
        samples = samples_dir(c)
        if not samples.is_dir() or not any(samples.rglob("*.safetensors")):
            write_sample_library(samples, base=base_dir)
        report = registry.import_dir(samples, progress=progress, ctx=c)
        mixed, command = _mix_two(c)
        return DemoResult(
            base=base,
            base_dir=str(base_dir),
            samples_dir=str(samples),
            report=report,
            mixed=mixed,
            mix_command=command,
            adapters=registry.ls(ctx=c),
        )


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
