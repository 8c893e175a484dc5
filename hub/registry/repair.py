"""Finding an entry's bytes again by their SHA256, for ``hub verify``: an in-place file the user moved, a home moved
without the files it registered in place, a stored copy lost or damaged.

Where the bytes may be: the home's own store (bytes no stored entry points at, e.g. a file registered in place that
was also imported once), the recorded path's place in this home (a file inside a home that moved while an earlier
version recorded it absolute), the paths the entry's bytes were seen at (its locations), and the folders the user
names (``hub verify --search FOLDER``). A file is read only when its size is the entry's, and through the hash cache.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hub.errors import HubError
from hub.models import VerifyResult
from hub.paths import Paths
from hub.registry import store
from hub.registry.db import Registry
from hub.registry.hashing import hash_file


class Finder:
    """Files that may hold an entry's bytes; the named folders are walked once, when first needed."""

    def __init__(self, reg: Registry, paths: Paths, folders: Sequence[Path]) -> None:
        self.reg = reg
        self.paths = paths
        self.folders = folders
        self._by_size: dict[int, list[Path]] | None = None

    def _files_by_size(self) -> dict[int, list[Path]]:
        if self._by_size is None:
            self._by_size = {}
            for folder in self.folders:
                # Every file, not only adapter extensions: another home's store names its files by hash alone.
                for root, dirs, names in os.walk(folder):
                    dirs.sort()
                    for name in sorted(names):
                        try:
                            st = os.stat(os.path.join(root, name))
                        except OSError:
                            continue
                        if stat.S_ISREG(st.st_mode):
                            self._by_size.setdefault(st.st_size, []).append(Path(root) / name)
        return self._by_size

    def candidates(self, row: Any) -> Iterator[Path]:
        """The recorded path's place in this home, where ``row``'s bytes were seen, files of its size under the named
        folders."""
        recorded = Path(row["path"])
        seen = {recorded}
        for found in [*self._in_home(recorded), *map(Path, self.reg.locations(row["id"]))]:
            if found not in seen and found.is_file():
                seen.add(found)
                yield found
        for found in self._files_by_size().get(row["size"], []):
            if found not in seen:
                seen.add(found)
                yield found

    def _in_home(self, recorded: Path) -> list[Path]:
        """``<home>/mine/x.safetensors`` for ``/old/place/home/mine/x.safetensors``: a file inside a home that an
        earlier version recorded absolute, before the home moved (each tail of the path, under this home)."""
        parts = recorded.parts[1:]
        return [self.paths.home.joinpath(*parts[i:]) for i in range(len(parts) - 1, -1, -1)]

    def sha256(self, path: Path) -> str | None:
        """The file's SHA256 (from the hash cache when its size, mtime and inode are unchanged); None if unreadable."""
        try:
            st = path.stat()
            cached = self.reg.cached_hashes(str(path), st.st_size, st.st_mtime_ns, st.st_ino)
            if cached is not None:
                return cached.sha256
            hashes = hash_file(path)
        except (OSError, HubError):
            return None
        self.reg.cache_hashes(str(path), st.st_size, st.st_mtime_ns, st.st_ino, hashes)
        return hashes.sha256


def repair(reg: Registry, paths: Paths, row: Any, result: VerifyResult, finder: Finder) -> VerifyResult:
    """``result`` (missing or changed) repaired when the entry's bytes are found by hash, else as it was.

    A stored entry gets its copy back in the store. An entry registered in place takes the store's copy when there is
    one (the registry then owns it), else points at the file found. An in-place file that changed is the user's own
    edit: it is reported, not replaced."""
    sha256 = row["sha256"]
    if sha256 is None or reg.read_only:
        return result
    if row["stored"]:
        for found in finder.candidates(row):
            if finder.sha256(found) == sha256 and (blob := store.restore_blob(found, paths, sha256)) is not None:
                return _repaired(result, blob, f"copied back into the store from {found}")
        return result
    if result.status != "missing":
        return result
    blob = paths.blob(sha256)
    if blob.is_file() and finder.sha256(blob) == sha256:
        with reg.transaction():
            reg.update_adapter(row["id"], stored=True, path=str(blob))
        return _repaired(result, blob, "found by hash in the store, which now keeps it")
    for found in finder.candidates(row):
        if finder.sha256(found) == sha256:
            with reg.transaction():
                reg.update_adapter(row["id"], path=str(found))
                reg.add_location(row["id"], str(found))
            return _repaired(result, found, "found by hash; registered in place there")
    return result


def _repaired(result: VerifyResult, path: Path, note: str) -> VerifyResult:
    return result.model_copy(
        update={"status": "repaired", "path": str(path), "actual_sha256": result.expected_sha256, "note": note}
    )
