"""How a byte count reads for people ("140.3 KB"): one formatter for the CLI's tables, the web pages and messages."""

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
