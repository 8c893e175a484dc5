"""The training pictures: a folder, a ``.zip`` of one, or kohya's layout (``<repeats>_<class tokens>`` subfolders,
``reg/`` for class pictures); captions from ``<stem>.txt``/``<stem>.caption``; EXIF orientation, resize and crop
(center, random, or the nearest aspect-ratio bucket) with PIL and torch only.

Files that are not pictures are skipped and counted; a picture that cannot be read, or is far too small, stops
the run with one line naming it, before any model is loaded.
"""

from __future__ import annotations

import hashlib
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hub.errors import BadFileError, NotFoundError, UsageError

if TYPE_CHECKING:
    import torch
    from PIL import Image

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
CAPTION_EXTENSIONS = (".txt", ".caption")
KOHYA_SUBSET = re.compile(r"^(\d+)_(.+)$")
REG_FOLDERS = ("reg", "regularization", "class")


@dataclass(frozen=True)
class Item:
    path: Path
    caption: str
    repeats: int = 1
    size: tuple[int, int] = (0, 0)  # (width, height) after EXIF orientation


@dataclass
class Dataset:
    root: Path
    instance: list[Item]
    reg: list[Item] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    layout: str = "folder"  # folder | kohya

    def digest(self) -> str:
        """sha256 over every picture's bytes, caption and repeats: equal for the same training data."""
        h = hashlib.sha256()
        for kind, items in (("instance", self.instance), ("reg", self.reg)):
            for it in sorted(items, key=lambda i: str(i.path)):
                h.update(f"{kind}\0{it.repeats}\0{it.caption}\0".encode())
                h.update(hashlib.sha256(it.path.read_bytes()).digest())
        return h.hexdigest()


