"""One command's context: the settings, read once, and one registry connection, opened on first use.

The CLI makes one at its edge (``--home`` wins over ``LORAHUB_HOME``) and closes it when the command ends;
a Python caller may pass one to share a connection across calls, or pass nothing and each verb makes its own
(:func:`using`). Verbs pass the context down to every registry call they make, so a command opens the registry
at most once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from hub.errors import ConfigError
from hub.paths import Paths
from hub.settings import Settings, load_settings

if TYPE_CHECKING:
    from hub.registry.db import Registry


class Context:
    """Settings and a lazily opened registry connection; close it (or use ``with``) when the work is done."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._registry: Registry | None = None

    @property
    def paths(self) -> Paths:
        return self.settings.paths

    @property
    def registry(self) -> Registry:
        """The registry of ``settings.home``, opened (and migrated) on first use, then reused."""
        if self._registry is None:
            # Imported here: the registry sits above this core module, and `hub --help` never opens it.
            from hub.registry.db import Registry

            self.check_home()
            self._registry = Registry.open(self.paths.registry_db)
        return self._registry

    def check_home(self) -> None:
        """A home that is a file: say which setting points there and what to do (not "File exists")."""
        home = self.settings.home
        if home.exists() and not home.is_dir():
            raise ConfigError(
                f"{self.settings.home_from} points at a file, not a folder: {home}",
                hint=f"point {self.settings.home_from} at a folder (it is created when missing), or leave it out"
                " for the default home",
            )

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()
            self._registry = None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def using(ctx: Context | None) -> Iterator[Context]:
    """``ctx`` itself (left open: its owner closes it), or a fresh context closed when the block ends."""
    if ctx is not None:
        yield ctx
        return
    with Context() as fresh:
        yield fresh
