"""What the embedded tiny base draws: every prompt of its world through `hub gen`'s renderer, each picture read.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_tiny_base.py [--seeds 4] [--steps 20] [--cfg 7]

Renders "a photo of a <colour> <shape> on a <background> background" for all 60 (colour, shape, background) of the
world (hub/testing/tiny_world.py) with seeds 0..N-1, the base loaded once (``Renderer``, as ``hub gen --base tiny``
with its defaults: DDIM, 20 steps, CFG 7), reads every picture with ``read_picture`` and prints the share whose
background, object colour and shape (and all three) are the prompt's; then the same for the caption's shorter
forms ("a red ball on blue", "red ball, blue background", "a red ball": background not asked) and for "a photo of
a ball/box" (shape only). A fresh home in a temporary folder; the seconds per picture are printed too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cfg", type=float, default=7.0)
    a = parser.parse_args()

    import torch

    from hub.gen.api import Renderer, make_request
    from hub.settings import load_settings
    from hub.testing import tiny_world as world

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-tiny-base-") as home:
        settings = load_settings(home=Path(home))
        renderer = Renderer("tiny", settings=settings)

        def read(prompt: str) -> list[world.Reading]:
            request = make_request(prompt, base="tiny", seed=0, n=a.seeds, steps=a.steps, cfg=a.cfg)
            return [world.read_picture(image) for image, _, _ in renderer.images(request)]

        start, count = time.perf_counter(), 0
        canonical = []
        for triple in world.world_triples():
            canonical += [(triple, r) for r in read(world.world_prompt(*triple))]
        count += len(canonical)
        report("a photo of a C S on a B background", world.drawing_rates(canonical), len(canonical))
        forms = {"a C S on B": "a {0} {1} on {2}", "C S, B background": "{0} {1}, {2} background"}
        for label, form in forms.items():
            seen = []
            for triple in world.world_triples()[::3]:
                seen += [(triple, r) for r in read(form.format(*triple))]
            count += len(seen)
            report(label, world.drawing_rates(seen), len(seen))
        short = []
        for colour in world.WORLD_COLOURS:
            for shape in world.SHAPES:
                short += [((colour, shape, "?"), r) for r in read(f"a {colour} {shape}")]
        count += len(short)
        report("a C S (no background asked)", world.drawing_rates(short), len(short), parts=("object", "shape"))
        plain = []
        for shape in world.SHAPES:
            plain += [(("?", shape, "?"), r) for r in read(f"a photo of a {shape}") for _ in range(1)]
        count += len(plain)
        report("a photo of a S", world.drawing_rates(plain), len(plain), parts=("shape",))
        seconds = time.perf_counter() - start
    print(f"{count} pictures, {seconds / count:.2f} s each ({a.steps} steps, CFG {a.cfg}, torch threads 1)")


def report(label: str, rates: dict[str, float], n: int, parts: tuple[str, ...] = ("background", "object", "shape",
                                                                                   "all")) -> None:  # fmt: skip
    print(f"{label:40s} n={n:4d}  " + "  ".join(f"{p} {rates[p]:.2f}" for p in parts))


if __name__ == "__main__":
    main()
