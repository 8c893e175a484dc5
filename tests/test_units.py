"""The number formatters the CLI tables, the web pages, the convert messages and the loss charts share."""

from __future__ import annotations

from hub.units import axis_ticks, human_size, tick_label


def test_listing_sizes_count_in_1024s() -> None:
    assert [human_size(n) for n in (None, 0, 1023, 1024, 140_300, 2**20, 3 * 2**30, 5 * 2**40)] == [
        "-", "0 B", "1023 B", "1.0 KB", "137.0 KB", "1.0 MB", "3.0 GB", "5120.0 GB",
    ]  # fmt: skip


def test_messages_can_count_in_1000s() -> None:
    sizes = [human_size(n, base=1000) for n in (999, 1000, 140_300, 2_500_000)]
    assert sizes == ["999 B", "1.0 KB", "140.3 KB", "2.5 MB"]


def test_axis_ticks_are_round_and_span_the_data() -> None:
    assert axis_ticks(0.0123, 0.0456) == [0.01, 0.02, 0.03, 0.04, 0.05]
    assert axis_ticks(0.8, 1.3) == [0.8, 1.0, 1.2, 1.4]
    assert axis_ticks(1, 30, 6, whole=True) == [0, 10, 20, 30]
    assert axis_ticks(1, 2, whole=True) == [1, 2]  # steps: never half a step apart
    assert axis_ticks(0.25, 0.25) == [0.15, 0.2, 0.25, 0.3, 0.35]  # a flat series still gets an axis around it
    assert axis_ticks(float("nan"), 1.0) == []


def test_tick_labels_have_the_decimals_their_spacing_needs() -> None:
    ticks = axis_ticks(0.0123, 0.0456)
    assert [tick_label(v, ticks) for v in ticks] == ["0.01", "0.02", "0.03", "0.04", "0.05"]
    assert [tick_label(v, [0.0, 0.5, 1.0]) for v in (0.0, 0.5, 1.0)] == ["0.0", "0.5", "1.0"]
    assert [tick_label(v, [0, 200, 400]) for v in (0, 200, 400)] == ["0", "200", "400"]
