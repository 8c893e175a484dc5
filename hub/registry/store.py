"""The content-addressed store: ``store/sha256/ab/<hex>``, one blob per distinct content.

A file enters the store in the same read that hashes it: the bytes stream into a temp file in
``$LORAHUB_HOME/tmp`` (same filesystem, so the final rename is atomic) and are renamed to their
blob path once the SHA256 is known. A blob is never written in place, so a crash leaves at most a
temp file that the next ``gc`` removes.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from hub.paths import Paths, give_umask_mode
from hub.registry.hashing import hash_file

if TYPE_CHECKING:
    from hub.models import FileHashes


def hash_into_store(src: Path, paths: Paths, *, link: bool = False) -> tuple[FileHashes, Path]:
    """Hash ``src`` and put its bytes in the store; returns the hashes and the blob path.

    ``link=True`` hard-links instead of copying when src and the store share a filesystem (the
    blob then shares the user's inode: editing the original in place would change it, which
    ``hub verify`` reports).
    """
    paths.ensure()
    if link:
        hashes = hash_file(src)
        blob = paths.blob(hashes.sha256)
        if not blob.exists():
            blob.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, blob)
            except OSError:
                return hash_into_store(src, paths, link=False)
        return hashes, blob

    fd, tmp_name = tempfile.mkstemp(dir=paths.tmp, prefix="ingest-")
    tmp = Path(tmp_name)
    try:
        # No fsync: waiting for the disk would make an import 2-3x slower than reading the files. The rename
        # is atomic, the user's original is untouched, and `hub verify` finds a blob a power cut truncated.
        with os.fdopen(fd, "wb") as out:
            hashes = hash_file(src, sink=out.write)
        blob = paths.blob(hashes.sha256)
        if blob.exists():
            tmp.unlink()
        else:
            blob.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)  # blobs are immutable; a stray write should fail loudly
            os.replace(tmp, blob)
        return hashes, blob
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def restore_blob(src: Path, paths: Paths, sha256: str) -> Path | None:
    """Copy ``src`` into the store as the blob of ``sha256`` when its bytes have that hash (over a damaged blob of
    that name, if any); None, and nothing written, when they do not."""
    paths.ensure()
    fd, tmp_name = tempfile.mkstemp(dir=paths.tmp, prefix="ingest-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            hashes = hash_file(src, sink=out.write)
        if hashes.sha256 != sha256:
            tmp.unlink()
            return None
        blob = paths.blob(sha256)
        blob.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, blob)
        return blob
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def keep_preview(src: Path, paths: Paths, *, first: bool = False) -> Path:
    """A copy of a preview image under ``<home>/previews``, named by its content so that adding it again makes no
    second copy. ``first``: named to sort before the others (previews are listed by path), so cards show it."""
    import hashlib
    import shutil

    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    # "0-" sorts before the content-named copies (hex digits)
    target = paths.previews / f"{'0-' if first else ''}{digest}{src.suffix.lower()}"
    if not target.exists():
        paths.previews.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=paths.previews, prefix=".preview-")
        give_umask_mode(fd)  # a user's file, not a 0600 temp
        os.close(fd)
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
    return target


def blobs(paths: Paths) -> list[Path]:
    """Every file in the store, named by the SHA256 its bytes had when they entered."""
    root = paths.store / "sha256"
    return sorted(b for b in root.glob("*/*") if b.is_file()) if root.is_dir() else []


def garbage_collect(paths: Paths, owned: Iterable[str]) -> list[Path]:
    """Remove blobs whose hash no entry has (``owned``: every entry's SHA256, missing ones included, so that bytes an
    entry owns or could be repaired with are never removed), and leftover temp files; returns what was removed."""
    keep = set(owned)
    removed = []
    for blob in blobs(paths):
        if blob.name not in keep:
            blob.unlink()
            removed.append(blob)
    if paths.tmp.is_dir():
        # Another process may be streaming into a temp file right now: only old ones are leftovers.
        cutoff = time.time() - 3600
        for leftover in paths.tmp.glob("ingest-*"):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink(missing_ok=True)
    return removed
