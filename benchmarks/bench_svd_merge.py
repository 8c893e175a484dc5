"""Factored SVD merge vs the dense method (form ΔW, full SVD: what kohya's svd_merge_lora.py and PEFT do).

Generates two kohya LoRA files per arch with the real module sets and shapes (rank 32, text encoders and 3x3
convs, via ``hub.testing.lora_targets``), merges them at weights 0.7/0.5 to rank 32 and reports:

- our time for the whole merge (``hub.compose.ops.svd_merge``) and the process's peak RSS growth;
- the dense baseline: per module ΔW = Σ w_i s_i up_i down_i, ``torch.linalg.svd(full_matrices=True)``, truncate.
  Timing every SDXL module densely takes many minutes, so by default the baseline is timed on ONE module per
  distinct (shape, input rank) and multiplied by the number of modules of that shape (an extrapolation, printed
  as such); ``--dense all`` times every module.
- the error of both against ΣwΔW on the timed modules (they must agree: both are the Eckart–Young optimum).
- with ``KOHYA_SD_SCRIPTS=/path/to/sd-scripts`` (and optionally ``KOHYA_PYTHON``, a Python with its requirements),
  kohya's ``networks/svd_merge_lora.py`` on the same files, wall time and the ratio.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_svd_merge.py [--arch sd1 sdxl] [--dense shapes|all]``
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

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from hub.compose import ops
from hub.formats.load import load_lora_set
from hub.formats.lora_set import LoraModule, LoraSet
from hub.formats.write import save_lora_set
from hub.testing import lora_targets

WEIGHTS = (0.7, 0.5)


def make_file(path: Path, arch: str, seed: int, rank: int) -> Path:
    g = torch.Generator().manual_seed(seed)
    modules = {}
    for key, shape in lora_targets(arch, conv=True).items():
        inner = int(torch.tensor(shape[1:]).prod())
        up = (torch.randn(shape[0], rank, generator=g) * 0.02).to(torch.float16)
        down = (torch.randn(rank, inner, generator=g) * 0.02).to(torch.float16)
        modules[key] = LoraModule(up, down, 16.0 / rank, tuple(shape))  # alpha 16
    save_lora_set(LoraSet(arch=arch, modules=modules), path, fmt="kohya", dtype=torch.float16)
    return path


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dense_merge(sets: list[LoraSet], key: str, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """kohya svd_merge_lora's way: dense sum, full SVD, U·S and Vh truncated. Returns (approx, target)."""
    target = sum(w * ops.module_delta(s.modules[key]) for s, w in zip(sets, WEIGHTS, strict=True))
    U, S, Vh = torch.linalg.svd(target, full_matrices=True)
    k = min(rank, len(S))
    return (U[:, :k] * S[:k]) @ Vh[:k], target


def bench(arch: str, rank: int, dense_mode: str, folder: Path) -> dict:
    files = [make_file(folder / f"{arch}_{i}.safetensors", arch, seed=i, rank=rank) for i in range(2)]
    sets = [load_lora_set(f) for f in files]
    pairs = list(zip(sets, WEIGHTS, strict=True))
    n = len(sets[0].modules)
    ops.svd_merge(pairs[:1], rank)  # warm-up (LAPACK/first-call costs), not timed
    before = rss_mb()
    t0 = time.perf_counter()
    red = ops.svd_merge(pairs, rank)
    ours = time.perf_counter() - t0
    ours_rss = rss_mb() - before

    # dense baseline
    by_shape: dict[tuple, list[str]] = {}
    for key, mod in sets[0].modules.items():
        by_shape.setdefault((tuple(mod.weight_shape), mod.rank), []).append(key)
    timed = [k for keys in by_shape.values() for k in (keys if dense_mode == "all" else keys[:1])]
    dense_total, worst_gap, worst_rel = 0.0, 0.0, 0.0
    before = rss_mb()
    for keys in by_shape.values():
        for key in keys if dense_mode == "all" else keys[:1]:
            t0 = time.perf_counter()
            approx, target = dense_merge(sets, key, rank)
            dt = time.perf_counter() - t0
            dense_total += dt if dense_mode == "all" else dt * len(keys)
            ours_err = float(torch.linalg.norm(ops.module_delta(red.lora_set.modules[key]) - target))
            dense_err = float(torch.linalg.norm(approx - target))
            norm = float(torch.linalg.norm(target))
            worst_gap = max(worst_gap, (ours_err - dense_err) / norm)
            worst_rel = max(worst_rel, dense_err / norm)
    dense_rss = rss_mb() - before
    return {
        "arch": arch, "modules": n, "shapes": len(by_shape), "dense_timed": len(timed), "ours_s": ours,
        "dense_s": dense_total, "extrapolated": dense_mode != "all", "ours_rss_mb": ours_rss,
        "dense_rss_mb": dense_rss, "gap": worst_gap, "dense_rel_err": worst_rel, "files": files,
        "file_mb": files[0].stat().st_size / 2**20,
    }  # fmt: skip


def kohya(files: list[Path], rank: int, folder: Path) -> float | None:
    root = os.environ.get("KOHYA_SD_SCRIPTS")
    if not root:
        return None
    python = os.environ.get("KOHYA_PYTHON", sys.executable)
    cmd = [python, "networks/svd_merge_lora.py", "--models", *map(str, files), "--ratios", *map(str, WEIGHTS),
           "--new_rank", str(rank), "--save_to", str(folder / "kohya_out.safetensors"), "--precision", "float",
           "--save_precision", "fp16"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", nargs="+", default=["sd1", "sdxl"], choices=["sd1", "sd2", "sdxl"])
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--dense", choices=["shapes", "all"], default="shapes")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), rank {args.rank} + {args.rank} -> "
          f"{args.rank}, weights {WEIGHTS}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-svd-") as tmp:
        for arch in args.arch:
            r = bench(arch, args.rank, args.dense, Path(tmp))
            how = f"extrapolated from {r['dense_timed']} modules (one per shape)" if r["extrapolated"] else "all"
            print(f"\n[{arch}] {r['modules']} modules ({r['shapes']} distinct shapes), {r['file_mb']:.1f} MB per file")
            print(f"  factored (ours):  {r['ours_s']:8.2f} s   peak RSS +{r['ours_rss_mb']:.0f} MB")
            print(f"  dense full SVD:   {r['dense_s']:8.2f} s   peak RSS +{r['dense_rss_mb']:.0f} MB   ({how})")
            print(f"  speed-up:         {r['dense_s'] / r['ours_s']:8.1f}x")
            print(f"  error: dense optimum {r['dense_rel_err']:.3e} of ||ΣwΔW|| (worst module); "
                  f"ours minus dense <= {r['gap']:.1e}")  # fmt: skip
            k = kohya(r["files"], args.rank, Path(tmp))
            if k is None:
                print("  kohya svd_merge_lora.py: skipped (set KOHYA_SD_SCRIPTS to a checkout to compare)")
            else:
                print(
                    f"  kohya svd_merge_lora.py (CLI, incl. imports and I/O): {k:.2f} s, {k / r['ours_s']:.0f}x ours"
                )


if __name__ == "__main__":
    main()
