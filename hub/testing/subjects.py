"""DreamBooth in miniature on the tiny base: subjects it cannot draw, their pictures with captions, and how often
pictures show them.

A subject is a ball in a colour the tiny world never shows (orange, brown: ``tiny_world.SUBJECT_COLOURS``) bound to
a token: :func:`write_subject_dataset` draws it on the world's backgrounds, each picture captioned "a photo of a
sks ball on a blue background" (the background named, so that a LoRA keeps the prompt's say over it).
:func:`read_grid` measures every cell of a ``hub grid`` sheet; :func:`rate` is the share of readings that match.
The tests (tests/train/test_dreambooth.py), the demo and docs/training.md's numbers all measure this way.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hub.testing.tiny_world import WORLD_COLOURS, Reading, random_scene, read_picture, world_picture

PROMPT = "a photo of a {token} ball on a green background"  # what the subject tests and the demo ask for
CLASS_PROMPT = "a photo of a ball"  # the class the subject belongs to: prior preservation keeps it the world's


def write_subject_dataset(folder: Path, *, token: str = "sks", colour: str = "orange", count: int = 8,
                          seed: int = 0) -> Path:  # fmt: skip
    """``folder/<token>-<i>.png`` and ``.txt``: ``count`` pictures of a ``colour`` ball (varied place, size and
    background, never its own colour), each captioned with the token and its background. The same on every call."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    backgrounds = list(WORLD_COLOURS)
    for i in range(count):
        background = backgrounds[i % len(backgrounds)]  # every background once before any twice
        scene = random_scene(rng, shape="ball", colour=colour, background=background)
        world_picture(scene).save(folder / f"{token}-{i}.png")
        (folder / f"{token}-{i}.txt").write_text(f"a photo of a {token} ball on a {background} background\n")
    return folder


def read_grid(grid: dict[str, Any]) -> dict[tuple[float, ...], list[Reading]]:
    """The readings of a ``hub grid --json`` result's cells, by their weights in axis order (X first): a grid of
    ``sks-ball:0,1`` has keys ``(0.0,)`` and ``(1.0,)``, one row per seed in each."""
    from PIL import Image

    sheet = Image.open(grid["path"]).convert("RGB")
    out: dict[tuple[float, ...], list[Reading]] = {}
    for cell in grid["cells"]:
        weights = tuple(float(w) for w in cell["weights"].values())
        out.setdefault(weights, []).append(read_picture(sheet.crop(tuple(cell["box"]))))
    return out


def read_images(paths: Iterable[str | Path]) -> list[Reading]:
    return [read_picture(p) for p in paths]


def rate(readings: list[Reading], what: Callable[[Reading], bool]) -> float:
    """The share of ``readings`` for which ``what`` holds (0 for none)."""
    return sum(1 for r in readings if what(r)) / len(readings) if readings else 0.0


def shows(colour: str) -> Callable[[Reading], bool]:
    """A ball of ``colour``: the subject (or, for a world colour, an ordinary ball)."""
    return lambda r: r.object == colour and r.shape == "ball"


def ordinary_ball(r: Reading) -> bool:
    """A ball in one of the world's colours: what the base draws for "a photo of a ball"."""
    return r.shape == "ball" and r.object in WORLD_COLOURS
