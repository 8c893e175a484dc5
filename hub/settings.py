"""Settings, read from the environment when :func:`load_settings` is called (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hub.errors import ConfigError
from hub.paths import Paths, default_home

# LORAHUB_NSFW_BLUR: previews above this Civitai level are blurred in the web gallery and detail pages (Civitai's
# levels are bit flags: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX). "off" blurs nothing; the default blurs R and above.
NSFW_BLUR_LEVELS = {"pg": 1, "pg13": 2, "r": 4, "x": 8, "xxx": 16, "off": 1 << 30}
DEFAULT_NSFW_BLUR = "pg13"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Read by every command before anything else: a dataclass, so it builds no pydantic validator (and never
    loads pydantic's plugins) on the path of `hub ls --json`."""

    home: Path
    home_from: str = "the default home"  # where `home` came from, for error messages: --home, LORAHUB_HOME
    debug: bool = False
    # "auto" uses CUDA when torch sees a GPU; compute-heavy operations take this as their default.
    device: str = "auto"
    # previews whose NSFW level is above this are blurred (LORAHUB_NSFW_BLUR: pg, pg13, r, x, xxx or off)
    nsfw_blur_above: int = NSFW_BLUR_LEVELS[DEFAULT_NSFW_BLUR]

    def __post_init__(self) -> None:
        # A str from the environment or a caller; a relative one (`--home h`) is made absolute here, once, so that
        # nothing later depends on the working folder of the command that wrote it.
        object.__setattr__(self, "home", Path(os.path.abspath(Path(self.home).expanduser())))

    @property
    def paths(self) -> Paths:
        return Paths(self.home)


def load_settings(**overrides: object) -> Settings:
    """Flags passed as ``overrides`` win over ``LORAHUB_*`` environment variables, which win over defaults."""
    values: dict[str, object] = {
        "home": default_home(),
        "debug": _env_flag("LORAHUB_DEBUG"),
        "device": os.environ.get("LORAHUB_DEVICE", "auto"),
        "nsfw_blur_above": _nsfw_blur(os.environ.get("LORAHUB_NSFW_BLUR", "")),
    }
    if os.environ.get("LORAHUB_HOME"):
        values["home_from"] = "LORAHUB_HOME"
    if overrides.get("home") is not None:
        values["home_from"] = "--home"
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]  # keyword arguments of Settings; a wrong one raises


def _nsfw_blur(raw: str) -> int:
    key = raw.strip().lower().replace("-", "").replace(" ", "").replace("_", "") or DEFAULT_NSFW_BLUR
    if key in ("none", "no", "0", "false"):
        key = "off"
    if key not in NSFW_BLUR_LEVELS:
        raise ConfigError(
            f"LORAHUB_NSFW_BLUR must be a level, not {raw!r}",
            hint="pg, pg13, r, x, xxx (previews above it are blurred) or off",
        )
    return NSFW_BLUR_LEVELS[key]
