"""Offline fails fast: with the Hub unreachable every network command ends in seconds with one `error:` line,
the HF_HUB_OFFLINE=1 hint and exit 7, in a fresh `hub` process as a user runs it.

Two kinds of unreachable: a closed port (refused at once; huggingface_hub used to retry it five times over
23 s, a warning line per try) and a port that accepts and never answers (no timeout at all before: a hang).
The hanging host's listening socket counts the connections the command made: one, not a retry per backoff.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_process import hub

from hub.testing import write_lora

ANSWER_WAIT = "2"  # HF_HUB_ETAG_TIMEOUT for these runs: how long a request waits for a silent host
BOUND_S = 20  # a refused or silent host costs one wait, not 23 s of retries (nor forever)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


@pytest.fixture
def silent_host() -> Iterator[socket.socket]:
    """A listening socket that never accepts: the kernel completes each handshake, nobody answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s
    s.close()


def _connections(listener: socket.socket) -> int:
    listener.setblocking(False)
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


@pytest.fixture
def home_with_adapter(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    src = write_lora(tmp_path / "cat.safetensors", arch="tiny-sd1", seed=2)
    r = hub(home, "add", str(src), "--name", "cat")
    assert r.returncode == 0, r.stderr
    return home


COMMANDS = {
    "search": ["search", "dog"],
    "pull": ["pull", "someone/cat-lora"],
    "push": ["push", "cat", "--repo", "alice/cat"],
    "fuse-from-hub-id": ["fuse", "someone/base-model", "cat", "--out", "fused"],
}


def _run_unreachable(home: Path, args: list[str], port: int, tmp_path: Path):
    started = time.monotonic()
    r = hub(
        home,
        *args,
        HF_ENDPOINT=f"http://127.0.0.1:{port}",
        HF_HUB_ETAG_TIMEOUT=ANSWER_WAIT,
        HF_HUB_CACHE=str(tmp_path / "hf-cache"),
        HF_TOKEN="hf_write_alice",
        timeout=120,
    )
    return r, time.monotonic() - started


def _assert_one_remote_error(r, elapsed: float) -> None:
    lines = r.stderr.splitlines()
    assert r.returncode == 7, r.stderr
    # push says which step it is on first (one line of talk); no retry warnings, no traceback
    assert len(lines) <= 3 and sum(line.startswith("error:") for line in lines) == 1, r.stderr
    assert lines[-2].startswith("error: cannot reach http://127.0.0.1:"), r.stderr
    assert lines[-1].startswith("hint: ") and "HF_HUB_OFFLINE=1" in lines[-1], r.stderr
    assert r.stdout == ""
    assert elapsed < BOUND_S, f"{elapsed:.1f} s"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_port_is_one_error_line_at_once(command, home_with_adapter, tmp_path):
    r, elapsed = _run_unreachable(home_with_adapter, COMMANDS[command], _closed_port(), tmp_path)
    _assert_one_remote_error(r, elapsed)
    assert "refused" in r.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_host_that_never_answers_is_asked_once(command, home_with_adapter, tmp_path, silent_host):
    r, elapsed = _run_unreachable(home_with_adapter, COMMANDS[command], silent_host.getsockname()[1], tmp_path)
    _assert_one_remote_error(r, elapsed)
    assert "did not answer" in r.stderr
    assert _connections(silent_host) == 1
