"""The embedded base draws its tiny world: `hub gen PROMPT --base tiny` as a user runs it (one process per prompt,
several seeds each), every picture read by the tiny world's reader (background ring, object colour, shape).

The rates asserted sit below the ones measured (docs/tiny-base.md) with a margin; a random base, the one shipped
before, reads right by chance only (about 1/6 for a colour, 1/2 for the shape).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.testing.tiny_world import read_picture, world_prompt
from tests.hub_process import hub

# Each world colour twice as the object and twice as the background; both shapes, three prompts of each form.
PROMPTS = [
    ("red", "ball", "blue"),
    ("green", "box", "yellow"),
    ("blue", "ball", "white"),
    ("yellow", "box", "black"),
    ("white", "ball", "red"),
    ("black", "box", "green"),
    ("red", "box", "white"),
    ("green", "ball", "black"),
    ("blue", "box", "yellow"),
    ("yellow", "ball", "green"),
    ("white", "box", "blue"),
    ("black", "ball", "red"),
]
SEEDS = 4
# Measured rates (docs/tiny-base.md) less a margin.
MIN_RATE = {"background": 0.8, "object": 0.7, "shape": 0.7}


@pytest.mark.slow
def test_gen_tiny_draws_the_prompted_colours_and_shape(tmp_path: Path) -> None:
    home = tmp_path / "home"
    seen: list[tuple[tuple[str, str, str], tuple[str, str, str]]] = []
    for colour, shape, background in PROMPTS:
        prompt = world_prompt(colour, shape, background)
        out = tmp_path / "-".join((colour, shape, background))
        done = hub(home, "gen", prompt, "--base", "tiny", "--n", str(SEEDS), "--seed", "0", "--out", str(out),
                   "--json", timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        for image in json.loads(done.stdout)["images"]:
            reading = read_picture(image["path"])
            seen.append(((colour, shape, background), (reading.object, reading.shape, reading.background)))
    rates = {
        "object": sum(want[0] == got[0] for want, got in seen) / len(seen),
        "shape": sum(want[1] == got[1] for want, got in seen) / len(seen),
        "background": sum(want[2] == got[2] for want, got in seen) / len(seen),
    }
    misses = [f"{' '.join(want)} -> {' '.join(got)}" for want, got in seen if want != got]
    assert all(rates[k] >= MIN_RATE[k] for k in MIN_RATE), (rates, misses)
