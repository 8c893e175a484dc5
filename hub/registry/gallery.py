"""A contact sheet of the registry: every adapter's preview with its name, as one PNG.

With hundreds of LoRAs people find one by looking, not by reading names; ``hub gallery`` draws the
previews the sidecars brought in (A1111/Civitai ``<stem>.preview.png`` and friends), and a plain tile
for adapters without one. Choosing the adapters is :func:`hub.registry.api.gallery`'s job; this module draws.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence, Set
from pathlib import Path

from hub.errors import UsageError
from hub.models import Adapter, GalleryResult
from hub.paths import give_umask_mode


def draw_sheet(
    adapters: Sequence[Adapter],
    previews: Mapping[str, Sequence[str]],
    out: str | Path,
    *,
    columns: int = 6,
    thumb: int = 192,
    blurred: Set[str] = frozenset(),
) -> GalleryResult:
    """Draw ``adapters`` (their ``previews``: adapter id -> image paths) into one PNG at ``out``, atomically;
    the previews of the ids in ``blurred`` blurred (NSFW above the LORAHUB_NSFW_BLUR setting)."""
    from PIL import Image, ImageDraw, ImageFilter

    if columns < 1 or thumb < 32:
        raise UsageError("--columns must be >= 1 and --thumb >= 32")
    label_h = 34
    rows = (len(adapters) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * thumb, rows * (thumb + label_h)), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    shown = 0
    for i, adapter in enumerate(adapters):
        x, y = (i % columns) * thumb, (i // columns) * (thumb + label_h)
        tile = _preview(previews.get(adapter.id, ()), thumb)
        if tile is None:
            draw.rectangle([x + 4, y + 4, x + thumb - 5, y + thumb - 5], outline=(90, 90, 100))
            draw.text((x + 12, y + thumb // 2 - 6), f"{adapter.kind} · {adapter.arch}", fill=(150, 150, 160))
        else:
            if adapter.id in blurred:
                tile = tile.filter(ImageFilter.GaussianBlur(radius=max(4, thumb // 12)))
            sheet.paste(tile, (x + (thumb - tile.width) // 2, y + (thumb - tile.height) // 2))
            shown += 1
        draw.text((x + 6, y + thumb + 4), _fit(adapter.name, thumb), fill=(235, 235, 240))
        rank = f"r{adapter.rank}" if adapter.rank else adapter.kind
        draw.text((x + 6, y + thumb + 18), f"{adapter.arch} {rank}", fill=(140, 140, 150))
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".gallery-", suffix=".png", dir=out.parent)
    give_umask_mode(fd)  # a user's file, not a 0600 temp
    os.close(fd)
    sheet.save(tmp, format="PNG")
    os.replace(tmp, out)
    return GalleryResult(
        path=str(out), adapters=len(adapters), with_preview=shown, blurred=len(blurred & {a.id for a in adapters})
    )


def _preview(paths: Sequence[str], size: int):
    from PIL import Image, ImageOps, UnidentifiedImageError

    for path in paths:
        try:
            with Image.open(path) as im:
                return ImageOps.contain(im.convert("RGB"), (size - 8, size - 8))
        except (OSError, UnidentifiedImageError):
            continue  # a broken preview is skipped, the next one may do
    return None


def _fit(name: str, width: int) -> str:
    chars = max(4, width // 7)
    return name if len(name) <= chars else name[: chars - 1] + "…"
