"""A grid's column labels fit their columns: an adapter's name wider than a 64 px cell is broken into lines (after
a '-', '_' or '.' where it can be), never drawn over its neighbours' labels."""

from __future__ import annotations

from PIL import Image, ImageDraw

from hub.gen.grid_image import _font, _wrap, draw_grid


def test_a_long_name_is_broken_to_fit_its_column() -> None:
    font = _font(12)
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text = _wrap(draw, "demo-sks-ball-prior 0.25", font, 62)
    lines = text.split("\n")
    assert len(lines) > 1 and all(draw.textlength(line, font=font) <= 62 for line in lines), lines
    assert "".join(lines).replace(" ", "") == "demo-sks-ball-prior0.25"
    assert lines[0].endswith("-")  # broken after a dash, not inside a word part
    assert _wrap(draw, "abcdefghijklmnopqrstuvwxyz" * 2, font, 62).count("\n") >= 2  # no dash: anywhere


def test_the_labels_of_a_grid_of_small_cells_do_not_overlap() -> None:
    cells = [[Image.new("RGB", (64, 64), (40, 170, 60)) for _ in range(3)]]
    sheet, boxes = draw_grid(cells, ["demo-sks-ball: 0", "demo-sks-ball: 0.5", "demo-sks-ball: 1"], [""])
    header = sheet.crop((0, 0, sheet.width, boxes[0][0][1]))
    ink = [x for x in range(header.width) if any(header.getpixel((x, y)) != (255, 255, 255)
                                                  for y in range(header.height))]  # fmt: skip
    # Every inked column of the header lies above a cell: labels never cross the gaps between cells.
    gaps = [(boxes[0][i][2], boxes[0][i + 1][0]) for i in range(2)]
    assert ink and not [x for x in ink for a, b in gaps if a <= x < b]
