"""The other packages' verbs the web UI runs, in one place: composition (mix), generation (gen, grid).

Each is imported when first used (torch and diffusers load on the first job, not at start-up), and each
call is made for the app's registry home.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from hub.errors import ConfigError, DependencyError
from hub.settings import Settings, load_settings


def _for_home(fn: Callable[..., Any], settings: Settings, **kwargs: Any) -> Any:
    """Call ``fn`` on ``settings``' registry. Verbs without a ``settings`` parameter read LORAHUB_HOME, so the
    app refuses rather than write into another registry than the one it shows."""
    if "settings" in inspect.signature(fn).parameters:
        return fn(**kwargs, settings=settings)
    if load_settings().home.resolve() != settings.home.resolve():
        raise ConfigError(
            f"{fn.__module__}.{fn.__name__} works on LORAHUB_HOME, not on {settings.home}",
            hint=f"start the server with LORAHUB_HOME={settings.home}",
        )
    return fn(**kwargs)


def mix(
    specs: Sequence[tuple[str, float]],
    *,
    method: str,
    rank: int | str | None,
    name: str | None,
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """``hub mix``: returns its MixResult (the new adapter is ``.adapter``)."""
    from hub.composition import mix as compose_mix  # moving to hub.compose.api

    return _for_home(
        compose_mix,
        settings,
        specs=list(specs),
        method=method,
        rank=rank,
        name=name,
        device=settings.device,
        progress=progress,
    )


def gen_api() -> Any:
    """``hub.gen.api`` (generate, grid), or a clear error while this build has no generation."""
    try:
        from hub.gen import api
    except ImportError as e:
        raise DependencyError(
            f"image generation is not available in this build ({e})", hint="hub gen arrives with issue 10's gen work"
        ) from e
    return api
