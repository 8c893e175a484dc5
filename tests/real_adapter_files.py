"""Where the shared real adapter files are (a plain module: test modules import it; conftest names are ambiguous
across the suite's folders)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def real_adapters_dir() -> Path | None:
    """``../shared/real-adapters`` beside the checkout (or $LORAHUB_REAL_ADAPTERS); None when absent."""
    env = os.environ.get("LORAHUB_REAL_ADAPTERS")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared" / "real-adapters", REPO_ROOT / ".." / "shared" / "real-adapters"]
    for c in candidates:
        if (c / "MANIFEST.jsonl").is_file():
            return c.resolve()
    return None
