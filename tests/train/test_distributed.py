"""The distributed path: two CPU processes (gloo) launched by torchrun train one adapter together, the same one
that one process trains with twice the batch; the main process alone writes the run folder and registers it."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from tests.train.conftest import registered, run_hub


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_cpu_processes_train_one_registered_adapter(home: Path, pictures: Path, settings) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                str(_free_port())]  # fmt: skip
    common = ["train", "--images", str(pictures), "--token", "sks", "--class-word", "dog", "--preset", "cpu-tiny",
              "--steps", "3", "--sample-steps", "1", "--resolution", "32", "--json"]  # fmt: skip
    proc = run_hub(*common, "--run-id", "two", "--name", "two", home=home, launcher=launcher)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # one JSON document: only the main process prints
    assert result["world_size"] == 2 and result["process_index"] == 0
    info = json.loads((home / "runs" / "two" / "run.json").read_text())
    assert info["status"] == "done" and info["world_size"] == 2
    rows = (home / "runs" / "two" / "log.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [1, 2, 3]
    (adapter,) = registered(settings)  # the two processes registered one adapter
    with safe_open(adapter.path, "pt") as f:
        meta = f.metadata()
    assert meta["ss_total_batch_size"] == "2" and meta["ss_steps"] == "3"

    one = run_hub(*common, "--batch-size", "2", "--run-id", "one", "--name", "one", home=home)
    assert one.returncode == 0, one.stderr[-3000:]
    two_weights, one_weights = load_file(adapter.path), load_file(json.loads(one.stdout)["path"])
    assert two_weights.keys() == one_weights.keys()
    # Equal up to the order of float sums, which Adam magnifies where a gradient is near its eps (test_option_effects)
    assert all(torch.allclose(two_weights[k], one_weights[k], rtol=1e-4, atol=1e-4) for k in two_weights)
