"""Training pictures drawn with PIL: a subject (a red ball) on varied backgrounds, in varied places and sizes.

Enough for a LoRA to learn something visible in seconds on the tiny base; the demo trains on them and the smoke
suite's `./dog` folder holds them.
"""

from __future__ import annotations

from pathlib import Path


def draw_training_pictures(folder: Path, count: int = 6) -> Path:
    """``folder/ball-<i>.png`` (96x96), the same pictures on every call; existing files are kept."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = folder / f"ball-{i}.png"
        if path.is_file():
            continue
        background = ((37 * i) % 200 + 30, (91 * i) % 200 + 30, (53 * i) % 200 + 30)
        picture = Image.new("RGB", (96, 96), background)
        r = 18 + 3 * (i % 4)
        x, y = 30 + 7 * i % 36, 28 + 11 * i % 40
        ImageDraw.Draw(picture).ellipse((x - r, y - r, x + r, y + r), fill=(220, 30, 30), outline=(90, 0, 0))
        picture.save(path)
    return folder
