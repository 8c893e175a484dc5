"""How far merged LoRA files are from Σ w_i ΔW_i, next to the best possible error at the rank.

For each OUTPUT (any format ``hub.formats.load.load_lora_set`` reads, e.g. kohya's ``svd_merge_lora.py`` output)
and per module: ‖ΔW_out − Σ w_i ΔW_i‖_F, summed over modules (squares) and relative to ‖Σ w_i ΔW_i‖_F, plus the
worst module. The optimum at rank k is sqrt(Σ_{j≥k} S_j²) with S the singular values of Σ w_i ΔW_i, taken from
the factored SVD of the stacked factors (``hub.compose.ops.factored_svd``: exact, the same values as a dense SVD;
bench_svd_merge.py checks that on its timed modules). Cheap enough for whole SD1.5/SDXL files.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/merge_error.py --inputs A B --weights 0.7 0.5 --rank 32 OUT...``
"""

from __future__ import annotations

import argparse
import math
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from hub.compose import ops
from hub.formats.load import load_lora_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outputs", nargs="+")
    parser.add_argument("--inputs", nargs="+", required=True)
    parser.add_argument("--weights", nargs="+", type=float, required=True)
    parser.add_argument("--rank", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    pairs = list(zip([load_lora_set(p) for p in args.inputs], args.weights, strict=True))
    outputs = {p: load_lora_set(p).modules for p in args.outputs}
    keys = sorted({k for s, _ in pairs for k in s.modules})
    sq = dict.fromkeys([*outputs, "optimum"], 0.0)
    worst = dict.fromkeys(sq, 0.0)
    total = 0.0
    for key in keys:
        parts = [(s.modules[key], w) for s, w in pairs if key in s.modules]
        up = torch.cat([m.up.float().reshape(m.up.shape[0], -1) * (w * m.scale) for m, w in parts], dim=1)
        down = torch.cat([m.down.float().reshape(m.down.shape[0], -1) for m, _ in parts], dim=0)
        delta = up @ down
        norm_sq = float(delta.pow(2).sum())
        total += norm_sq
        S = ops.factored_svd(up, down)[1]
        errs = {"optimum": float(S[args.rank :].pow(2).sum())}
        for name, mods in outputs.items():
            if key not in mods:
                raise SystemExit(f"{name} has no module {key}")
            errs[name] = float((ops.module_delta(mods[key]) - delta).pow(2).sum())
        for name, e in errs.items():
            sq[name] += e
            worst[name] = max(worst[name], math.sqrt(e / norm_sq))
    extra = sorted({k for mods in outputs.values() for k in mods} - set(keys))
    if extra:
        raise SystemExit(f"outputs have modules the inputs lack: {extra[:3]}")
    opt = math.sqrt(sq["optimum"] / total)
    print(f"{len(keys)} modules, rank {args.rank}, weights {args.weights}")
    for name in ["optimum", *outputs]:
        rel = math.sqrt(sq[name] / total)
        excess = "" if name == "optimum" else f"  ({100 * (rel / opt - 1):+.3f}% vs optimum)"
        print(f"  {name}: ‖out−ΣwΔW‖/‖ΣwΔW‖ = {rel:.5e}, worst module {worst[name]:.4e}{excess}")


if __name__ == "__main__":
    main()
