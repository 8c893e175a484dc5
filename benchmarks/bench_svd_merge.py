"""Factored SVD merge vs the dense method (form ΔW, full SVD: what kohya's svd_merge_lora.py and PEFT do).

Generates two kohya LoRA files per arch with the real module sets and shapes (rank 32, text encoders and 3x3
convs, via ``hub.testing.lora_targets``: the packaged module tables), merges them at weights 0.7/0.5 to rank 32
and reports, per arch:

- full file, in process: our merge (``hub.compose.ops.svd_merge``, best of ``--repeat``), and the dense baseline
  (per module ΔW = Σ w_i s_i up_i down_i, ``torch.linalg.svd(full_matrices=True)`` as kohya calls it, truncate).
  A dense full-matrices SVD of every SDXL module takes an hour on one thread, so by default the baseline is
  timed on ONE module per distinct (weight shape, input rank) (each shape timed once per run, shared between
  archs) and multiplied by the number of modules of that shape: an extrapolation, printed as such.
  ``--dense all`` times every module. Both are checked against each other (same Eckart–Young optimum).
- with ``--cli`` (on when comparing with kohya): full file, our CLI end to end (``hub mix A:0.7 B:0.5 --method svd
  --rank 32 --out … --device cpu`` in a fresh process with a temporary ``LORAHUB_HOME``: imports, loading, merge,
  writing, registry): wall time, peak RSS.
- with ``KOHYA_SD_SCRIPTS=/path/to/sd-scripts`` (and optionally ``KOHYA_PYTHON``, a Python that can import it):
  kohya's ``networks/svd_merge_lora.py`` and our ``hub mix`` on the SAME input files holding ``--modules``
  (default ``shapes``: one module per distinct shape; ``N``: N modules evenly spread over the sorted keys;
  ``all``: the full files, ~25 min for kohya on SD1.5), both with ``--device cpu``, OMP_NUM_THREADS=1, fp32
  compute and fp16 output. Printed: wall times (and net of each tool's start-up), peak RSS, the ratio, and
  the Frobenius error of both output files (loaded with ``hub.formats.load.load_lora_set``) against ΣwΔW and
  against the optimum (the tail of the singular values of ΣwΔW, computed densely). A full-file time for kohya
  is then estimated (labelled as such) by scaling its compute time by the dense baseline's full/subset ratio.

Every figure comes from this one run: it first prints a machine-speed reference (``sha256sum`` GB/s on a
temporary file, a fixed fp32 matmul in GFLOP/s on one thread, the load average, before and after), and ends with a
table of ratios, each labelled measured or extrapolated. Absolute times hold only for this machine at this load.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_svd_merge.py [--arch sd1 sdxl] [--modules shapes|N|all]``
"""

from __future__ import annotations

import argparse
import math
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
REPO = Path(__file__).resolve().parent.parent
HUB_CLI = Path(sys.executable).with_name("hub")
DenseCache = dict[tuple[int, int, int], float]  # (out, in·kh·kw, input rank) -> seconds of one dense merge


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


def flat(mod: LoraModule) -> tuple[int, int, int]:
    return mod.weight_shape[0], math.prod(mod.weight_shape[1:]), mod.rank


def target(sets: list[LoraSet], key: str) -> torch.Tensor:
    return sum(w * ops.module_delta(s.modules[key]) for s, w in zip(sets, WEIGHTS, strict=True))


