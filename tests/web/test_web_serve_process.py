"""``hub serve`` as users run it: a separate process on 127.0.0.1 answers, refuses a foreign Host, and stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hub_serve_runs_as_a_process(lorahub_home: Path) -> None:
    port = _free_port()
    env = {**os.environ, "LORAHUB_HOME": str(lorahub_home), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline, r = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                r = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.2)
        assert r is not None and r.status_code == 200 and "The registry is empty" in r.text
        assert httpx.get(url, headers={"Host": f"rebind.example:{port}"}).status_code == 403
        assert httpx.post(url + "mix", data={"adapter": "x"}).status_code == 403
        # a second server on the same port says so, in one line
        busy = subprocess.run(
            [sys.executable, "-m", "cli", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert busy.returncode == 4 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with proc.stderr:
        assert "serving" in proc.stderr.read()
    assert proc.returncode == 0  # Ctrl-C is how a server ends: not an error


def test_other_commands_never_import_the_web_stack() -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['hub', '--help']\n"
        "try:\n    runpy.run_module('cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('WEB', [m for m in ('starlette', 'uvicorn', 'jinja2', 'multipart', 'hub.web') if m in sys.modules])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert "WEB []" in r.stdout, r.stdout + r.stderr
