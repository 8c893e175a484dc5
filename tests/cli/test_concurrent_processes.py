"""Several `hub` processes on one registry at once (WAL + busy timeout + IMMEDIATE transactions)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from hub.testing import write_lora


def test_parallel_adds_all_succeed(tmp_path: Path) -> None:
    files = [write_lora(tmp_path / f"f{i}.safetensors", seed=i, components=("unet",)) for i in range(6)]
    same = files[0]
    env = {**os.environ}
    cmds = [[sys.executable, "-m", "cli", "add", str(f)] for f in files]
    cmds += [[sys.executable, "-m", "cli", "add", str(same)]]  # the same bytes twice, at the same time
    cmds += [[sys.executable, "-m", "cli", "ls", "--json"] for _ in range(2)]
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    rows = json.loads(
        subprocess.run([sys.executable, "-m", "cli", "ls", "--json"], env=env, capture_output=True, text=True).stdout
    )
    assert sorted(r["name"] for r in rows) == [f"f{i}" for i in range(6)]
