"""The pictures a run leaves for people, read back pixel by pixel: sample grids carry their prompts and step in a
legible size above sharp enlargements of the samples; the loss curve has axes, ticks, tick labels and a grid."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from hub.train.pictures import AXIS, GRID, MIN_CELL, grid, loss_curve

GREEN, RED, BLUE = (40, 170, 60), (220, 40, 40), (40, 70, 220)
PROMPTS = ["a photo of a sks ball on a green background", "a photo of a ball"]


def _sample(colour: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (64, 64), GREEN)
    image.paste(colour, (16, 16, 48, 48))
    return image


def _box(pixels: np.ndarray, colour: tuple[int, int, int]) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero((pixels == colour).all(axis=2))
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _dark_rows(pixels: np.ndarray, x0: int, x1: int, y0: int, y1: int) -> list[int]:
    """Rows of the region holding text (dark pixels)."""
    region = pixels[y0:y1, x0:x1].astype(int).sum(axis=2) < 300
    return [y0 + int(y) for y in np.nonzero(region.any(axis=1))[0]]


def test_a_sample_grid_shows_each_prompt_above_its_picture_and_the_step_on_top() -> None:
    sheet = np.asarray(grid([_sample(RED), _sample(BLUE)], labels=PROMPTS, title="step 30"))
    red, blue = _box(sheet, RED), _box(sheet, BLUE)
    # Enlarged by a whole factor, pixels kept: 64 px samples are drawn at least MIN_CELL wide.
    scale = -(-MIN_CELL // 64)
    assert red[2] - red[0] == blue[2] - blue[0] == 32 * scale
    greens = [_box(sheet[:, : (red[2] + blue[0]) // 2], GREEN), _box(sheet[:, (red[2] + blue[0]) // 2 :], GREEN)]
    assert all(g[2] - g[0] == g[3] - g[1] == 64 * scale for g in greens)
    top = greens[0][1]
    # Above each picture: its prompt, the first one wrapped on two lines, in letters at least 9 px tall.
    first = _dark_rows(sheet, red[0] - 16 * scale, red[2] + 16 * scale, 0, top)
    second_x = (red[2] + blue[0]) // 2
    second = _dark_rows(sheet, second_x, sheet.shape[1], 0, top)
    title_rows = _dark_rows(sheet, 0, 60, 0, top)
    label_start = max(r for r in title_rows if r < min(second) - 3) + 1
    first_label = [r for r in first if r >= label_start]
    second_label = [r for r in second if r >= label_start]
    assert len(second_label) >= 9 and max(second_label) - min(second_label) < 20  # one line
    assert max(first_label) - min(first_label) > 20  # two lines: it was wrapped to the picture's width
    assert min(title_rows) < label_start <= min(first_label)  # "step 30" above the prompts


def test_the_same_sample_with_another_prompt_or_step_draws_other_text() -> None:
    base = np.asarray(grid([_sample(RED)], labels=PROMPTS[1:], title="step 30"))
    other_prompt = np.asarray(grid([_sample(RED)], labels=["a photo of a box"], title="step 30"))
    other_step = np.asarray(grid([_sample(RED)], labels=PROMPTS[1:], title="step 60"))
    assert base.shape == other_prompt.shape == other_step.shape
    top = _box(base, GREEN)[1]
    assert not np.array_equal(base[:top], other_prompt[:top]) and not np.array_equal(base[:top], other_step[:top])
    assert np.array_equal(base[top:], other_prompt[top:])


def test_the_loss_curve_has_axes_ticks_labels_and_a_grid(tmp_path: Path) -> None:
    steps = list(range(1, 31))
    losses = [0.05 + 0.3 * math.exp(-s / 10) for s in steps]
    pixels = np.asarray(Image.open(loss_curve(steps, losses, tmp_path / "loss.png")).convert("RGB"))
    is_grid = (pixels == GRID).all(axis=2)
    is_axis = (pixels == AXIS).all(axis=2)
    h, w = is_grid.shape
    rows = [y for y in range(h) if is_grid[y].sum() > w / 3]
    cols = [x for x in range(w) if is_grid[:, x].sum() > h / 4]
    assert len(rows) >= 3 and len(cols) >= 3  # horizontal and vertical grid lines
    left = next(x for x in range(w) if is_axis[:, x].sum() > h / 2)  # the y axis
    bottom = next(y for y in range(h - 1, 0, -1) if is_axis[y].sum() > w / 2)  # the x axis
    for y in rows:  # each horizontal grid line: a tick on the axis and its value to the left
        assert is_axis[y, left - 4 : left].all()
        assert (pixels[y - 6 : y + 7, : left - 6] < 200).any()
    for x in cols:  # each vertical one: a tick below the axis and its value under it
        assert is_axis[bottom : bottom + 4, x].all()
        assert (pixels[bottom + 6 : bottom + 20, x - 8 : x + 9] < 200).any()