def dense_merge(sets: list[LoraSet], key: str, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """kohya svd_merge_lora's way: dense sum, full SVD (full_matrices=True, its default call), U·S and Vh
    truncated. Returns (approx, target)."""
    delta = target(sets, key)
    U, S, Vh = torch.linalg.svd(delta, full_matrices=True)
    k = min(rank, len(S))
    return (U[:, :k] * S[:k]) @ Vh[:k], delta


def select_keys(keys: list[str], sets: list[LoraSet], how: str) -> list[str]:
    """The module subset: ``shapes`` (first key of each distinct shape), ``all``, or N evenly spread keys."""
    if how == "all":
        return list(keys)
    if how == "shapes":
        firsts: dict[tuple, str] = {}
        for key in keys:
            firsts.setdefault(flat(sets[0].modules[key]), key)
        return sorted(firsts.values())
    n = min(int(how), len(keys))
    return sorted({keys[(i * len(keys)) // n] for i in range(n)})


def dense_baseline(sets: list[LoraSet], red: ops.Reduction, rank: int, mode: str, cache: DenseCache) -> dict:
    keys = sorted(sets[0].modules)
    # One timing per shape and run: a later arch reuses an earlier one's (the cost depends on the shape only).
    timed = (
        keys
        if mode == "all"
        else [k for k in select_keys(keys, sets, "shapes") if flat(sets[0].modules[k]) not in cache]
    )
    total, worst_gap, worst_rel = 0.0, 0.0, 0.0
    before = rss_mb()
    for key in timed:
        t0 = time.perf_counter()
        approx, delta = dense_merge(sets, key, rank)
        dt = time.perf_counter() - t0
        if mode == "all":
            total += dt
        else:
            cache[flat(sets[0].modules[key])] = dt
        norm = float(torch.linalg.norm(delta))
        ours_err = float(torch.linalg.norm(ops.module_delta(red.lora_set.modules[key]) - delta))
        dense_err = float(torch.linalg.norm(approx - delta))
        worst_gap, worst_rel = max(worst_gap, (ours_err - dense_err) / norm), max(worst_rel, dense_err / norm)
    if mode != "all":
        total = sum(cache[flat(m)] for m in sets[0].modules.values())
    return {"dense_s": total, "timed": len(timed), "gap": worst_gap, "rel": worst_rel,
            "dense_rss_mb": rss_mb() - before}  # fmt: skip


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def run_timed(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of the child (its VmHWM, polled: getrusage/wait4 would report at least this
    process's own peak, which a forked child inherits), and its output tail; raises on failure."""
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, _hwm_mb(proc.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        log.seek(0)
        out = log.read().decode(errors="replace")[-3000:]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} … exited {proc.returncode}:\n{out}")
    return wall, peak, out


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: compiled modules cached after the first run
    return env


def ours_cli(files: list[Path], rank: int, out: Path, home: Path, repeat: int) -> tuple[float, float]:
    cmd = [str(HUB_CLI), "mix", *[f"{f}:{w}" for f, w in zip(files, WEIGHTS, strict=True)], "--method", "svd",
           "--rank", str(rank), "--out", str(out), "--device", "cpu"]  # fmt: skip
    runs = []
    for i in range(repeat):
        runs.append(run_timed([*cmd, "--name", f"{out.stem}-{i}"], cwd=REPO, env=child_env(LORAHUB_HOME=str(home))))
    return min(r[0] for r in runs), max(r[1] for r in runs)


def kohya_cmd(root: str, files: list[Path], rank: int, out: Path) -> list[str]:
    python = os.environ.get("KOHYA_PYTHON", sys.executable)
    return [python, "networks/svd_merge_lora.py", "--models", *map(str, files), "--ratios", *map(str, WEIGHTS),
            "--new_rank", str(rank), "--new_conv_rank", str(rank), "--save_to", str(out), "--device", "cpu",
            "--precision", "float", "--save_precision", "fp16"]  # fmt: skip


def startup_s(root: str | None) -> tuple[float, float | None]:
    """Seconds to start each tool with its imports but no work: ours imports what `hub mix` imports."""
    code = "import torch, hub.compose.api, hub.compose.ops, hub.formats.load, hub.formats.write, hub.registry.api"
    ours = min(run_timed([sys.executable, "-c", code], cwd=REPO, env=child_env())[0] for _ in range(2))
    if not root:
        return ours, None
    cmd = [os.environ.get("KOHYA_PYTHON", sys.executable), "networks/svd_merge_lora.py", "--help"]
    theirs = min(run_timed(cmd, cwd=Path(root), env=child_env(PYTHONPATH=root))[0] for _ in range(2))
    return ours, theirs


def output_errors(sets: list[LoraSet], keys: list[str], outputs: dict[str, Path], rank: int) -> dict[str, dict]:
    """Per output file: Frobenius error vs ΣwΔW (total over modules, relative, and worst module), plus the optimum."""
    loaded = {name: load_lora_set(path).modules for name, path in outputs.items()}
    sq = {name: 0.0 for name in [*outputs, "optimum"]}
    worst = dict.fromkeys(sq, 0.0)
    total_sq = 0.0
    for key in keys:
        delta = target(sets, key)
        norm_sq = float(delta.pow(2).sum())
        total_sq += norm_sq
        S = torch.linalg.svdvals(delta)
        errs = {"optimum": float(S[min(rank, len(S)) :].pow(2).sum())}
        for name, mods in loaded.items():
            if key not in mods:
                raise RuntimeError(f"{name}'s output has no module {key}")
            errs[name] = float((ops.module_delta(mods[key]) - delta).pow(2).sum())
        for name, e in errs.items():
            sq[name] += e
            worst[name] = max(worst[name], math.sqrt(e / norm_sq))
    return {name: {"rel": math.sqrt(sq[name] / total_sq), "worst": worst[name]} for name in sq}


def write_subset(sets: list[LoraSet], keys: list[str], folder: Path, arch: str) -> list[Path]:
    files = []
    for i, s in enumerate(sets):
        subset = LoraSet(arch=arch, modules={k: s.modules[k] for k in keys}, metadata=dict(s.metadata))
        path = folder / f"{arch}_{i}_{len(keys)}modules.safetensors"
        files.append(save_lora_set(subset, path, fmt="kohya", dtype=torch.float16))
    return files


def compare_kohya(arch: str, sets: list[LoraSet], files: list[Path], args, tmp: Path, res: dict, cache) -> None:
    root = os.environ["KOHYA_SD_SCRIPTS"]
    keys = select_keys(sorted(sets[0].modules), sets, args.modules)
    sub_files = files if len(keys) == len(sets[0].modules) else write_subset(sets, keys, tmp, arch)
    ours_out, theirs_out = tmp / f"{arch}_ours_sub.safetensors", tmp / f"{arch}_kohya_sub.safetensors"
    ours_s, ours_rss = ours_cli(sub_files, args.rank, ours_out, tmp / "home", args.repeat)
    runs = [run_timed(kohya_cmd(root, sub_files, args.rank, theirs_out), cwd=Path(root),
                      env=child_env(PYTHONPATH=root)) for _ in range(args.repeat)]  # fmt: skip
    theirs_s, theirs_rss = min(r[0] for r in runs), max(r[1] for r in runs)
    res.update(kohya_s=theirs_s, kohya_net_s=theirs_s - res["startup"][1], ours_sub_s=ours_s,
               kohya_modules=len(keys))  # fmt: skip
    errs = output_errors(sets, keys, {"ours": ours_out, "kohya": theirs_out}, args.rank)
    su_ours, su_theirs = res["startup"]
    net_theirs = theirs_s - su_theirs
    print(f"  -- same {len(keys)}-module files ({args.modules}), both CLIs, --device cpu, fp32 compute, fp16 out"
          f"{f', best of {args.repeat}' if args.repeat > 1 else ''} --")  # fmt: skip
    print(f"  ours  hub mix:             {ours_s:8.2f} s wall (start-up alone ~{su_ours:.1f} s)"
          f"   peak RSS {ours_rss:.0f} MB")  # fmt: skip
    print(f"  kohya svd_merge_lora.py:   {theirs_s:8.2f} s wall ({net_theirs:6.2f} s after {su_theirs:.1f} s start-up)"
          f"   peak RSS {theirs_rss:.0f} MB")  # fmt: skip
    # Start-up times are noisy on a shared machine, so only kohya's is subtracted (ours keeps its own: conservative).
    print(f"  ratio kohya/ours:          {theirs_s / ours_s:8.1f}x wall, {net_theirs / ours_s:.1f}x with kohya's "
          "start-up left out")  # fmt: skip
    opt = errs["optimum"]["rel"]
    for name in ("optimum", "ours", "kohya"):
        e = errs[name]
        excess = "" if name == "optimum" else f", {100 * (e['rel'] / opt - 1):+.3f}% vs optimum"
        print(f"  error {name:8} ‖out−ΣwΔW‖/‖ΣwΔW‖ = {e['rel']:.5e} (worst module {e['worst']:.4e}){excess}")
    sub_dense = sum(cache.get(flat(sets[0].modules[k]), 0.0) for k in keys)
    if len(keys) < len(sets[0].modules) and sub_dense > 0 and res["extrapolated"]:
        est = su_theirs + net_theirs * res["dense_s"] / sub_dense
        print(
            f"  kohya on the full file (ESTIMATE: start-up + {net_theirs:.1f} s × dense full/subset "
            f"{res['dense_s']:.0f}/{sub_dense:.1f}): ~{est:.0f} s, ~{est / res['cli_s']:.0f}x our full-file CLI"
        )


def machine_reference(tmp: Path, mb: int = 256) -> dict[str, float]:
    """How fast this machine is right now: sha256sum of a temp file (GB/s), a 1024² fp32 matmul loop (GFLOP/s,
    one thread), the 1-minute load average."""
    blob = tmp / "reference.bin"
    with blob.open("wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1 << 20))
    subprocess.run(["sha256sum", str(blob)], capture_output=True, check=True)  # warm the page cache
    t0 = time.perf_counter()
    subprocess.run(["sha256sum", str(blob)], capture_output=True, check=True)
    sha = mb * 2**20 / 1e9 / (time.perf_counter() - t0)
    blob.unlink()
    a = torch.randn(1024, 1024, generator=torch.Generator().manual_seed(0))
    a @ a
    t0 = time.perf_counter()
    for _ in range(20):
        a @ a
    flops = 20 * 2 * 1024**3 / (time.perf_counter() - t0) / 1e9
    return {"sha_gbps": sha, "matmul_gflops": flops, "load": os.getloadavg()[0]}


def print_reference(label: str, ref: dict[str, float]) -> None:
    print(f"machine reference ({label}): sha256sum {ref['sha_gbps']:.2f} GB/s, fp32 matmul 1024² "
          f"{ref['matmul_gflops']:.1f} GFLOP/s (1 thread), load average {ref['load']:.1f} "
          f"on {os.cpu_count()} CPU(s)")  # fmt: skip


def print_ratios(results: dict[str, dict]) -> None:
    """The headline table: every ratio from this run, ours and the other side timed here."""
    print("\nratios from this run (x = how many times longer the other side took):")
    print(f"  {'arch':5} {'comparison':58} {'ratio':>8}  how")
    for arch, r in results.items():
        if "dense_s" in r:
            how = "dense EXTRAPOLATED from one module per shape" if r["extrapolated"] else "measured, every module"
            print(f"  {arch:5} {'dense full SVD / ours factored (in process, full file)':58} "
                  f"{r['dense_s'] / r['ours_s']:7.1f}x  {how}")  # fmt: skip
        if "kohya_s" in r:
            what = f"kohya svd_merge_lora.py / hub mix (CLIs, same {r['kohya_modules']}-module files)"
            print(f"  {arch:5} {what:58} {r['kohya_s'] / r['ours_sub_s']:7.1f}x  measured (wall, start-ups included)")
            print(f"  {arch:5} {'  the same, kohya start-up left out':58} "
                  f"{r['kohya_net_s'] / r['ours_sub_s']:7.1f}x  measured")  # fmt: skip


def bench(arch: str, args, tmp: Path, cache: DenseCache) -> dict:
    files = [make_file(tmp / f"{arch}_{i}.safetensors", arch, seed=i, rank=args.rank) for i in range(2)]
    sets = [load_lora_set(f) for f in files]
    pairs = list(zip(sets, WEIGHTS, strict=True))
    ops.svd_merge(pairs[:1], args.rank)  # warm-up (LAPACK/first-call costs), not timed
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        red = ops.svd_merge(pairs, args.rank)
        times.append(time.perf_counter() - t0)
    res = {"ours_s": min(times), "modules": len(sets[0].modules), "file_mb": files[0].stat().st_size / 2**20,
           "shapes": len({flat(m) for m in sets[0].modules.values()}),
           "extrapolated": args.dense != "all"}  # fmt: skip
    res["cli_s"] = res["cli_rss"] = None
    if args.cli:
        full_out = tmp / f"{arch}_ours_full.safetensors"
        res["cli_s"], res["cli_rss"] = ours_cli(files, args.rank, full_out, tmp / "home", args.repeat)
    print(f"\n[{arch}] {res['modules']} modules ({res['shapes']} distinct shapes), {res['file_mb']:.1f} MB per file")
    best = f"best of {args.repeat}" if args.repeat > 1 else "one run"
    if args.dense == "none":  # ours only: the in-process merge and (with --cli) the whole command
        print(f"  factored (ours), in process:   {res['ours_s']:8.2f} s   ({best})")
        if args.cli:
            print(f"  ours, `hub mix` CLI end to end: {res['cli_s']:8.2f} s   peak RSS {res['cli_rss']:.0f} MB")
        return res
    res |= dense_baseline(sets, red, args.rank, args.dense, cache)
    how = (f"extrapolated: one module per shape, {res['timed']} timed here, {res['shapes'] - res['timed']} shape(s)"
           " reused from the previous arch" if res["extrapolated"] else "every module timed")  # fmt: skip
    print(f"  factored (ours), in process:   {res['ours_s']:8.2f} s   ({best})")
    if args.cli:
        print(f"  ours, `hub mix` CLI end to end: {res['cli_s']:8.2f} s   peak RSS {res['cli_rss']:.0f} MB   ({best})")
    print(f"  dense full SVD, in process:    {res['dense_s']:8.2f} s   peak RSS growth +{res['dense_rss_mb']:.0f} MB"
          f"   ({how})")  # fmt: skip
    print(f"  speed-up (in process):         {res['dense_s'] / res['ours_s']:8.1f}x")
    print(f"  error on the {res['timed']} dense-timed modules: dense optimum ≤ {res['rel']:.3e} of ‖ΣwΔW‖ (worst "
          f"module); ours minus dense ≤ {res['gap']:.1e}")  # fmt: skip
    res["startup"] = args.startup
    if os.environ.get("KOHYA_SD_SCRIPTS"):
        compare_kohya(arch, sets, files, args, tmp, res, cache)
    else:
        print("  kohya svd_merge_lora.py: skipped (set KOHYA_SD_SCRIPTS to a checkout to compare)")
    return res


def modules_arg(text: str) -> str:
    if text in ("shapes", "all") or (text.isdigit() and int(text) > 0):
        return text
    raise argparse.ArgumentTypeError("shapes, all or a positive number")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", nargs="+", default=["sd1", "sdxl"], choices=["sd1", "sd2", "sdxl"])
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--dense", choices=["shapes", "all", "none"], default="shapes",
                        help="dense baseline modules (none: time ours only)")  # fmt: skip
    parser.add_argument("--modules", type=modules_arg, default="shapes",
                        help="modules in the files both CLIs get (with KOHYA_SD_SCRIPTS): shapes, N or all",
                        )  # fmt: skip
    parser.add_argument("--cli", action="store_true", help="also time `hub mix` on the full files (on with kohya)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of ours and kohya; the best is printed")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "?")  # fmt: skip
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPU(s) ({cpu}); "
          f"rank {args.rank} + {args.rank} -> {args.rank}, weights {WEIGHTS}")  # fmt: skip
    args.cli = args.cli or bool(os.environ.get("KOHYA_SD_SCRIPTS"))
    args.startup = startup_s(os.environ.get("KOHYA_SD_SCRIPTS")) if args.cli else None
    cache: DenseCache = {}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-svd-") as tmp:
        print_reference("start", machine_reference(Path(tmp)))
        for arch in args.arch:
            results[arch] = bench(arch, args, Path(tmp), cache)
        print_reference("end", machine_reference(Path(tmp)))
    print_ratios(results)


if __name__ == "__main__":
    main()
