"""Pictures of a run for people: one labelled grid of samples per step (one column per prompt, the prompt above
each picture, the step on top) and the loss curve (raw points and an exponentially smoothed line, on axes with
ticks and a grid), drawn with PIL alone."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hub.paths import give_umask_mode
from hub.units import axis_ticks, tick_label

if TYPE_CHECKING:
    from PIL import Image, ImageFont

BACKGROUND = (255, 255, 255)
RAW = (190, 200, 215)
SMOOTH = (31, 90, 200)
AXIS = (90, 90, 90)
GRID = (228, 231, 236)
TEXT = (30, 30, 30)
# A labelled grid's pictures are drawn at least this wide (small ones enlarged by a whole factor, pixels kept
# sharp), so that a prompt fits above a 64 px sample in a legible size.
MIN_CELL = 160


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """PIL's own font at ``size`` pixels (its bitmap font where Pillow was built without FreeType)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):
        return ImageFont.load_default()


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


def grid(
    images: Sequence[Image.Image],
    *,
    columns: int | None = None,
    pad: int = 2,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Image.Image:
    """The pictures side by side, ``columns`` a row. With ``labels`` (one per picture) or a ``title`` it is a sheet
    for people: each picture under its label (wrapped to its width), the title above them all."""
    from PIL import Image, ImageDraw

    columns = columns or len(images)
    rows = -(-len(images) // columns)
    if labels is None and title is None:
        w = max(im.width for im in images)
        h = max(im.height for im in images)
        out = Image.new("RGB", (columns * (w + pad) + pad, rows * (h + pad) + pad), BACKGROUND)
        for i, im in enumerate(images):
            r, c = divmod(i, columns)
            out.paste(im, (pad + c * (w + pad), pad + r * (h + pad)))
        return out
    scale = max(1, -(-MIN_CELL // max(im.width for im in images)))
    cells = [im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST) if scale > 1 else im
             for im in images]  # fmt: skip
    w = max(im.width for im in cells)
    h = max(im.height for im in cells)
    pad = max(pad, 8)
    text_font = font(max(12, w // 13))
    title_font = font(max(14, w // 10))
    wrapped = [wrap(label, text_font, w) for label in (labels or [""] * len(cells))]
    line_h = _text_height(text_font) + 3
    label_h = max(len(lines) for lines in wrapped) * line_h + 4 if labels else 0
    title_h = _text_height(title_font) + 2 * pad if title else 0
    cell_h = label_h + h
    out = Image.new("RGB", (columns * (w + pad) + pad, title_h + rows * (cell_h + pad) + pad), BACKGROUND)
    draw = ImageDraw.Draw(out)
    if title:
        draw.text((pad, pad), title, fill=TEXT, font=title_font)
    for i, (im, lines) in enumerate(zip(cells, wrapped, strict=True)):
        r, c = divmod(i, columns)
        x, y = pad + c * (w + pad), title_h + pad + r * (cell_h + pad)
        for n, line in enumerate(lines):
            draw.text((x, y + n * line_h), line, fill=TEXT, font=text_font)
        out.paste(im, (x, y + label_h))
    return out


def wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, max_lines: int = 4) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` pixels (a word too long for one line is cut);
    at most ``max_lines``, the last ending in an ellipsis when words were left out."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(candidate) <= width:
            lines[-1] = candidate
            continue
        while font.getlength(word) > width and len(word) > 1:
            cut = max(1, next(i for i in range(len(word), 0, -1) if font.getlength(word[:i]) <= width))
            lines.append(word[:cut])
            word = word[cut:]
        lines.append(word)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last + "…"]
    return lines or [""]


def _text_height(f: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    box = f.getbbox("Ag")
    return int(box[3])


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
    """The loss per step as a PNG: grey points and the blue smoothed line over a grid, both axes with round ticks
    and their values, titled and named."""
    from PIL import Image, ImageDraw

    w, h = size
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, label = font(11), font(12)
    left, right, top, bottom = 62, w - 18, 30, h - 44
    draw.text((left, 8), "training loss (points: per step, line: smoothed)", fill=TEXT, font=label)
    finite = [(s, v) for s, v in zip(steps, losses, strict=True) if v == v and abs(v) != float("inf")]
    xs, ys = zip(*finite, strict=True) if finite else ((0,), (0.0,))
    y_ticks = axis_ticks(min(ys), max(ys))
    x_ticks = axis_ticks(min(xs), max(xs), 6, whole=True)
    lo, hi, x0, x1 = y_ticks[0], y_ticks[-1], x_ticks[0], x_ticks[-1]

    def at(s: float, v: float) -> tuple[float, float]:
        return (left + (s - x0) / (x1 - x0) * (right - left), bottom - (v - lo) / (hi - lo) * (bottom - top))

    for v in y_ticks:
        y = at(x0, v)[1]
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.line([(left - 4, y), (left, y)], fill=AXIS)
        text = tick_label(v, y_ticks)
        draw.text((left - 7 - small.getlength(text), y - 6), text, fill=AXIS, font=small)
    for s in x_ticks:
        x = at(s, lo)[0]
        draw.line([(x, top), (x, bottom)], fill=GRID)
        draw.line([(x, bottom), (x, bottom + 4)], fill=AXIS)
        text = tick_label(s, x_ticks)
        draw.text((x - small.getlength(text) / 2, bottom + 6), text, fill=AXIS, font=small)
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=AXIS)
    draw.text(((left + right) / 2 - label.getlength("step") / 2, h - 18), "step", fill=TEXT, font=label)
    draw.text((6, top - 22), "loss", fill=TEXT, font=label)
    if finite:
        for s, v in finite:
            x, y = at(s, v)
            draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=RAW)
        line = [at(s, v) for s, v in zip(xs, smooth(ys), strict=True)]
        if len(line) > 1:
            draw.line(line, fill=SMOOTH, width=2)
    else:
        draw.text((left + 12, top + 12), "no finite loss logged", fill=AXIS, font=label)
    return save_png(image, path)
