"""Registry speed: `hub ls --json` on 10,000 adapters, and `hub import` against `sha256sum`.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_registry.py [--rows 10000] [--files 4 --rank 128]

Everything happens in a temporary LORAHUB_HOME; nothing is downloaded. Each timing is the median of
several runs of the real CLI in a subprocess (what a user waits for), with the page cache warm for both
sides of the import comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HUB = [sys.executable, "-m", "cli"]


def timed(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fill_registry(home: Path, rows: int) -> None:
    """10,000 realistic rows, written through the registry's own insert path."""
    from hub.paths import Paths
    from hub.registry.db import Registry, now

    # Real kohya headers carry ~60 ss_* keys and an ss_tag_frequency of several KB.
    tag_frequency = {"10_subject": {f"tag number {t}": t for t in range(400)}}
    meta = {f"ss_key_{i}": "x" * 20 for i in range(60)} | {"ss_tag_frequency": json.dumps(tag_frequency)}
    with Registry.open(Paths(home).registry_db) as reg, reg.transaction():
        for i in range(rows):
            rid = f"{i:010x}"
            reg.insert_adapter(
                {
                    "id": rid,
                    "name": f"adapter-{i:05d}",
                    "kind": "lora",
                    "format": "kohya",
                    "arch": ("sd1", "sdxl", "flux")[i % 3],
                    "rank": 16,
                    "ranks": [16],
                    "alpha": 8.0,
                    "scale": 0.5,
                    "modules": {"unet": 192, "text_encoder": 72},
                    "dtype": "float16",
                    "size": 151_000_000,
                    "sha256": f"{i:064x}",
                    "triggers": [f"trigger{i}", "style"],
                    "description": "a sample description of a LoRA",
                    "source": f"/data/loras/folder{i % 50}/adapter-{i:05d}.safetensors",
                    "path": f"/store/{i:064x}",
                    "metadata": meta,
                    "imported_at": now(),
                }
            )
            reg.set_tags(rid, ["style", f"t{i % 20}"])
            reg.reindex(rid)


def write_files(folder: Path, count: int, rank: int) -> int:
    """Real SD1.5-shaped kohya LoRAs (UNet + text encoder + 3x3 convs), as a Civitai folder holds."""
    from hub.testing import write_lora

    folder.mkdir(parents=True)
    total = 0
    for i in range(count):
        path = write_lora(folder / f"lora_{i:02d}.safetensors", arch="sd1", rank=rank, conv=True, seed=i)
        total += path.stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rank", type=int, default=128, help="LoRA rank of the files (128: ~290 MB each)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lorahub-bench-"))
    try:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "LORAHUB_HOME": str(tmp / "home-ls")}
        fill_registry(tmp / "home-ls", args.rows)
        t_ls = timed([*HUB, "ls", "--json"], env, args.runs)
        t_ls_table = timed([*HUB, "ls", "--limit", "50"], env, args.runs)
        t_help = timed([*HUB, "--help"], env, args.runs)
        print(f"hub ls --json, {args.rows} adapters: {t_ls:.3f} s (median of {args.runs})")
        print(f"hub ls --limit 50 (table), {args.rows} adapters: {t_ls_table:.3f} s")
        print(f"hub --help: {t_help:.3f} s")

        folder = tmp / "files"
        total = write_files(folder, args.files, args.rank)
        files = sorted(str(p) for p in folder.iterdir())
        t_sha = timed(["sha256sum", *files], env, 3)
        results = {}
        for mode, extra in (("copy into store", []), ("--in-place", ["--in-place"])):
            times = []
            for run in range(3):
                home = tmp / f"home-import-{mode[:4]}-{run}"
                e = {**env, "LORAHUB_HOME": str(home)}
                times.append(timed([*HUB, "import", str(folder), *extra], e, 1))
                names = subprocess.run([*HUB, "ls", "-q"], env=e, capture_output=True, text=True).stdout.split()
                if len(names) != args.files:
                    raise SystemExit(f"only {len(names)} of {args.files} benchmark files were registered")
                shutil.rmtree(home)
            results[mode] = statistics.median(times)
        gb = total / 1e9
        print(f"sha256sum over {args.files} files, {gb:.2f} GB: {t_sha:.2f} s ({gb / t_sha:.2f} GB/s)")
        for mode, t in results.items():
            print(f"hub import ({mode}), all six hashes: {t:.2f} s ({gb / t:.2f} GB/s) = {t / t_sha:.2f}x sha256sum")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
