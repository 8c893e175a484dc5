"""`hub gen` speed against a plain diffusers pipeline with the same two adapters set, on the tiny base.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_gen.py [--steps 20] [--size 64] [--runs 7] [--cells 6]

Both sides use the same base, sampler (the base's DDIM), steps, size, seed and two LoRAs (one kohya, one
diffusers format), loaded as adapters and weighted with ``set_adapters`` (not fused). Both save a PNG. Measured
in one process, interleaved, median of ``--runs``:

- warm: one image from a loaded pipeline (``Renderer.render`` vs ``pipe(...)`` + ``image.save``); target <= 1.1x;
- cold: everything a one-shot ``hub gen`` does (``hub.gen.api.generate``: load, adapters, render, PNG) vs
  ``from_pretrained`` + 2x ``load_lora_weights`` + ``set_adapters`` + ``pipe(...)`` + save;
- grid: ``hub.gen.api.grid`` with ``--cells`` cells vs one plain load + that many plain images (the load is paid
  once per grid), and vs that many one-shot ``generate`` calls (what loading per image would cost).

A machine-speed reference (a fixed float32 matmul) is printed, because the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PROMPT = "a photo of a dog"


def machine_reference() -> float:
    """Seconds for 20 float32 512x512 matmuls: compare runs made under different load."""
    import torch

    a = torch.randn(512, 512)
    start = time.perf_counter()
    for _ in range(20):
        a = (a @ a).clamp_(-1, 1)
    return time.perf_counter() - start


def median_pair(ours, theirs, runs: int) -> tuple[float, float]:
    """Interleaved timings (ours, theirs, ours, ...) so load changes hit both sides alike."""
    a, b = [], []
    for _ in range(runs):
        for fn, times in ((ours, a), (theirs, b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--cells", type=int, default=6)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-gen-"))
    os.environ["LORAHUB_HOME"] = str(home)
    import torch
    from diffusers import StableDiffusionPipeline

    from hub.gen import api
    from hub.gen.adapters import quiet_loading
    from hub.registry.api import add_one
    from hub.testing import tiny_pipeline_dir, write_lora

    base = tiny_pipeline_dir("sd1")
    files = [
        write_lora(home / "in" / "dog.safetensors", arch="tiny-sd1", rank=8, dtype="float32", seed=1),
        write_lora(home / "in" / "style.safetensors", arch="tiny-sd1", style="diffusers", rank=8, dtype="float32",
                   seed=2, components=("unet", "text_encoder")),
    ]  # fmt: skip
    add_one(files[0], name="dog")
    add_one(files[1], name="style")
    loras = [("dog", 0.7), ("style", 0.5)]
    out = home / "out"
    common = {"steps": args.steps, "cfg": 7.0, "width": args.size, "height": args.size, "seed": 1}

    def plain_load():
        with quiet_loading():
            pipe = StableDiffusionPipeline.from_pretrained(base, safety_checker=None, requires_safety_checker=False)
            pipe.set_progress_bar_config(disable=True)
            for name, path in zip(("dog", "style"), files, strict=True):
                pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name)
        pipe.set_adapters(["dog", "style"], adapter_weights=[0.7, 0.5])
        return pipe

    def plain_image(pipe, i=[0]):  # noqa: B006 - a counter for distinct file names
        i[0] += 1
        image = pipe(PROMPT, num_inference_steps=args.steps, guidance_scale=7.0, width=args.size,
                     height=args.size, generator=torch.Generator("cpu").manual_seed(1)).images[0]  # fmt: skip
        image.save(out / f"plain-{i[0]}.png")

    out.mkdir(parents=True)
    reference = machine_reference()
    print(f"machine reference (20 x 512^2 matmul): {reference:.3f}s; load average {os.getloadavg()[0]:.2f}; "
          f"torch threads {torch.get_num_threads()}; steps {args.steps}, {args.size}x{args.size}")  # fmt: skip

    renderer = api.Renderer(str(base))
    request = api.make_request(PROMPT, loras=loras, **common)
    pipe = plain_load()
    renderer.render(request, out=out)  # first use loads the adapters; not what warm measures
    plain_image(pipe)
    ours, theirs = median_pair(lambda: renderer.render(request, out=out), lambda: plain_image(pipe), args.runs)
    print(f"warm  one image: hub {ours:.3f}s  diffusers {theirs:.3f}s  ratio {ours / theirs:.3f} (target <= 1.1)")

    def cold_plain():
        plain_image(plain_load())

    ours_c, theirs_c = median_pair(lambda: api.generate(PROMPT, loras=loras, base=str(base), out=out, **common),
                                   cold_plain, args.cold_runs)  # fmt: skip
    print(f"cold  one-shot:  hub {ours_c:.3f}s  diffusers {theirs_c:.3f}s  ratio {ours_c / theirs_c:.3f}")

    weights = [round(i / max(1, args.cells - 1), 3) for i in range(args.cells)]
    start = time.perf_counter()
    api.grid(PROMPT, [("dog", weights)], loras=[("style", 0.5)], base=str(base), seeds=[1], out=out,
             steps=args.steps, width=args.size, height=args.size)  # fmt: skip
    grid_s = time.perf_counter() - start
    start = time.perf_counter()
    pipe = plain_load()
    for _ in range(args.cells):
        plain_image(pipe)
    plain_grid = time.perf_counter() - start
    start = time.perf_counter()
    for w in weights:
        api.generate(PROMPT, loras=[("dog", w), ("style", 0.5)], base=str(base), out=out, **common)
    per_image_loads = time.perf_counter() - start
    print(
        f"grid  {args.cells} cells:   hub grid {grid_s:.3f}s  diffusers 1 load + {args.cells} images "
        f"{plain_grid:.3f}s  ratio {grid_s / plain_grid:.3f};  {args.cells} one-shot hub gen {per_image_loads:.3f}s"
    )
    print(f"machine reference after: {machine_reference():.3f}s; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
