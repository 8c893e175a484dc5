"""Helpers shared by the sync tests: a registered adapter with triggers, tags, a description and a preview."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from hub.models import AdapterDetail
from hub.registry import api as library
from hub.testing import write_lora

WRITE_TOKEN = "hf_write_alice"  # tokens the fake Hub knows (see FakeHub.tokens)
READ_TOKEN = "hf_read_alice"


def png_bytes(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_adapter(
    folder: Path, name: str = "cat-style", *, arch: str = "tiny-sd1", seed: int = 3, **kw: object
) -> AdapterDetail:
    src = write_lora(folder / f"{name}.safetensors", arch=arch, seed=seed)  # type: ignore[arg-type]
    src.with_suffix(".png").write_bytes(png_bytes((200, 40, 40)))  # an A1111-style preview sidecar
    a = library.add_one(
        src,
        name=name,
        triggers=kw.get("triggers", ["c4t style", "ink"]),  # type: ignore[arg-type]
        tags=kw.get("tags", ["cats", "style"]),  # type: ignore[arg-type]
        description=kw.get("description", "Cats drawn in ink."),  # type: ignore[arg-type]
        license=kw.get("license"),  # type: ignore[arg-type]
    )
    return library.resolve(a.id)
