"""Web UI speed: gallery pages on 10,000 adapters, and thumbnails made once then served from the cache.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_web.py [--rows 10000] [--runs 7]

Pages are timed through the ASGI app in-process (Starlette's test client: routing, the guard, SQL, templates;
no sockets), each the median of several requests after one warm-up. `hub ls --json` on the same registry, run
as a subprocess, is the machine-speed reference (it is what the registry costs without any web layer). There is
no peer to run here: ComfyUI-Lora-Manager needs ComfyUI and its own library scan.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = (
    "/",
    "/?q=anime",
    "/?arch=sdxl&sort=rank&page=40",
    "/?tag=t7&source=hf",
    "/?sort=size&page=208",
    "/api/adapters?q=pixel",
)


def median_time(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lorahub-bench-web-"))
    home = tmp / "home"
    os.environ["LORAHUB_HOME"] = str(home)
    sys.path.insert(0, str(ROOT))
    try:
        from PIL import Image
        from starlette.testclient import TestClient

        from hub.settings import load_settings
        from hub.testing import fill_registry
        from hub.web.api import create_app
        from hub.web.thumbnails import thumbnail

        fill_registry(home, args.rows)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        ls_cmd = [sys.executable, "-m", "cli", "ls", "--json"]
        t_ls = median_time(lambda: subprocess.run(ls_cmd, env=env, check=True, capture_output=True), 3)
        print(f"reference: hub ls --json, {args.rows} adapters, as a process: {t_ls * 1000:.0f} ms")
        with TestClient(create_app(load_settings()), base_url="http://127.0.0.1:7860") as client:
            for page in PAGES:
                t = median_time(lambda page=page: client.get(page).raise_for_status(), args.runs)
                print(f"GET {page:<34} {t * 1000:7.1f} ms  ({t / t_ls:.2f}x hub ls --json)")
        big = tmp / "preview.png"
        Image.effect_noise((1024, 1536), 64).convert("RGB").save(big)
        cache = tmp / "thumbs"
        t0 = time.perf_counter()
        thumbnail(big, cache)
        first = time.perf_counter() - t0
        cached = median_time(lambda: thumbnail(big, cache), args.runs)
        print(f"thumbnail of a 1024x1536 PNG: first {first * 1000:.1f} ms, cached {cached * 1000:.2f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
