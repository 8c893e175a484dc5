"""The record ``hub link`` keeps in the folder it lays out: ``DIR/.lorahub-link.json``, every file it made there.

A file is ``hub link``'s own only while it is still what was made: a hard link with the recorded inode, a symlink
to the recorded target, a written file with the recorded SHA256. Anything else at that path is the user's (a file
replaced, a sidecar edited in the UI) and is never changed or removed. ``hub import`` reads the record too, to
know the registry's own files in such a folder without hashing them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

MANIFEST_NAME = ".lorahub-link.json"
How = Literal["hardlink", "symlink", "file"]


@dataclass(frozen=True)
class Made:
    """One file ``hub link`` made: its role, the adapter it is for, and how to recognise it still."""

    role: str  # lora | embedding | preview | a1111 | civitai | comfyui-paths
    how: How
    adapter_id: str | None = None
    target: str | None = None  # links: the file linked to
    dev: int | None = None  # hard links: the inode they share with the target
    ino: int | None = None
    sha256: str | None = None  # written files: their content

    def is_still_there(self, path: Path) -> bool:
        """True while the file at ``path`` is exactly what was made."""
        try:
            st = path.lstat()
        except OSError:
            return False
        if self.how == "symlink":
            return path.is_symlink() and os.readlink(path) == self.target
        if path.is_symlink():
            return False
        if self.how == "hardlink":
            return (st.st_dev, st.st_ino) == (self.dev, self.ino)
        return content_sha256(path) == self.sha256


def content_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(folder: Path) -> dict[str, Made]:
    """Relative path (``/``-separated) -> what was made there; empty when the folder has no record (or a bad one:
    then nothing in it counts as ours, the safe side)."""
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        files: dict[str, Any] = data["files"]
        return {rel: Made(**entry) for rel, entry in files.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write_manifest(folder: Path, made: dict[str, Made]) -> None:
    """Atomically: a crash leaves the previous record or the new one, never half of one."""
    record = {
        "made_by": "sd-lora-hub `hub link`: files listed here are removed or replaced by it; do not edit",
        "version": 1,
        "files": {rel: {k: v for k, v in asdict(m).items() if v is not None} for rel, m in sorted(made.items())},
    }
    write_atomically(folder / MANIFEST_NAME, (json.dumps(record, indent=1) + "\n").encode())


def write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lorahub-")
    try:
        from hub.paths import give_umask_mode

        give_umask_mode(fd)  # a file the user reads and may edit, not a 0600 temp
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def linked_adapter_id(path: Path) -> str | None:
    """The registry adapter a file in a ``hub link`` folder is a link of (``DIR/loras/x.safetensors``), if the
    folder's record says so and the file is still that link; else None (hash it like any other file)."""
    for folder in (path.parent, path.parent.parent):
        made = read_manifest(folder)
        if not made:
            continue
        try:
            rel = path.relative_to(folder).as_posix()
        except ValueError:
            continue
        entry = made.get(rel)
        if entry is not None and entry.role in ("lora", "embedding") and entry.is_still_there(path):
            return entry.adapter_id
    return None
