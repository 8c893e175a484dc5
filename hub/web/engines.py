"""The other packages' verbs the web UI runs, in one place: composition (mix), generation (gen, grid).

Each is imported when first used (torch and diffusers load on the first job, not at start-up), and each
call is made for the app's registry home.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hub.context import Context
from hub.settings import Settings


def mix(
    specs: Sequence[tuple[str, float]],
    *,
    method: str,
    rank: int | str | None,
    name: str | None,
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """``hub mix`` on the app's home: its MixResult (the new adapter is ``.adapter``). Runs in the job thread,
    so the context (and its SQLite connection) is made there."""
    from hub.compose.api import mix as compose_mix

    with Context(settings) as ctx:
        return compose_mix(
            list(specs), method=method, rank=rank, name=name, device=settings.device, progress=progress, ctx=ctx
        )


class Renderers:
    """The last pipeline loaded, kept for the next job on the same base: jobs run one at a time, and loading a
    base costs more than rendering with it. A job on another base drops it first (one pipeline in memory)."""

    def __init__(self) -> None:
        self._key: tuple[str, str] | None = None
        self._renderer: Any = None

    def generate(self, spec: dict[str, Any], *, out: Path, settings: Settings, progress: Any = None) -> Any:
        """``hub gen`` for a validated test-page request: its GenResult. Runs in the job thread (its context too)."""
        api = gen_api()
        options = {k: v for k, v in spec.items() if k not in ("prompt", "loras")}
        with Context(settings) as ctx:
            if not spec.get("base"):
                # no base given: hub gen picks the adapters' recorded one (and loads it for this job only)
                return api.generate(
                    spec["prompt"], loras=spec["loras"], out=out, progress=progress, ctx=ctx, **options
                )
            request = api.make_request(spec["prompt"], loras=spec["loras"], **options)
            key = (str(settings.home), spec["base"])
            if self._key != key:
                self._key, self._renderer = None, None  # free the old pipeline before loading the next
                self._renderer = api.Renderer(spec["base"], settings=settings)
                self._key = key
            return self._renderer.render(request, out=out, progress=progress, ctx=ctx)


def grid(
    prompt: str,
    axes: list[tuple[str, list[float]]],
    *,
    seeds: list[int],
    out: Path,
    settings: Settings,
    progress: Any = None,
    **options: Any,
) -> Any:
    """``hub grid``: one PNG of the weights' X/Y grid (the pipeline is loaded once for the whole grid)."""
    with Context(settings) as ctx:
        return gen_api().grid(prompt, axes=axes, seeds=seeds or (1,), out=out, progress=progress, ctx=ctx, **options)


def gen_api() -> Any:
    """``hub.gen.api`` (generate, grid, Renderer), imported on the first generation job."""
    import hub.gen.api as api

    return api
