"""Pictures of a run for people: one grid of samples per step (one column per prompt) and the loss curve
(raw points and an exponentially smoothed line) drawn with PIL alone."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hub.paths import give_umask_mode

if TYPE_CHECKING:
    from PIL import Image

BACKGROUND = (255, 255, 255)
RAW = (190, 200, 215)
SMOOTH = (31, 90, 200)
AXIS = (90, 90, 90)


def save_png(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    give_umask_mode(fd)  # a user's file, not a 0600 temp
    os.close(fd)
    try:
        image.save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def grid(images: Sequence[Image.Image], *, columns: int | None = None, pad: int = 2) -> Image.Image:
    from PIL import Image

    columns = columns or len(images)
    rows = -(-len(images) // columns)
    w = max(im.width for im in images)
    h = max(im.height for im in images)
    out = Image.new("RGB", (columns * (w + pad) + pad, rows * (h + pad) + pad), BACKGROUND)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        out.paste(im, (pad + c * (w + pad), pad + r * (h + pad)))
    return out


def smooth(values: Sequence[float], weight: float = 0.9) -> list[float]:
    """TensorBoard's debiased exponential moving average."""
    out, last = [], 0.0
    for n, v in enumerate(values, start=1):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**n))
    return out


def loss_curve(
    steps: Sequence[int], losses: Sequence[float], path: Path, *, size: tuple[int, int] = (640, 360)
) -> Path:
    """The loss per step as a PNG: grey points, blue smoothed line, labelled axes."""
    from PIL import Image, ImageDraw

    w, h = size
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 56, w - 16, 28, h - 32
    draw.text((left, 8), "training loss (points: per step, line: smoothed)", fill=AXIS)
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=AXIS)
    finite = [(s, v) for s, v in zip(steps, losses, strict=True) if v == v and abs(v) != float("inf")]
    if finite:
        xs, ys = zip(*finite, strict=True)
        lo, hi = min(ys), max(ys)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        x0, x1 = min(xs), max(max(xs), min(xs) + 1)

        def at(s: float, v: float) -> tuple[float, float]:
            return (left + (s - x0) / (x1 - x0) * (right - left), bottom - (v - lo) / (hi - lo) * (bottom - top))

        for s, v in finite:
            x, y = at(s, v)
            draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=RAW)
        line = [at(s, v) for s, v in zip(xs, smooth(ys), strict=True)]
        if len(line) > 1:
            draw.line(line, fill=SMOOTH, width=2)
        draw.text((4, top - 6), f"{hi:.4g}", fill=AXIS)
        draw.text((4, bottom - 6), f"{lo:.4g}", fill=AXIS)
        draw.text((left, bottom + 8), f"step {x0}", fill=AXIS)
        draw.text((right - 70, bottom + 8), f"step {max(xs)}", fill=AXIS)
    return save_png(image, path)
