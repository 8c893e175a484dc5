"""``hub gallery``: the registry's previews as one picture."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.output import message, print_json


def register(app: typer.Typer) -> None:
    app.command(name="gallery")(gallery)


def gallery(
    query: Annotated[str | None, typer.Argument(help="Full-text search, as `hub ls`.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write.")] = Path("gallery.png"),
    arch: Annotated[str | None, typer.Option(help="sd1, sd2, sdxl, flux, unknown")] = None,
    kind: Annotated[str | None, typer.Option(help="lora, lycoris, embedding, lora+embedding")] = None,
    tag: Annotated[str | None, typer.Option(help="Only adapters with this tag.")] = None,
    columns: Annotated[int, typer.Option(help="Tiles per row.")] = 6,
    thumb: Annotated[int, typer.Option(help="Tile size in pixels.")] = 192,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Draw every matching adapter's preview, with its name, arch and rank, into one PNG.

    Examples:

    \b
      hub gallery --out loras.png
      hub gallery anime --arch sdxl --columns 8 -o anime.png
    """
    from hub.registry.api import gallery as draw

    result = draw(out, query, arch=arch, kind=kind, tag=tag, columns=columns, thumb=thumb)
    if json_out:
        print_json(result)
        return
    message(f"wrote {result.path}: {result.adapters} adapters, {result.with_preview} with a preview")
