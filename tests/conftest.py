"""Test environment: a private LORAHUB_HOME per test, Hugging Face pointed at a loopback server.

huggingface_hub reads HF_ENDPOINT and friends when it is first imported (diffusers imports it
too), so they are set in ``pytest_configure``, before any test module is collected.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest
from real_adapter_files import real_adapters_dir

REPO_ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Made in pytest_configure, removed in pytest_unconfigure: a run leaves nothing in the temp dir.
_SESSION_DIRS: list[Path] = []
# What a test may change only through monkeypatch (restored after it): checked after every test.
_GUARDED_ENV = ("LORAHUB_HOME", "HF_HOME", "HF_ENDPOINT", "HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE")
_baseline: dict[str, object] = {}


def _session_dir(prefix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    _SESSION_DIRS.append(d)
    return d


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    hf_home = _session_dir("lorahub-test-hf-")
    port = _free_port()
    os.environ["LORAHUB_TEST_HUB_PORT"] = str(port)
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
    os.environ["HF_HOME"] = str(hf_home)
    os.environ["HF_HUB_DISABLE_XET"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.pop("HF_TOKEN", None)
    os.environ.pop("HF_HUB_OFFLINE", None)
    os.environ.pop("LORAHUB_DEBUG", None)
    os.environ["LORAHUB_HOME"] = str(_session_dir("lorahub-test-home-"))


def pytest_unconfigure(config: pytest.Config) -> None:
    for d in _SESSION_DIRS:
        shutil.rmtree(d, ignore_errors=True)
    _SESSION_DIRS.clear()


def _state() -> dict[str, object]:
    return {**{k: os.environ.get(k) for k in _GUARDED_ENV}, "sys.path": list(sys.path)}


def pytest_collection_finish(session: pytest.Session) -> None:
    _baseline.update(_state())  # after collection: importing test modules may extend sys.path, running them not


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """A test (or a module/session fixture) that leaves LORAHUB_HOME, HF_* or sys.path changed fails here,
    so the next test, in whatever order, starts from the same environment."""
    result = yield
    if _baseline and nextitem is not None:  # the last test: module/session fixtures may still be tearing down
        now = _state()
        changed = sorted(k for k in _baseline if now.get(k) != _baseline[k])
        if changed:
            _baseline.update(now)  # report once, not again on every later test
            raise AssertionError(f"{item.nodeid} left {', '.join(changed)} changed (use monkeypatch/tmp_path)")
    return result


@pytest.fixture(autouse=True)
def lorahub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty home of its own."""
    home = tmp_path / "lorahub-home"
    monkeypatch.setenv("LORAHUB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def real_adapters() -> Path:
    d = real_adapters_dir()
    if d is None:
        pytest.skip("../shared/real-adapters is not here")
    return d
