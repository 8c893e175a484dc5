"""Class pictures for prior preservation, generated once by the base pipeline from the class prompt and cached
under ``<home>/cache/class-images/<key>/`` where the key is (base, class prompt, resolution, seed, steps):
a second run with the same key reuses them, and a run asking for more generates only the missing ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hub.paths import Paths
from hub.train.pictures import save_png

STEPS = 25


def class_image_folder(paths: Paths, base_ref: str, base_path: Path, prompt: str, resolution: int, seed: int) -> Path:
    key = json.dumps([base_ref, str(base_path.resolve()), prompt, resolution, seed, STEPS])
    return paths.cache / "class-images" / hashlib.sha256(key.encode()).hexdigest()[:16]


def cached_class_images(folder: Path) -> list[Path]:
    return sorted(folder.glob("class-*.png"))


def generate_class_images(
    pipe: Any, folder: Path, *, count: int, prompt: str, resolution: int, seed: int, batch: int = 4
) -> int:
    """Fill ``folder`` up to ``count`` pictures (picture i always from seed + i); returns how many were made."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompt.txt").write_text(prompt + "\n", encoding="utf-8")
    have = {p.name for p in cached_class_images(folder)}
    missing = [i for i in range(count) if f"class-{i:05d}.png" not in have]
    for start in range(0, len(missing), batch):
        chunk = missing[start : start + batch]
        with torch.no_grad():
            images = pipe(
                prompt=[prompt] * len(chunk),
                num_inference_steps=STEPS,
                height=resolution,
                width=resolution,
                generator=[torch.Generator().manual_seed(seed + i) for i in chunk],
                output_type="pil",
            ).images
        for i, image in zip(chunk, images, strict=True):
            save_png(image, folder / f"class-{i:05d}.png")
    return len(missing)
