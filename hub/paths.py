"""Where ``hub`` keeps its state: one home folder. Only :func:`hub.settings.load_settings` asks where it is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_home() -> Path:
    """``$LORAHUB_HOME`` when set, else the platform's user data dir (``~/.local/share/lorahub`` on Linux)."""
    env = os.environ.get("LORAHUB_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("lorahub", appauthor=False))


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``os.umask`` can only swap it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def give_umask_mode(fd: int) -> None:
    """``tempfile.mkstemp`` makes 0600 files; one renamed into place as a user's output (a picture, run.json, a
    model) gets the mode a plain ``open()`` would have given it: 0666 less the user's umask."""
    if hasattr(os, "fchmod"):  # not on Windows, where modes are not Unix modes
        os.fchmod(fd, 0o666 & ~current_umask())


@dataclass(frozen=True)
class Paths:
    """Every location under one home. Nothing is created until :meth:`ensure` is called."""

    home: Path

    @property
    def registry_db(self) -> Path:
        return self.home / "registry.db"

    @property
    def store(self) -> Path:
        return self.home / "store"

    @property
    def previews(self) -> Path:
        return self.home / "previews"

    @property
    def cache(self) -> Path:
        return self.home / "cache"

    @property
    def tmp(self) -> Path:
        # Temp files live beside the store so that the final rename never crosses a filesystem.
        return self.home / "tmp"

    def blob(self, sha256: str) -> Path:
        """Content-addressed location of a file: ``store/sha256/ab/<hex>``."""
        sha256 = sha256.lower()
        return self.store / "sha256" / sha256[:2] / sha256

    def recorded(self, path: str | Path) -> str:
        """How the registry records ``path``: relative to the home (with ``/``) when the file lies inside it, so that
        a home moved or copied elsewhere still finds it; else absolute, as given."""
        absolute = os.path.abspath(path)
        home = os.path.abspath(self.home)
        try:
            inside = absolute != home and os.path.commonpath([absolute, home]) == home
        except ValueError:  # another drive (Windows)
            inside = False
        return Path(os.path.relpath(absolute, home)).as_posix() if inside else absolute

    def located(self, recorded: str) -> Path:
        """The file a recorded path names: a relative one lies under this home, wherever the home is now."""
        path = Path(recorded)
        return path if path.is_absolute() else self.home / path

    def ensure(self) -> Paths:
        for p in (self.home, self.store, self.previews, self.cache, self.tmp):
            p.mkdir(parents=True, exist_ok=True)
        return self
