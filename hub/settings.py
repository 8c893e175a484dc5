"""Settings, read from the environment when :func:`load_settings` is called (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hub.paths import Paths, default_home


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
    }
    if os.environ.get("LORAHUB_HOME"):
        values["home_from"] = "LORAHUB_HOME"
    if overrides.get("home") is not None:
        values["home_from"] = "--home"
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]  # keyword arguments of Settings; a wrong one raises