def unpack_zip(archive: Path, into: Path) -> Path:
    """Extract ``archive`` under ``into`` (members escaping it are refused); returns the dataset folder."""
    try:
        with zipfile.ZipFile(archive) as zf:
            root = into.resolve()
            for member in zf.infolist():
                target = (root / member.filename).resolve()
                if not target.is_relative_to(root):
                    raise BadFileError(f"{archive}: member {member.filename!r} points outside the archive")
            zf.extractall(root)
    except zipfile.BadZipFile:
        raise BadFileError(f"{archive}: not a readable zip file") from None
    entries = [p for p in into.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    # A zip of a folder holds that folder: train on what is inside it.
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else into


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def read_caption(image: Path) -> str | None:
    for ext in CAPTION_EXTENSIONS:
        p = image.with_suffix(ext)
        if p.is_file():
            text = " ".join(p.read_text(encoding="utf-8", errors="replace").split())
            if text:
                return text
    return None


def _scan(folder: Path, fallback: str, repeats: int, skipped: list[Path]) -> list[Item]:
    items = []
    for p in sorted(folder.iterdir()):
        if p.is_dir():
            continue
        if p.suffix.lower() in CAPTION_EXTENSIONS:
            continue
        if not is_image_file(p):
            skipped.append(p)
            continue
        items.append(Item(p, read_caption(p) or fallback, repeats))
    return items


def _kohya_subsets(folder: Path) -> list[tuple[Path, int, str]]:
    out = []
    for sub in sorted(folder.iterdir()):
        m = KOHYA_SUBSET.match(sub.name) if sub.is_dir() else None
        if m:
            out.append((sub, int(m.group(1)), m.group(2).replace("_", " ").strip()))
    return out


def collect(
    source: Path, *, instance_prompt: str, class_prompt: str, class_images: Path | None = None, repeats: int = 1
) -> Dataset:
    """The pictures and captions under ``source`` (already unzipped), with kohya's layout recognised."""
    if not source.exists():
        raise NotFoundError(
            f"no such dataset folder: {source}", hint="--images: a folder of pictures or a .zip of one"
        )
    if not source.is_dir():
        raise UsageError(f"{source}: give a folder of pictures or a .zip of one")
    skipped: list[Path] = []
    subsets = _kohya_subsets(source)
    reg: list[Item] = []
    if subsets:
        instance = [it for sub, n, tokens in subsets for it in _scan(sub, tokens, n, skipped)]
        for name in REG_FOLDERS:
            reg_dir = source / name
            if reg_dir.is_dir():
                reg_subsets = _kohya_subsets(reg_dir) or [(reg_dir, 1, class_prompt)]
                reg += [it for sub, n, tokens in reg_subsets for it in _scan(sub, tokens, n, skipped)]
        layout = "kohya"
    else:
        instance = _scan(source, instance_prompt, repeats, skipped)
        layout = "folder"
    if class_images is not None:
        if not class_images.is_dir():
            raise NotFoundError(
                f"no such class-image folder: {class_images}", hint="--class-images: a folder of pictures"
            )
        reg += _scan(class_images, class_prompt, 1, [])
    if not instance:
        found = f" ({len(skipped)} other files skipped)" if skipped else ""
        hint = (
            "put .png/.jpg/.webp pictures in the folder, or use kohya's layout: subfolders named "
            "'<repeats>_<token class>', e.g. '10_sks dog'"
        )
        raise UsageError(f"no training pictures in {source}{found}", hint=hint)
    return Dataset(root=source, instance=instance, reg=reg, skipped=skipped, layout=layout)


def open_image(path: Path) -> Image.Image:
    """RGB, EXIF orientation applied; an unreadable file is a BadFileError naming it."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise BadFileError(
            f"cannot read picture: {e}".splitlines()[0], path=str(path), hint="remove or replace the file"
        ) from None


def check_sizes(items: list[Item], resolution: int) -> list[Item]:
    """Open every picture once: unreadable or too small ones stop the run; returns items with their sizes."""
    out = []
    minimum = max(8, resolution // 2)
    for it in items:
        w, h = open_image(it.path).size
        if min(w, h) < minimum:
            raise BadFileError(
                f"picture is {w}x{h}, too small for --resolution {resolution} (shortest side under {minimum})",
                path=str(it.path),
                hint="use a larger picture or a smaller --resolution",
            )
        out.append(Item(it.path, it.caption, it.repeats, (w, h)))
    return out


# ---------------------------------------------------------------- pixels


def bucket_steps(resolution: int) -> tuple[int, int, int]:
    """(min side, max side, step) of the buckets: kohya's defaults at 512 px (256, 1024, 64), scaled to the
    resolution, in 8-pixel steps below 256 px (the VAE's cell)."""
    return resolution // 2, resolution * 2, 64 if resolution >= 256 else 8


def bucket_sizes(resolution: int) -> list[tuple[int, int]]:
    """(width, height) buckets as kohya's ``make_bucket_resolutions``: the square whose side is the resolution
    rounded down to the step, then for every width from min to max side the tallest height (a multiple of the step,
    at most the max side) that keeps the area within resolution², with its transpose."""
    low, high, step = bucket_steps(resolution)
    area = resolution * resolution
    side = int(math.sqrt(area) // step) * step
    sizes = {(side, side)}
    for w in range(low, high + 1, step):
        h = min(high, int((area // w) // step) * step)
        if h >= low:
            sizes |= {(w, h), (h, w)}
    return sorted(sizes)


def nearest_bucket(size: tuple[int, int], buckets: list[tuple[int, int]]) -> tuple[int, int]:
    """kohya's ``select_bucket``: a picture already of a bucket's size keeps it; otherwise the bucket whose aspect
    ratio (w / h) is nearest, the first in sorted order on a tie."""
    if size in buckets:
        return size
    aspect = size[0] / size[1]
    return min(buckets, key=lambda b: abs(b[0] / b[1] - aspect))


def cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """kohya's resize: scaled (Lanczos) so the picture covers ``size``, matching the height when the picture is
    wider than the bucket, else the width; sides rounded half up."""
    from PIL import Image

    tw, th = size
    w, h = image.size
    scale = th / h if w / h > tw / th else tw / w
    nw, nh = max(tw, int(w * scale + 0.5)), max(th, int(h * scale + 0.5))
    return image if (nw, nh) == (w, h) else image.resize((nw, nh), Image.Resampling.LANCZOS)


def crop(image: Image.Image, size: tuple[int, int], offset: tuple[float, float] = (0.5, 0.5)) -> Image.Image:
    """``size`` out of a covering picture; ``offset`` in [0, 1] places it (0.5: the centre, rounded down as kohya's
    ``trim // 2``)."""
    tw, th = size
    left, top = int((image.width - tw) * offset[0]), int((image.height - th) * offset[1])
    return image.crop((left, top, left + tw, top + th))


def fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resized to cover ``size`` and centre-cropped, as kohya prepares a picture for its bucket."""
    return crop(cover(image, size), size)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """[3, H, W] in [-1, 1], as diffusers' example's ToTensor + Normalize([0.5], [0.5])."""
    import numpy as np
    import torch

    arr = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy())
    return arr.permute(2, 0, 1).float().div_(127.5).sub_(1.0)
