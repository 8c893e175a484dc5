"""PNG files with their recipe: written atomically under a fresh A1111-style name, read back by any tool.

The recipe is a ``parameters`` text chunk (A1111's key; PNG Info, Civitai and ComfyUI's loaders read it). JPEG and
WebP images from A1111 carry the same text in EXIF UserComment; :func:`read_parameters` reads those too.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from hub.errors import BadFileError, NotFoundError
from hub.paths import give_umask_mode

_NUMBERED = re.compile(r"^(\d{5})-")
_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286


def save_png(image: Any, folder: Path, seed: int, chunks: dict[str, str]) -> Path:
    """Write ``image`` to ``folder/NNNNN-<seed>.png`` (the next free number, as A1111 numbers its outputs) with
    ``chunks`` as text chunks. The file appears whole or not at all, and two writers never take one name."""
    from PIL.PngImagePlugin import PngInfo

    folder.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    for key, text in chunks.items():
        info.add_text(key, text)
    fd, tmp = tempfile.mkstemp(prefix=".gen-", suffix=".png.tmp", dir=folder)
    give_umask_mode(fd)  # a user's file, not a 0600 temp
    try:
        with os.fdopen(fd, "wb") as f:
            image.save(f, format="PNG", pnginfo=info)
        number = _next_number(folder)
        while True:
            target = folder / f"{number:05d}-{seed}.png"
            try:
                os.link(tmp, target)  # fails if taken: claims the name atomically
                return target
            except FileExistsError:
                number += 1
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_png_as(image: Any, target: Path, chunks: dict[str, str]) -> Path:
    """Write ``image`` to exactly ``target`` (replacing it), atomically."""
    from PIL.PngImagePlugin import PngInfo

    target.parent.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    for key, text in chunks.items():
        info.add_text(key, text)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    give_umask_mode(fd)  # a user's file, not a 0600 temp
    try:
        with os.fdopen(fd, "wb") as f:
            image.save(f, format="PNG", pnginfo=info)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _next_number(folder: Path) -> int:
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _NUMBERED.match(p.name))]
    return max(numbers, default=-1) + 1


def read_text_chunks(path: Path) -> dict[str, str]:
    """Every text chunk of an image (PNG tEXt/iTXt/zTXt), plus ``parameters`` from EXIF UserComment (JPEG/WebP)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise NotFoundError(f"no such image: {path}")
    try:
        with Image.open(path) as im:
            chunks = {k: v for k, v in getattr(im, "text", {}).items() if isinstance(v, str)}
            if "parameters" not in chunks:
                comment = im.getexif().get_ifd(_EXIF_IFD).get(_USER_COMMENT)
                if comment:
                    chunks["parameters"] = _user_comment(comment)
    except (UnidentifiedImageError, OSError) as e:
        raise BadFileError(f"not an image: {e}", path=str(path)) from None
    return chunks


def _user_comment(value: bytes | str) -> str:
    """EXIF UserComment: an 8-byte charset prefix ("UNICODE\\0" = UTF-16, "ASCII\\0\\0\\0"), then the text."""
    if isinstance(value, str):
        return value
    head, body = value[:8], value[8:]
    if head.startswith(b"UNICODE"):
        # A1111 (piexif) writes big-endian UTF-16; a BOM-less little-endian file shows zero high bytes.
        little = len(body) > 1 and body[1] == 0 and body[0] != 0
        return body.decode("utf-16-le" if little else "utf-16-be", errors="replace").rstrip("\x00")
    return body.decode("utf-8", errors="replace").rstrip("\x00")


def read_parameters(path: Path) -> str:
    text = read_text_chunks(path).get("parameters")
    if not text:
        raise BadFileError(
            "no generation parameters in this image", path=str(path),
            hint="hub gen, A1111 and Forge write them; many sites strip them on upload",
        )  # fmt: skip
    return text
