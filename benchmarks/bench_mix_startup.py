"""Whole-process `hub mix` of two small demo LoRAs vs `python -c "import torch, safetensors.torch"`, in the same run.

A mix of two kohya files is tensor maths on names and shapes: the process should cost little more than importing
torch and safetensors, which it needs. The target (issue 7) is within 1.3x of that reference.

Setup (not timed): a temporary LORAHUB_HOME with the demo's sample adapters (``hub.testing.write_sample_library``
on the embedded tiny base, the files ``hub demo`` imports; ``anime-style`` and ``watercolor_v2`` are kohya LoRAs of
~140 and ~220 KB) imported with ``hub import``. Then, alternating, ``--runs`` times each: the reference import, and
``hub mix anime-style:0.7 watercolor_v2:0.5`` (concat; and ``--method svd --rank 8``) as fresh processes. Prints
the median wall and CPU (user+sys) time of each, the ratios, and the machine's load average (other jobs share its
cores: under load the CPU times are the steadier comparison).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_mix_startup.py [--runs 7]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCE = [sys.executable, "-c", "import torch, safetensors.torch"]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def setup(home: Path, env: dict[str, str]) -> None:
    from hub.testing import write_sample_library

    samples = home / "samples"
    write_sample_library(samples)  # the demo's samples, for the tiny SD1 base's layout
    subprocess.run([sys.executable, "-m", "cli", "import", str(samples)], env=env, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mix-") as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "LORAHUB_HOME": str(home), "OMP_NUM_THREADS": "1"}
        # as installed: compiled modules cached (an environment with PYTHONDONTWRITEBYTECODE recompiles the
        # project's ~100 modules in every process, ~0.3 s that no user pays)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["LORAHUB_HOME"] = str(home)
        setup(home, env)
        mix = [sys.executable, "-m", "cli", "mix", "anime-style:0.7", "watercolor_v2:0.5", "--device", "cpu"]
        cases = {
            'python -c "import torch, safetensors.torch"': lambda i: REFERENCE,
            "hub mix anime-style:0.7 watercolor_v2:0.5": lambda i: [*mix, "--name", f"c{i}"],
            "  ... --method svd --rank 8": lambda i: [*mix, "--method", "svd", "--rank", "8", "--name", f"s{i}"],
        }
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        timed(REFERENCE, env)  # warm the page cache for both
        timed([*mix, "--name", "warm"], env)
        load_before = os.getloadavg()
        for i in range(args.runs):
            for name, cmd in cases.items():
                times[name].append(timed(cmd(i), env))
        load_after = os.getloadavg()
    reference = times[next(iter(cases))]
    ref_wall = statistics.median(w for w, _ in reference)
    ref_cpu = statistics.median(c for _, c in reference)
    print(f"{'command (fresh process, median of ' + str(args.runs) + ')':<50} {'wall s':>7} {'ratio':>6}"
          f" {'cpu s':>7} {'ratio':>6}  wall min..max")  # fmt: skip
    for name, values in times.items():
        wall, cpu = statistics.median(w for w, _ in values), statistics.median(c for _, c in values)
        walls = [w for w, _ in values]
        print(f"{name:<50} {wall:7.3f} {wall / ref_wall:5.2f}x {cpu:7.3f} {cpu / ref_cpu:5.2f}x"
              f"  {min(walls):.2f}..{max(walls):.2f}")  # fmt: skip
    print(f"load average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
