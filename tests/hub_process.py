"""Run the installed `hub` script as a user does: a separate process, a clean environment, a fresh home.

Not `python -m cli`: the console script is what `pip install` gives a user. PYTHONPATH points at this
checkout so that the script runs the code under test (the venv may hold an editable install of another one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HUB = Path(sys.executable).parent / "hub"
# Set by the test session or a developer's shell; a user's first run has none of them.
NOT_A_USERS = ("HF_HUB_OFFLINE", "LORAHUB_DEBUG", "COLUMNS", "HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY")


def hub_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_A_USERS}
    env.update(LORAHUB_HOME=str(home), PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1", **extra)
    return env


def hub(home: Path, *args: str, timeout: float = 180, input: str | None = None, **extra: str):
    """``hub ARGS`` in its own process; returns the CompletedProcess (text, both streams captured)."""
    return subprocess.run(
        [str(HUB), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=hub_env(home, **extra),
        input=input,
    )
