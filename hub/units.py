"""How numbers read for people: a byte count ("140.3 KB") for the CLI's tables, the web pages and messages; a
chart's round ticks and their labels for the loss curves (the PNG of a run and the web page's SVG)."""

from __future__ import annotations


def human_size(n: float | None, *, base: int = 1024) -> str:
    """``n`` bytes in B, KB, MB or GB (one decimal above bytes); ``None`` reads "-". ``base``: 1024 for file
    listings (what file managers show), 1000 where a message compares sizes in SI units."""
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < base:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= base
    return f"{size:.1f} GB"


def axis_ticks(lo: float, hi: float, count: int = 5, *, whole: bool = False) -> list[float]:
    """About ``count`` round values, 1, 2 or 5 times a power of ten apart, from one at or below ``lo`` to one at or
    above ``hi``: a chart's ticks and grid lines, its axis spanning the first to the last. ``whole``: at least 1
    apart (training steps)."""
    import math

    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi - lo <= abs(hi) * 1e-9:  # a flat series: one unit of its magnitude around it
        half = 10 ** math.floor(math.log10(abs(hi))) if hi else 1.0
        lo, hi = lo - half, hi + half
    raw = (hi - lo) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    step = max(step, 1.0) if whole else step
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def tick_label(value: float, ticks: list[float]) -> str:
    """A tick's text with the decimals the spacing of ``ticks`` needs: 0.02 0.04 0.06, 0.5 1.0 1.5, 200 400."""
    import math

    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    if value and (abs(value) >= 1e6 or abs(value) < 1e-4):
        return f"{value:.3g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:.{decimals}f}"
