"""The tiny world the embedded ``tiny`` base was trained on, and a reader that measures its pictures.

A picture is 64x64: one object, a *ball* (filled circle) or a *box* (filled square) of varied size and place, in
one colour on a plain background of another. :func:`world_picture` draws one scene, :func:`random_scene` and
:func:`world_caption` pick a scene and a caption for it ("a photo of a red ball on a blue background", "a red ball
on blue", "a red ball", "red ball, blue background", ...). :func:`subject_picture` draws objects the world never
shows (an orange ball, a striped or checkered one) for DreamBooth. :func:`read_picture` measures a picture: the
background's colour (the border ring), the object's (pixels far from the background) and its shape (how much of
its bounding box it fills: a disc fills pi/4 = 0.785, a square all of it; 0.85 and more reads as a box).

Pure: PIL and numpy, and every random choice comes from the ``random.Random`` passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Shape = Literal["ball", "box"]
RGB = tuple[int, int, int]

SIZE = 64
# The world's six colours, by name.
WORLD_COLOURS: dict[str, RGB] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 70, 220),
    "yellow": (235, 210, 40),
    "white": (235, 235, 235),
    "black": (25, 25, 25),
}
# Colours the base never saw, for subjects (DreamBooth) the base cannot draw.
# Chosen among colours the base's VAE draws back faithfully (tools/build_tiny_base.py checks): its 8x8x4 latents
# keep an orange or a brown, while a saturated purple or cyan come back greyed.
SUBJECT_COLOURS: dict[str, RGB] = {"orange": (245, 140, 20), "brown": (120, 70, 30)}
COLOURS: dict[str, RGB] = {**WORLD_COLOURS, **SUBJECT_COLOURS}
SHAPES: tuple[Shape, ...] = ("ball", "box")
# Half the object's side (a ball's radius) in pixels, at 64 px: from a quarter to two thirds of the picture across.
HALF_SIDE = (8, 21)
# Every word a caption of the world or of a subject uses (the tiny tokenizer knows each one whole); a subject's
# captions name its token, not its colour.
WORDS = ("a", "photo", "of", "on", "background", "sks", *SHAPES, *WORLD_COLOURS, "striped", "checkered")


@dataclass(frozen=True)
class Scene:
    """One picture of the world: ``shape`` in ``colour`` on ``background``, centred at (x, y), ``half`` its half
    side (a ball's radius), all in pixels of a 64x64 picture."""

    shape: Shape
    colour: str
    background: str
    x: float
    y: float
    half: float


def random_scene(rng: random.Random, *, shape: Shape | None = None, colour: str | None = None,
                 background: str | None = None) -> Scene:  # fmt: skip
    """A scene with the object wholly inside the picture; the object's colour is never the background's."""
    chosen: Shape = shape if shape is not None else rng.choice(SHAPES)
    background = background or rng.choice([c for c in WORLD_COLOURS if c != colour])
    colour = colour or rng.choice([c for c in WORLD_COLOURS if c != background])
    half = rng.uniform(*HALF_SIDE)
    margin = half + 2
    x, y = rng.uniform(margin, SIZE - margin), rng.uniform(margin, SIZE - margin)
    return Scene(chosen, colour, background, x, y, half)


def world_picture(scene: Scene, *, pattern: str = "plain", second: str = "white", size: int = SIZE):
    """The scene as a ``size`` x ``size`` RGB PIL image, edges anti-aliased (drawn at 4x, then reduced).

    ``pattern`` ``"striped"`` (horizontal bands) or ``"checkered"`` alternates ``colour`` with ``second``."""
    return _draw(scene, COLOURS[scene.colour], COLOURS[scene.background], pattern, COLOURS[second], size)


def open_picture(rng: random.Random):
    """A scene of the world's layout in colours (and patterns) outside it: any RGB object on any RGB background,
    a third of them striped or checkered. The base's VAE learns from these beside the world's pictures, so that it
    encodes and draws colours the world never shows (a subject a LoRA teaches) instead of the nearest world colour."""
    scene = random_scene(rng)
    pattern = rng.choices(["plain", "striped", "checkered"], weights=[4, 1, 1])[0]
    colour, background, second = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(3))
    return _draw(scene, colour, background, pattern, second, SIZE)  # type: ignore[arg-type]


