"""The runs page's loss chart (an SVG drawn on the server) has axes, round ticks with their values, a grid and
its axes named, and every logged point on it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hub.train.results import LogRow
from hub.web.charts import loss_svg

SVG = "{http://www.w3.org/2000/svg}"


def _rows(n: int) -> list[LogRow]:
    return [LogRow(step=s, loss=0.05 + 0.3 / s, lr=1e-4, seconds=0.1) for s in range(1, n + 1)]


def _by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if cls in (e.get("class") or "").split()]


def test_the_loss_chart_has_ticks_labels_and_a_grid_on_both_axes() -> None:
    root = ET.fromstring(loss_svg(_rows(30)))
    labels = [e.text for e in _by_class(root, "text", "tick-label")]
    grid = _by_class(root, "line", "grid")
    horizontal = [g for g in grid if g.get("y1") == g.get("y2")]
    vertical = [g for g in grid if g.get("x1") == g.get("x2")]
    ticks = _by_class(root, "line", "tick")
    assert len(horizontal) >= 3 and len(vertical) >= 3 and len(ticks) == len(grid) == len(labels)
    assert labels[: len(horizontal)] == ["0.0", "0.1", "0.2", "0.3", "0.4"]  # the loss axis, round values
    assert labels[len(horizontal) :] == ["0", "10", "20", "30"]  # the step axis
    assert {e.text for e in _by_class(root, "text", "axis-name")} == {"step", "loss"}
    assert len(_by_class(root, "line", "axis")) == 2
    (raw,) = _by_class(root, "polyline", "loss-raw")
    assert len(raw.get("points", "").split()) == 30


def test_an_empty_log_says_so() -> None:
    assert "no steps logged yet" in loss_svg([])


def test_the_chart_marked_safe_in_run_html_carries_no_text_from_the_run(tmp_path) -> None:
    # run.html inserts the chart with |safe: what reaches it is the run's log, read as numbers only (a hostile
    # "loss" in an edited log.jsonl is skipped, not drawn); every text the SVG holds is its own.
    import json
    import re

    from hub.train.runs import read_log

    log = tmp_path / "log.jsonl"
    hostile = {"step": 13, "loss": '<script>alert("x")</script>', "lr": 1e-4, "seconds": 0.1}
    log.write_text("".join(r.to_json() + "\n" for r in _rows(12)) + json.dumps(hostile) + "\n")
    rows = read_log(log)
    assert len(rows) == 12
    svg = loss_svg(rows)
    assert "<script" not in svg and "alert" not in svg
    texts = [e.text or "" for e in ET.fromstring(svg).iter(SVG + "text")]
    own = r"[-+0-9.e]+|step|loss|loss [-+0-9.e]+ at step \d+"
    assert texts and all(re.fullmatch(own, t) for t in texts), texts
