"""Settings, read from the environment when :func:`load_settings` is called (never at import)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from hub.paths import Paths, default_home


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    home: Path
    home_from: str = "the default home"  # where `home` came from, for error messages: --home, LORAHUB_HOME
    debug: bool = False
    # "auto" uses CUDA when torch sees a GPU; compute-heavy operations take this as their default.
    device: str = "auto"

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
    return Settings(**values)  # type: ignore[arg-type]
