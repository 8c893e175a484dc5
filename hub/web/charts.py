"""The loss curve of a training run as an inline SVG (drawn on the server: a page refresh or a poll redraws it)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from hub.units import axis_ticks, tick_label

if TYPE_CHECKING:
    from hub.train.results import LogRow


def _smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """TensorBoard's exponential moving average, debiased: the raw loss of diffusion training is noise."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**i))
    return out


def loss_svg(points: Sequence[LogRow], width: int = 640, height: int = 260) -> str:
    """The loss per step: raw points and the smoothed line over a grid, both axes with round ticks, their values
    and names."""
    pad_l, pad_r, pad_t, pad_b = 58, 14, 14, 40
    head = (
        f'<svg class="loss" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="loss curve">'
    )
    if not points:
        return head + f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle">no steps logged yet</text></svg>'
    steps = [p.step for p in points]
    losses = [p.loss for p in points]
    y_ticks = axis_ticks(min(losses), max(losses))
    x_ticks = axis_ticks(min(steps), max(steps), 6, whole=True)
    lo, hi, s0, s1 = y_ticks[0], y_ticks[-1], x_ticks[0], x_ticks[-1]
    left, right, top, bottom = pad_l, width - pad_r, pad_t, height - pad_b

    def x_at(step: float) -> float:
        return left + (step - s0) / (s1 - s0) * (right - left)

    def y_at(loss: float) -> float:
        return top + (hi - loss) / (hi - lo) * (bottom - top)

    def xy(step: float, loss: float) -> str:
        return f"{x_at(step):.1f},{y_at(loss):.1f}"

    parts = [head]
    for v in y_ticks:
        y = f"{y_at(v):.1f}"
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y}" x2="{right}" y2="{y}"/>'
            f'<line class="tick" x1="{left - 4}" y1="{y}" x2="{left}" y2="{y}"/>'
            f'<text class="tick-label" x="{left - 7}" y="{y}" dy="0.35em" text-anchor="end">{tick_label(v, y_ticks)}'
            "</text>"
        )
    for s in x_ticks:
        x = f"{x_at(s):.1f}"
        parts.append(
            f'<line class="grid" x1="{x}" y1="{top}" x2="{x}" y2="{bottom}"/>'
            f'<line class="tick" x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 4}"/>'
            f'<text class="tick-label" x="{x}" y="{bottom + 16}" text-anchor="middle">{tick_label(s, x_ticks)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>'
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/>'
        f'<text class="axis-name" x="{(left + right) / 2:.0f}" y="{height - 6}" text-anchor="middle">step</text>'
        f'<text class="axis-name" x="12" y="{(top + bottom) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {(top + bottom) / 2:.0f})">loss</text>'
    )
    raw = " ".join(xy(s, v) for s, v in zip(steps, losses, strict=True))
    smooth = " ".join(xy(s, v) for s, v in zip(steps, _smooth(losses), strict=True))
    last = escape(f"loss {losses[-1]:.4f} at step {steps[-1]}")
    parts.append(
        f'<polyline class="loss-raw" points="{raw}"/><polyline class="loss-smooth" points="{smooth}"/>'
        f'<text x="{right}" y="{top + 12}" text-anchor="end">{last}</text></svg>'
    )
    return "".join(parts)