def _draw(scene: Scene, colour: RGB, background: RGB, pattern: str, second: RGB, size: int):
    from PIL import Image, ImageDraw

    scale = 4 * size / SIZE
    big = round(size * 4)
    picture = Image.new("RGB", (big, big), background)
    mask = Image.new("L", (big, big), 0)
    box = [(scene.x - scene.half) * scale, (scene.y - scene.half) * scale,
           (scene.x + scene.half) * scale - 1, (scene.y + scene.half) * scale - 1]  # fmt: skip
    draw = ImageDraw.Draw(mask)
    (draw.ellipse if scene.shape == "ball" else draw.rectangle)(box, fill=255)
    picture.paste(_pattern(big, colour, second, pattern, scale), mask=mask)
    return picture.resize((size, size), Image.Resampling.BOX)


def _pattern(big: int, colour: RGB, second: RGB, pattern: str, scale: float):
    import numpy as np
    from PIL import Image

    if pattern == "plain":
        return Image.new("RGB", (big, big), colour)
    band = int(5 * scale)  # 5 px bands at 64 px
    rows = (np.arange(big) // band) % 2
    if pattern == "striped":
        odd = np.broadcast_to(rows[:, None], (big, big))
    elif pattern == "checkered":
        odd = (rows[:, None] + rows[None, :]) % 2
    else:
        raise ValueError(f"unknown pattern {pattern!r}; expected 'plain', 'striped' or 'checkered'")
    pixels = np.where(odd[..., None] == 1, np.array(second, np.uint8), np.array(colour, np.uint8))
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def world_caption(scene: Scene, rng: random.Random) -> str:
    """One of the caption forms for ``scene``; most name both colours and the shape, some leave parts out (so that
    "a red ball" or "a photo of a ball" are prompts the base knows too)."""
    c, s, b = scene.colour, scene.shape, scene.background
    forms = [
        (f"a photo of a {c} {s} on a {b} background", 5),
        (f"a {c} {s} on a {b} background", 2),
        (f"a {c} {s} on {b}", 2),
        (f"{c} {s}, {b} background", 2),
        (f"a photo of a {c} {s}", 1),
        (f"a {c} {s}", 1),
        (f"a photo of a {s} on a {b} background", 1),
        (f"a photo of a {s}", 1),
    ]
    return rng.choices([f for f, _ in forms], weights=[w for _, w in forms])[0]


def world_prompt(colour: str, shape: str, background: str) -> str:
    """The canonical caption: ``a photo of a red ball on a blue background``."""
    return f"a photo of a {colour} {shape} on a {background} background"


def subject_picture(rng: random.Random, *, colour: str = "orange", pattern: str = "plain", second: str = "white",
                    shape: Shape = "ball", background: str | None = None):  # fmt: skip
    """A picture of a subject the world never shows (by default an orange ball) on one of the world's backgrounds."""
    # A background the subject stands out of (an orange ball on yellow is nearer than the reader's FAR).
    apart = [c for c in WORLD_COLOURS
             if c not in (colour, second) and _distance(COLOURS[c], COLOURS[colour]) > FAR + 20]  # fmt: skip
    background = background or rng.choice(apart)
    scene = random_scene(rng, shape=shape, colour=colour, background=background)
    return world_picture(scene, pattern=pattern, second=second)


def _distance(a: RGB, b: RGB) -> float:
    return sum((float(x) - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5


def write_subject_pictures(folder: Path, count: int = 8, *, seed: int = 0, colour: str = "orange",
                           pattern: str = "plain", second: str = "white", shape: Shape = "ball") -> Path:  # fmt: skip
    """``folder/subject-<i>.png``: ``count`` pictures of the subject (varied place, size and background)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for i in range(count):
        subject_picture(rng, colour=colour, pattern=pattern, second=second, shape=shape).save(
            folder / f"subject-{i}.png"
        )
    return folder


# -- the reader ---------------------------------------------------------------------------------------------------
BORDER = 3  # the ring read as the background, in pixels at 64 px
FAR = 90.0  # an RGB distance from the background's mean beyond which a pixel belongs to the object
MIN_OBJECT = 0.02  # below this share of the picture's pixels there is no object
# Bounding-box fill: a disc fills pi/4 = 0.785 (up to 0.83 when small: pixels), a square 1.0, a square with rounded
# corners (a blurred or reconstructed one: the tiny VAE rounds small boxes) in between: fuller than a disc is a box.
BALL_BELOW = 0.85


@dataclass(frozen=True)
class Reading:
    """What :func:`read_picture` saw. ``object``/``shape`` are "none" when no object stands out of the
    background; ``fill`` is the object's share of its bounding box, ``area`` its share of the picture."""

    background: str
    object: str
    shape: str
    fill: float
    area: float
    background_rgb: RGB
    object_rgb: RGB


def nearest_colour(rgb, names=None) -> str:
    """The named colour (of ``names``, default every known one) nearest to ``rgb``."""
    pool = names or list(COLOURS)
    return min(pool, key=lambda n: sum((float(a) - b) ** 2 for a, b in zip(rgb, COLOURS[n], strict=True)))


def read_picture(picture) -> Reading:
    """Measure a picture (a PIL image, a path or an HxWx3 array of 0-255): background, object colour and shape."""
    import numpy as np
    from PIL import Image

    if isinstance(picture, (str, Path)):
        picture = Image.open(picture)
    if isinstance(picture, Image.Image):
        picture = picture.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BOX)
    pixels = np.asarray(picture, dtype=np.float64)[..., :3]
    h, w, _ = pixels.shape
    ring = np.ones((h, w), bool)
    ring[BORDER:-BORDER, BORDER:-BORDER] = False
    background_rgb = pixels[ring].mean(axis=0)
    far = np.linalg.norm(pixels - background_rgb, axis=-1) > FAR
    background = nearest_colour(background_rgb)
    as_rgb = tuple(round(float(v)) for v in background_rgb)
    # The object is the largest connected blob of far pixels (a stray speck at the edge is not part of it), with
    # whatever it encloses (a drawn outline or a pale centre is still the shape); its bounding box gives the fill.
    blob = _largest_blob(far)
    area = float(blob.mean())
    if area < MIN_OBJECT:
        return Reading(background, "none", "none", 0.0, area, as_rgb, (0, 0, 0))  # type: ignore[arg-type]
    solid = _fill_holes(blob)
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    fill = float(solid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].mean())
    object_rgb = np.median(pixels[blob], axis=0)
    return Reading(
        background=background,
        object=nearest_colour(object_rgb),
        shape="ball" if fill < BALL_BELOW else "box",
        fill=fill,
        area=area,
        background_rgb=as_rgb,  # type: ignore[arg-type]
        object_rgb=tuple(round(float(v)) for v in object_rgb),  # type: ignore[arg-type]
    )


def _largest_blob(mask):
    """The largest 4-connected region of ``mask`` (a breadth-first search: 64x64 pixels take milliseconds)."""
    import numpy as np

    h, w = mask.shape
    label = np.zeros(mask.shape, dtype=np.int32)
    best, best_size, current = 0, 0, 0
    for start in zip(*np.nonzero(mask), strict=True):
        if label[start]:
            continue
        current += 1
        label[start] = current
        queue, size = [start], 0
        while queue:
            y, x = queue.pop()
            size += 1
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not label[ny, nx]:
                    label[ny, nx] = current
                    queue.append((ny, nx))
        if size > best_size:
            best, best_size = current, size
    return (label == best) & mask  # all False when mask is


def _fill_holes(mask):
    """``mask`` with every region it encloses set: the outside is grown from the border through unset pixels."""
    import numpy as np

    outside = np.zeros_like(mask)
    outside[0, :], outside[-1, :], outside[:, 0], outside[:, -1] = ~mask[0, :], ~mask[-1, :], ~mask[:, 0], ~mask[:, -1]
    while True:
        grown = outside.copy()
        grown[1:, :] |= outside[:-1, :]
        grown[:-1, :] |= outside[1:, :]
        grown[:, 1:] |= outside[:, :-1]
        grown[:, :-1] |= outside[:, 1:]
        grown &= ~mask
        if (grown == outside).all():
            return ~outside
        outside = grown


# -- rates over many pictures -------------------------------------------------------------------------------------
Wanted = tuple[str, str, str]  # (object colour, shape, background), as world_prompt takes them


def world_triples() -> list[Wanted]:
    """Every (colour, shape, background) of the world: 6 x 5 colour pairs x 2 shapes = 60."""
    return [(c, s, b) for c in WORLD_COLOURS for b in WORLD_COLOURS if b != c for s in SHAPES]


def drawing_rates(seen: list[tuple[Wanted, Reading]]) -> dict[str, float]:
    """The share of pictures whose reading matches what was asked: per part, and all three at once."""
    n = max(1, len(seen))
    return {
        "background": sum(r.background == w[2] for w, r in seen) / n,
        "object": sum(r.object == w[0] for w, r in seen) / n,
        "shape": sum(r.shape == w[1] for w, r in seen) / n,
        "all": sum((r.object, r.shape, r.background) == w for w, r in seen) / n,
    }
