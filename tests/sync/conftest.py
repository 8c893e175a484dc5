"""Sync tests: the real huggingface_hub client against the loopback fake Hub, and nothing else.

The root conftest already pointed HF_ENDPOINT at 127.0.0.1:$LORAHUB_TEST_HUB_PORT (before anything
imported huggingface_hub). Here: one server for the session on that port, an empty store, a fresh
Hugging Face cache and no token for each test, and a guard that fails the test if any socket tried
to reach a host other than loopback.

``from fake_hub import ...`` works because pytest's default (prepend) import mode puts this folder, which is
not a package, on sys.path when it imports this conftest; nothing here edits sys.path itself.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hub import FakeHub

WRITE_TOKEN = "hf_write_alice"
READ_TOKEN = "hf_read_alice"


@pytest.fixture(scope="session")
def hub_server() -> Iterator[FakeHub]:
    port = int(os.environ["LORAHUB_TEST_HUB_PORT"])
    root = Path(tempfile.mkdtemp(prefix="lorahub-test-fake-hub-"))
    server = FakeHub(root, port).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fake_hub(hub_server: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """The server, emptied, with a private HF cache and no token (tests set HF_TOKEN when they need one)."""
    import huggingface_hub.constants as hf_constants

    assert hub_server.endpoint == hf_constants.ENDPOINT, "huggingface_hub was imported before HF_ENDPOINT was set"
    assert hf_constants.HF_HUB_DISABLE_XET
    hub_server.reset()  # repos, recorded requests, switches and stored LFS blobs: nothing from another test
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "hf-token"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))  # for subprocesses
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "hf-token"))
    yield hub_server
    xet = [r for r in hub_server.requests if "xet" in r.path.lower()]
    assert not xet, f"requests went to Xet routes: {xet}"


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "") or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every outgoing connection is recorded; one to a non-loopback host fails instead of leaving the machine."""
    seen: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        seen.append(str(host))
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(str(host)):
            raise OSError(f"test guard: connection to {host} refused (only 127.0.0.1 is allowed)")
        return real_connect(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        seen.append(name)
        if not _is_loopback(name):
            raise OSError(f"test guard: name lookup of {name} refused (only 127.0.0.1 is allowed)")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield seen
    outside = [h for h in seen if not _is_loopback(h)]
    assert not outside, f"requests tried to leave 127.0.0.1: {outside}"


@pytest.fixture
def write_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HF_TOKEN", WRITE_TOKEN)
    return WRITE_TOKEN
