"""`hub grid`: one labelled PNG whose cells are exactly the single renders, recipe embedded, one pipeline load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hub.errors import UsageError
from hub.gen import api
from hub.gen.grid_plan import plan_grid
from tests.gen.conftest import pixels


def test_grid_layout_labels_cells_and_recipe(tiny_base: Path, registered, tmp_path: Path, monkeypatch) -> None:
    from hub.gen import renderer as renderer_module

    loads = []
    real_init = renderer_module.Renderer.__init__

    def counting_init(self, *args, **kwargs):
        loads.append(args)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(renderer_module.Renderer, "__init__", counting_init)
    ticks: list[tuple[int, int]] = []
    result = api.grid("a dog", [("dog", [0, 0.5, 1]), ("style", [0, 1])], seeds=[4], base=str(tiny_base), steps=2,
                      out=tmp_path / "grid.png", progress=lambda d, t: ticks.append((d, t)))  # fmt: skip
    assert len(loads) == 1  # the pipeline is loaded once for the six cells
    assert ticks[-1] == (12, 12)  # 6 cells x 2 steps
    assert result.columns == ["dog: 0", "dog: 0.5", "dog: 1"]
    assert result.rows == ["style: 0", "style: 1"]
    sheet = pixels(result.path)
    assert sheet.shape == (result.height, result.width, 3)
    assert len(result.cells) == 6
    boxes = {(c.column, c.row): c.box for c in result.cells}
    # cells 64x64 in a 3x2 layout, below a header and right of the row labels, 2 px apart
    left, top, right, bottom = boxes[(0, 0)]
    assert (right - left, bottom - top) == (64, 64)
    assert boxes[(2, 1)] == (left + 2 * 66, top + 66, left + 2 * 66 + 64, top + 66 + 64)
    assert (result.width, result.height) == (left + 3 * 66 - 2, top + 2 * 66 - 2)
    # labels were drawn: dark pixels in the header and in the row-label margin, white elsewhere around
    assert (sheet[:top, left:] < 100).any() and (sheet[top:, :left] < 100).any()
    # every cell is exactly the image a single `hub gen` with the same settings draws
    cell = next(c for c in result.cells if c.weights == {"dog": 0.5, "style": 1.0})
    single = api.generate("a dog", loras=[("dog", 0.5), ("style", 1.0)], base=str(tiny_base), seed=4, steps=2,
                          out=tmp_path / "single")  # fmt: skip
    l, t, r, b = cell.box  # noqa: E741
    assert np.array_equal(sheet[t:b, l:r], pixels(single.images[0].path))
    # the recipe: A1111's infotext of the first cell plus the X/Y fields, and our JSON
    request = api.read_png(result.path)
    assert [(lo.name, lo.weight) for lo in request.loras] == [("dog", 0.0), ("style", 0.0)]
    assert request.extra["Script"] == "X/Y/Z plot" and request.extra["X Values"] == "0, 0.5, 1"
    recipe = api.read_grid(result.path)
    assert recipe["axes"] == [["dog", [0.0, 0.5, 1.0]], ["style", [0.0, 1.0]]] and recipe["seeds"] == [4]


def test_one_axis_and_seeds_make_the_rows() -> None:
    plan = plan_grid([("dog", [0, 1])], [1, 2, 3])
    assert plan.columns == ["dog: 0", "dog: 1"]
    assert plan.rows == ["seed 1", "seed 2", "seed 3"]
    assert [(c.column, c.row, c.seed) for c in plan.cells][:3] == [(0, 0, 1), (1, 0, 1), (0, 1, 2)]
    single = plan_grid([("dog", [0, 1])], [7])
    assert single.rows == [""] and single.xy_fields()[-1] == ("X Values", "0, 1")


def test_bad_grids_are_refused() -> None:
    for axes, seeds in (([], [1]), ([("dog", [])], [1]), ([("dog", [1]), ("dog", [0])], [1]), ([("dog", [1])], [])):
        with pytest.raises(UsageError):
            plan_grid(axes, seeds)
