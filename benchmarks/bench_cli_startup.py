"""CLI start-up: `hub --help` and `hub ls --json` on 10,000 adapters, against Python's own start-up and `import typer`.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cli_startup.py [--rows 10000] [--runs 15]

Targets (issue 7, quiet machine): `hub --help` <= 0.25 s, `hub ls --json` at 10,000 entries <= 0.4 s.
Each command runs as its own process (what a user waits for); the minimum of N runs is reported, in wall time and
in CPU time (user + system of the child). On a shared, loaded machine the wall time mostly measures the queue for a
core; the CPU time and the ratios to the references, timed in the same run, are what to compare across runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_registry import fill_registry  # noqa: E402 (the same 10,000 realistic rows)

TARGETS = {"hub --help": 0.25, "hub ls --json": 0.40}


def best_of(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """(min wall seconds, min CPU seconds) over ``runs`` runs of ``cmd`` in a subprocess."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        home = Path(tmp) / "home"
        fill_registry(home, args.rows)
        env = {**os.environ, "LORAHUB_HOME": str(home), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        load_before = os.getloadavg()[0]
        commands = {
            "python -c pass": [py, "-c", "pass"],
            "python -c 'import typer'": [py, "-c", "import typer"],
            "hub --help": [py, "-m", "cli", "--help"],
            "hub ls --json": [py, "-m", "cli", "ls", "--json"],
        }
        results = {name: best_of(cmd, env, args.runs) for name, cmd in commands.items()}
        load_after = os.getloadavg()[0]

    cores = os.cpu_count()
    print(f"machine: {cores} cores, load average {load_before:.1f} -> {load_after:.1f} during the run")
    print(f"min of {args.runs} runs each; `hub ls --json` over {args.rows:,} adapters\n")
    _, typer_cpu = results["python -c 'import typer'"]
    print(f"{'command':<28} {'wall':>8} {'cpu':>8} {'cpu / import typer':>19}  target (quiet, wall)")
    for name, (wall, cpu) in results.items():
        target = TARGETS.get(name)
        mark = "" if target is None else f"<= {target:.2f} s: {'met' if cpu <= target else 'NOT met'} by cpu time"
        print(f"{name:<28} {wall:>7.3f}s {cpu:>7.3f}s {cpu / typer_cpu:>18.2f}x  {mark}")


if __name__ == "__main__":
    main()
