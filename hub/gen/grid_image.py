"""Draw an X/Y grid as A1111's X/Y plot does: white sheet, column labels above, row labels on the left.

Pure image layout (Pillow only): images in, one image and each cell's box out, so callers and tests know exactly
where every render landed.
"""

from __future__ import annotations

from typing import Any

GAP = 2  # white pixels between cells
PAD = 6  # around label text


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled FreeType font
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _wrap(draw: Any, text: str, font: Any, width: int) -> str:
    """Break ``text`` at spaces so that no line is wider than ``width``; a word wider than that on its own (an
    adapter's name over a 64 px column) is broken after a ``-``, ``_`` or ``.`` where it can be, else anywhere."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}".strip()
            if draw.textlength(candidate, font=font) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            *whole, line = _pieces(draw, word, font, width)
            lines += whole
        lines.append(line)
    return "\n".join(lines)


def _pieces(draw: Any, word: str, font: Any, width: int) -> list[str]:
    """``word`` in pieces no wider than ``width`` (one character at least each)."""
    import re

    pieces, piece = [], ""
    for part in re.split(r"(?<=[-_.])", word):
        for chunk in part if draw.textlength(part, font=font) > width else [part]:
            if piece and draw.textlength(piece + chunk, font=font) > width:
                pieces.append(piece)
                piece = ""
            piece += chunk
    return [*pieces, piece]


def draw_grid(
    images: list[list[Any]], columns: list[str], rows: list[str]
) -> tuple[Any, list[list[tuple[int, int, int, int]]]]:
    """``images[row][column]`` (same size) -> (grid image, ``boxes[row][column]`` as left, top, right, bottom).

    Row labels are left out when there is a single unnamed row.
    """
    from PIL import Image, ImageDraw

    cell_w, cell_h = images[0][0].size
    font = _font(max(12, round(min(cell_w, cell_h) / 12)))
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    col_text = [_wrap(scratch, label, font, cell_w - 2) for label in columns]
    show_rows = len(rows) > 1 or any(rows)
    row_text = [_wrap(scratch, label, font, max(cell_w, 160)) for label in rows] if show_rows else []

    def size(text: str) -> tuple[int, int]:
        left, top, right, bottom = scratch.multiline_textbbox((0, 0), text, font=font, spacing=2)
        return round(right - left), round(bottom - top)

    header = max(size(t)[1] for t in col_text) + 2 * PAD
    margin = max(size(t)[0] for t in row_text) + 2 * PAD if row_text else 0
    width = margin + len(columns) * (cell_w + GAP) - GAP
    height = header + len(rows) * (cell_h + GAP) - GAP
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    boxes: list[list[tuple[int, int, int, int]]] = []
    for c, text in enumerate(col_text):
        x = margin + c * (cell_w + GAP) + cell_w // 2
        draw.multiline_text((x, header // 2), text, fill="black", font=font, anchor="mm", align="center", spacing=2)
    for r, row_images in enumerate(images):
        top = header + r * (cell_h + GAP)
        if row_text:
            draw.multiline_text((margin // 2, top + cell_h // 2), row_text[r], fill="black", font=font,
                                anchor="mm", align="center", spacing=2)  # fmt: skip
        row_boxes = []
        for c, image in enumerate(row_images):
            left = margin + c * (cell_w + GAP)
            sheet.paste(image.convert("RGB"), (left, top))
            row_boxes.append((left, top, left + cell_w, top + cell_h))
        boxes.append(row_boxes)
    return sheet, boxes
