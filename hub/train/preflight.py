"""Everything ``hub train`` can refuse, refused before a model loads and before a run folder exists: the pictures
(a folder, or a zip read in place), the device's precision and optimizer, a home that cannot be written, the base.
Nothing here writes under the home."""

from __future__ import annotations

import importlib.util
import io
import os
import zipfile
from pathlib import Path

from hub.errors import BadFileError, DependencyError, RegistryError, UsageError
from hub.paths import Paths
from hub.train.dataset import IMAGE_EXTENSIONS, check_sizes, collect
from hub.train.options import TrainOptions, check_device


def check_pictures(o: TrainOptions) -> None:
    """The pictures can be read and are large enough (a zip's members, read from the zip)."""
    source = Path(o.images).expanduser()
    if source.suffix.lower() == ".zip" and source.is_file():
        _check_zip(source, o.resolution)
    else:
        ds = collect(source, instance_prompt=o.instance_text, class_prompt=o.class_text,
                     class_images=Path(o.class_images).expanduser() if o.class_images else None)  # fmt: skip
        check_sizes(ds.instance, o.resolution)
        check_sizes(ds.reg, o.resolution)


def _check_zip(archive: Path, resolution: int) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            pictures = [m for m in members if _is_picture_member(m.filename)]
            if not pictures:
                others = ", ".join(m.filename for m in members[:3]) or "nothing"
                raise UsageError(f"{archive}: the zip holds no pictures (it holds {others})",
                                 hint="zip a folder of .png/.jpg/.webp pictures")  # fmt: skip
            minimum = max(8, resolution // 2)
            for m in pictures:
                where = f"{archive}:{m.filename}"
                try:
                    with Image.open(io.BytesIO(zf.read(m))) as im:
                        w, h = im.size
                except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
                    raise BadFileError(f"cannot read picture: {e}".splitlines()[0], path=where,
                                       hint="remove or replace the file in the zip") from None  # fmt: skip
                if min(w, h) < minimum:
                    raise BadFileError(
                        f"picture is {w}x{h}, too small for --resolution {resolution} (shortest side under {minimum})",
                        path=where,
                        hint="use a larger picture or a smaller --resolution",
                    )
    except zipfile.BadZipFile:
        raise BadFileError(f"{archive}: not a readable zip file", hint="zip a folder of pictures again") from None


def _is_picture_member(name: str) -> bool:
    parts = Path(name).parts
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS and not any(
        p.startswith(".") or p == "__MACOSX" for p in parts
    )


def check_home_writable(paths: Paths) -> None:
    """A run writes its folder and registers its adapter: a home that cannot be written is refused now (exit 9),
    not after the training. ``os.access`` answers no for root too on a read-only mount or an immutable folder."""
    home = paths.home
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    targets = [existing] + [p for p in (home / "runs", paths.registry_db) if p.exists()]
    if not all(os.access(p, os.W_OK) for p in targets):
        raise RegistryError(
            f"the home {home} is read-only: a training run cannot be written or registered there",
            hint="make it writable, or use another home (--home PATH or LORAHUB_HOME)",
        )


def check_device_support(o: TrainOptions) -> str:
    """The device the run will use ("cpu" or "cuda"), refusing what it cannot do (fp16, 8-bit AdamW on a CPU)."""
    import torch

    if o.device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {o.device}: no CUDA GPU is visible", hint="--device cpu")
    device = "cpu" if o.device == "cpu" or not torch.cuda.is_available() else "cuda"
    check_device(o, device)
    if o.optimizer == "adamw8bit" and device != "cuda":
        raise UsageError("8-bit AdamW needs a CUDA GPU", hint="--optimizer adamw on a CPU")
    needs = {"adamw8bit": "bitsandbytes", "prodigy": "prodigyopt"}.get(o.optimizer)
    if needs and importlib.util.find_spec(needs) is None:
        raise DependencyError(f"--optimizer {o.optimizer} needs {needs}", hint=f"pip install {needs}")
    return device


def check_base(o: TrainOptions, paths: Paths) -> None:
    """The base exists (a local path, the embedded tiny one, or an HF id fetched now) and is SD1/SD2/SDXL."""
    from hub.bases.api import describe_base

    base = describe_base(o.base, paths=paths, config=o.base_config)
    if base.arch not in ("sd1", "sd2", "sdxl", "tiny"):
        raise UsageError(
            f"cannot tell the architecture of base {o.base} ({base.arch})", hint="give an SD1.x, SD2.x or SDXL base"
        )


def preflight(o: TrainOptions, paths: Paths) -> None:
    """Every refusal that needs no model, cheapest first: the pictures, the device, the home, the base."""
    check_pictures(o)
    check_device_support(o)
    check_home_writable(paths)
    check_base(o, paths)
