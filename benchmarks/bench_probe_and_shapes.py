"""Probe and shape-table speed: what used to be wall-clock thresholds inside tests.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_probe_and_shapes.py [--runs 7]

- probing a 300 MB kohya FLUX file (sparse on disk) must read the header only: target < 0.2 s;
- the packaged module tables of sd1/sd2/sdxl: target < 2 s for all three, cold;
- the tiny archs' tables, built once on the meta device, then cached: target < 1 s warm;
- ``lora_targets("sdxl")`` once cached: target < 0.1 s.

Each is the minimum of N runs (the cold figure is one run, the first in a fresh process).
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.formats.probe import probe_file  # noqa: E402
from hub.testing import lora_targets, module_shapes  # noqa: E402


def sparse_flux_file(folder: Path) -> Path:
    entries, offset = {}, 0
    for i in range(400):
        for part, shape in (("lora_down.weight", [32, 3072]), ("lora_up.weight", [3072, 32])):
            n = shape[0] * shape[1] * 2
            entries[f"lora_unet_double_blocks_{i % 19}_img_mlp_{i}.{part}"] = {
                "dtype": "F16",
                "shape": shape,
                "data_offsets": [offset, offset + n],
            }
            offset += n
    raw = json.dumps(entries).encode()
    raw += b" " * (-len(raw) % 8)
    path = folder / "big.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    return path


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    t0 = time.perf_counter()
    for arch in ("sd1", "sd2", "sdxl"):
        module_shapes(arch)  # type: ignore[arg-type]
        lora_targets(arch, conv=True)  # type: ignore[arg-type]
    rows = [("packaged tables sd1+sd2+sdxl, cold", time.perf_counter() - t0, 2.0)]
    for arch in ("tiny-sd1", "tiny-sdxl"):
        module_shapes(arch)  # type: ignore[arg-type]
    rows.append(
        (
            "tiny-sd1+tiny-sdxl lora_targets, cached",
            best(lambda: [lora_targets(a, conv=True) for a in ("tiny-sd1", "tiny-sdxl")], args.runs),  # type: ignore[arg-type]
            1.0,
        )
    )
    rows.append(('lora_targets("sdxl"), cached', best(lambda: lora_targets("sdxl"), args.runs), 0.1))
    with tempfile.TemporaryDirectory() as tmp:
        path = sparse_flux_file(Path(tmp))
        rows.append(("probe of a 300 MB sparse FLUX file", best(lambda: probe_file(path), args.runs), 0.2))
    for what, seconds, target in rows:
        verdict = "ok" if seconds < target else "SLOWER than target"
        print(f"{what:45s} {seconds * 1000:9.1f} ms   target < {target * 1000:.0f} ms   {verdict}")


if __name__ == "__main__":
    main()
