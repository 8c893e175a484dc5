"""Card-sized copies of preview images, made once and kept under ``<home>/cache/thumbs``.

A Civitai preview is often a 2-8 MB PNG; a page of 48 cards must not send 48 of them. A thumbnail is named
by the source's path, size and mtime, so a replaced preview gets a new one and an unchanged one is never
redrawn; writes are atomic, so two requests for the same card at once cannot leave half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from hub.paths import give_umask_mode

SIZE = 320  # pixels on the long side: sharp on a 2x screen at the card's 160 CSS pixels


def thumbnail(source: Path, cache_dir: Path, size: int = SIZE) -> Path | None:
    """The cached thumbnail of ``source`` (made now if missing); None when the image cannot be read."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        st = source.stat()
    except OSError:
        return None
    key = hashlib.sha256(f"{source}\0{st.st_size}\0{st.st_mtime_ns}\0{size}".encode()).hexdigest()[:32]
    target = cache_dir / key[:2] / f"{key}.webp"
    if target.is_file():
        return target
    try:
        with Image.open(source) as im:
            im.draft("RGB", (size, size))  # JPEG decodes at a reduced scale: much faster for big photos
            small = ImageOps.contain(ImageOps.exif_transpose(im).convert("RGB"), (size, size))
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".thumb-", suffix=".webp")
    give_umask_mode(fd)  # a user's file, not a 0600 temp
    try:
        with os.fdopen(fd, "wb") as out:
            small.save(out, format="WEBP", quality=82)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
