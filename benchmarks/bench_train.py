"""`hub train` against diffusers' examples/dreambooth/train_dreambooth_lora.py, side by side in one run.

Same model (a tiny SD1 pipeline with a 4-layer CLIP, 64 px, built offline), same 5 pictures, batch 1, rank 4,
lr 5e-4, constant schedule, no warm-up, centre crop, Lanczos resize, 100 steps, for each of --seeds (the loss
drop of one seed moves by a few tenths of a percent from seed to seed for either trainer, so the comparison is of
their means). The example runs at its best settings: ``--pre_compute_text_embeddings`` (its text encoder is
encoded once and freed, as ours is).
Both processes run with the same probe
(benchmarks/train_standin/sitecustomize.py: the time of every AdamW step and the peak RSS); the example's
``from torchvision import transforms`` is pointed at a PIL stand-in (benchmarks/train_standin/pil_transforms.py).
Afterwards both LoRAs are scored with the same denoising loss on the pictures (fixed noise and timesteps)
against the base.

The example is read from a diffusers checkout: --example PATH, or the mirror the `fetch` tool makes
(/work/.mirror/huggingface+diffusers/repo, `git show HEAD:examples/dreambooth/train_dreambooth_lora.py`).
It is copied to a temp folder, never into this repository.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_train.py [--steps 100] [--seeds 0,1,2] [--repeat 1]
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

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "benchmarks" / "train_standin"
MIRROR = Path("/work/.mirror/huggingface+diffusers/repo")
EXAMPLE = "examples/dreambooth/train_dreambooth_lora.py"
PROMPT = "a photo of sks dog"


def example_source(path: str | None) -> str:
    if path:
        return Path(path).read_text()
    if MIRROR.exists():
        return subprocess.run(["git", "--git-dir", str(MIRROR), "show", f"HEAD:{EXAMPLE}"], check=True,
                              capture_output=True, text=True).stdout  # fmt: skip
    sys.exit("diffusers' example not found: pass --example path/to/train_dreambooth_lora.py")


def draw_pictures(folder: Path) -> list[Path]:
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True)
    out = []
    for i, colour in enumerate([(200, 40, 40), (40, 170, 60), (40, 60, 200), (210, 190, 40), (150, 60, 170)]):
        image = Image.new("RGB", (128, 128), (235, 235, 230))
        d = ImageDraw.Draw(image)
        d.ellipse([16 + 4 * i, 20, 110, 112 - 4 * i], fill=colour)
        d.rectangle([40, 50 + 3 * i, 90, 70 + 3 * i], fill=(30, 30, 30))
        path = folder / f"dog{i}.jpg"
        image.save(path, quality=95)
        out.append(path)
    return out


def run_probed(cmd: list[str], *, cwd: Path, env: dict[str, str], probe: Path) -> dict:
    env = {**os.environ, **env, "BENCH_PROBE_OUT": str(probe), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{cmd[:3]} failed:\n{proc.stderr[-3000:]}")
    data = json.loads(probe.read_text())
    gaps = [b - a for a, b in zip(data["steps"], data["steps"][1:], strict=False)]
    return {"wall": wall, "median_step": statistics.median(gaps), "mean_step": statistics.fmean(gaps),
            "steps": len(data["steps"]), "peak_rss_mb": data["peak_rss_kb"] / 1024, "stdout": proc.stdout}  # fmt: skip


def theirs(work: Path, base: Path, pictures: Path, steps: int, i: str, seed: int) -> tuple[dict, Path]:
    out = work / f"db-out-{i}"
    cmd = [sys.executable, str(work / "train_dreambooth_lora.py"), "--pretrained_model_name_or_path", str(base),
           "--instance_data_dir", str(pictures), "--instance_prompt", PROMPT, "--resolution", "64", "--center_crop",
           "--train_batch_size", "1", "--max_train_steps", str(steps), "--learning_rate", "5e-4", "--rank", "4",
           "--lr_scheduler", "constant", "--lr_warmup_steps", "0", "--seed", str(seed),
           "--pre_compute_text_embeddings", "--image_interpolation_mode", "lanczos",
           "--checkpointing_steps", "100000", "--output_dir", str(out)]  # fmt: skip
    stats = run_probed(cmd, cwd=work, env={"PYTHONPATH": str(STANDIN)}, probe=work / f"probe-db-{i}.json")
    return stats, out / "pytorch_lora_weights.safetensors"


def ours(work: Path, base: Path, pictures: Path, steps: int, i: str, seed: int) -> tuple[dict, Path]:
    cmd = [sys.executable, "-m", "cli", "train", "--images", str(pictures), "--token", "sks", "--class-word", "dog",
           "--instance-prompt", PROMPT, "--base", str(base), "--resolution", "64", "--batch-size", "1", "--steps",
           str(steps), "--lr", "5e-4", "--rank", "4", "--seed", str(seed), "--sample-steps", "1",
           "--json"]  # fmt: skip
    env = {"PYTHONPATH": f"{STANDIN}{os.pathsep}{REPO}", "LORAHUB_HOME": str(work / f"home-{i}")}
    stats = run_probed(cmd, cwd=REPO, env=env, probe=work / f"probe-hub-{i}.json")
    return stats, Path(json.loads(stats["stdout"])["path"])


def scores(base: Path, pictures: list[Path], files: dict[str, Path]) -> dict[str, float]:
    from diffusers import StableDiffusionPipeline
    from safetensors.torch import load_file

    from hub.train.evaluate import denoising_loss

    out = {}
    pipe = StableDiffusionPipeline.from_pretrained(str(base), safety_checker=None)
    out["base"] = denoising_loss(pipe, pictures, PROMPT, resolution=64, draws=32)
    for label, path in files.items():
        pipe = StableDiffusionPipeline.from_pretrained(str(base), safety_checker=None)
        pipe.load_lora_weights(load_file(str(path)))
        out[label] = denoising_loss(pipe, pictures, PROMPT, resolution=64, draws=32)
    return out


def machine_reference() -> str:
    import torch

    a = torch.randn(512, 512)
    torch.mm(a, a)
    t = time.perf_counter()
    for _ in range(20):
        torch.mm(a, a)
    gflops = 20 * 2 * 512**3 / (time.perf_counter() - t) / 1e9
    load = os.getloadavg()
    return f"512² fp32 matmul {gflops:.1f} GFLOP/s on {torch.get_num_threads()} thread(s); load avg {load[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds, e.g. 0,1,2 (default 0)")
    parser.add_argument("--repeat", type=int, default=1, help="alternate the two this many times per seed")
    parser.add_argument("--example", help="path to diffusers' train_dreambooth_lora.py")
    parser.add_argument("--keep", help="work in this folder and keep it")
    args = parser.parse_args()
    seeds = [int(x) for x in args.seeds.split(",")]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-train-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        from hub.bases.tiny import build_tiny_pipeline

        print(machine_reference())
        base = build_tiny_pipeline(work / "tiny-sd1-clip4", kind="sd1", seed=0, text_layers=4)
        pictures = draw_pictures(work / "instance")
        source = example_source(args.example)
        if "from torchvision import transforms\n" not in source:
            sys.exit("the example no longer imports torchvision's transforms as expected; update the stand-in")
        source = source.replace("from torchvision import transforms\n", "import pil_transforms as transforms\n")
        (work / "train_dreambooth_lora.py").write_text(source)
        trainers = {"diffusers example": theirs, "hub train": ours}
        runs: dict[str, list[dict]] = {label: [] for label in trainers}
        files: dict[tuple[str, int], Path] = {}
        for seed in seeds:
            for i in range(args.repeat):
                for label, trainer in trainers.items():
                    stats, files[label, seed] = trainer(work, base, work / "instance", args.steps, f"{seed}-{i}", seed)
                    runs[label].append(stats)
        loss = scores(base, pictures, {f"{label} seed {seed}": path for (label, seed), path in files.items()})
        print(machine_reference())
        print(f"\n{args.steps} steps, 64 px, batch 1, rank 4, lr 5e-4, 4-layer CLIP tiny SD1; seeds {args.seeds}, "
              f"{args.repeat} run(s) each: fastest median step, highest peak RSS, mean loss drop")  # fmt: skip
        print(f"{'':20} {'median s/step':>13} {'it/s':>7} {'wall s':>7} {'peak RSS MB':>12} {'loss drop':>10}"
              f"  {'drop per seed':>14}")  # fmt: skip
        best: dict[str, dict] = {}
        for label, stats in runs.items():
            b = dict(min(stats, key=lambda s: s["median_step"]))
            b["peak_rss_mb"] = max(s["peak_rss_mb"] for s in stats)
            drops = [(loss["base"] - loss[f"{label} seed {seed}"]) / loss["base"] * 100 for seed in seeds]
            b["drop"] = statistics.fmean(drops)
            best[label] = b
            print(f"{label:20} {b['median_step']:13.4f} {1 / b['median_step']:7.2f} {b['wall']:7.1f} "
                  f"{b['peak_rss_mb']:12.0f} {b['drop']:9.2f}%  {' '.join(f'{d:.2f}' for d in drops)}")  # fmt: skip
        t, o = best["diffusers example"], best["hub train"]
        print(f"\nratios hub/example: step time {o['median_step'] / t['median_step']:.2f}x, "
              f"peak RSS {o['peak_rss_mb'] / t['peak_rss_mb']:.3f}x, mean loss drop {o['drop'] / t['drop']:.3f}x "
              f"(base loss {loss['base']:.5f})")  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
