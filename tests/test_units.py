"""The one byte-count formatter the CLI tables, the web pages and the convert messages share."""

from __future__ import annotations

from hub.units import human_size


def test_listing_sizes_count_in_1024s() -> None:
    assert [human_size(n) for n in (None, 0, 1023, 1024, 140_300, 2**20, 3 * 2**30, 5 * 2**40)] == [
        "-", "0 B", "1023 B", "1.0 KB", "137.0 KB", "1.0 MB", "3.0 GB", "5120.0 GB",
    ]  # fmt: skip


def test_messages_can_count_in_1000s() -> None:
    sizes = [human_size(n, base=1000) for n in (999, 1000, 140_300, 2_500_000)]
    assert sizes == ["999 B", "1.0 KB", "140.3 KB", "2.5 MB"]
