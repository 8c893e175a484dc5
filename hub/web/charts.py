"""The loss curve of a training run as an inline SVG (drawn on the server: a page refresh or a poll redraws it)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.train.results import LogRow


def _smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """TensorBoard's exponential moving average, debiased: the raw loss of diffusion training is noise."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**i))
    return out


def loss_svg(points: Sequence[LogRow], width: int = 640, height: int = 240) -> str:
    pad_l, pad_r, pad_t, pad_b = 54, 12, 12, 28
    head = (
        f'<svg class="loss" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="loss curve">'
    )
    if not points:
        return head + f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle">no steps logged yet</text></svg>'
    steps = [p.step for p in points]
    losses = [p.loss for p in points]
    lo, hi = min(losses), max(losses)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    s0, s1 = min(steps), max(steps)
    span = max(1, s1 - s0)

    def xy(step: int, loss: float) -> str:
        x = pad_l + (step - s0) / span * (width - pad_l - pad_r)
        y = pad_t + (hi - loss) / (hi - lo) * (height - pad_t - pad_b)
        return f"{x:.1f},{y:.1f}"

    raw = " ".join(xy(s, v) for s, v in zip(steps, losses, strict=True))
    smooth = " ".join(xy(s, v) for s, v in zip(steps, _smooth(losses), strict=True))
    axes = (
        f'<line class="axis" x1="{pad_l}" y1="{height - pad_b}" x2="{width - pad_r}" y2="{height - pad_b}"/>'
        f'<line class="axis" x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{height - pad_b}"/>'
        f'<text x="{pad_l - 6}" y="{pad_t + 10}" text-anchor="end">{hi:.3g}</text>'
        f'<text x="{pad_l - 6}" y="{height - pad_b}" text-anchor="end">{lo:.3g}</text>'
        f'<text x="{pad_l}" y="{height - 8}">step {s0}</text>'
        f'<text x="{width - pad_r}" y="{height - 8}" text-anchor="end">step {s1}</text>'
    )
    last = escape(f"loss {losses[-1]:.4f} at step {steps[-1]}")
    return (
        head
        + axes
        + f'<polyline class="loss-raw" points="{raw}"/><polyline class="loss-smooth" points="{smooth}"/>'
        + f'<text x="{width - pad_r}" y="{pad_t + 10}" text-anchor="end">{last}</text></svg>'
    )
