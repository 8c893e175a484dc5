"""``hub link DIR``: the registry as a folder A1111/Forge and ComfyUI read (calls hub.registry.api.link)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.commands.registry import ArchOpt, JsonOpt, KindOpt, TagOpt
from cli.context import hub_context
from cli.output import console, message, print_json, result_line

if TYPE_CHECKING:
    from hub.models import LinkResult


def register(app: typer.Typer) -> None:
    app.command(name="link")(link)


def link(
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="Folder to lay out (made if absent); its own files are left alone.")
    ],
    query: Annotated[
        str | None, typer.Argument(help="Full-text search, as `hub ls` (default: every adapter).")
    ] = None,
    ui: Annotated[
        str | None, typer.Option("--for", metavar="UI", help="a1111 or comfyui: only that UI's files (default: both).")
    ] = None,
    arch: ArchOpt = None,
    kind: KindOpt = None,
    format: Annotated[str | None, typer.Option("--format", help="kohya, diffusers-peft, lycoris-lokr, ...")] = None,
    tag: TagOpt = None,
    base: Annotated[str | None, typer.Option(help="Declared base label (e.g. Pony) or arch.")] = None,
    remote: Annotated[
        str | None, typer.Option(help="Only adapters pushed/pulled to a Hub repo matching this.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Lay out the registry (or what a query selects) as a folder A1111/Forge and ComfyUI read directly.

    DIR/loras/NAME.safetensors and DIR/embeddings/NAME.pt are hard links to the registry's bytes (symlinks when DIR
    is on another file system), never copies, with NAME.preview.png, A1111's NAME.json and NAME.civitai.info beside
    them; DIR/extra_model_paths.yaml is ComfyUI's. Run it again to update the folder: only the files it made (listed
    in DIR/.lorahub-link.json) are replaced or removed.

    Examples:

    \b
      hub link ~/lorahub-ui
      hub link ~/lorahub-ui --for a1111 --arch sdxl
      webui.sh --lora-dir ~/lorahub-ui/loras --embeddings-dir ~/lorahub-ui/embeddings
      python main.py --extra-model-paths-config ~/lorahub-ui/extra_model_paths.yaml
    """
    from hub.registry import api

    result = api.link(
        folder,
        query,
        ui=ui,
        arch=arch,
        kind=kind,
        format=format,
        tag=tag,
        base=base,
        remote=remote,
        ctx=hub_context(),
    )
    if json_out:
        print_json(result)
        return
    _print_result(result)


def _print_result(result: LinkResult) -> None:
    """What changed, one line a file (a second run prints none), then the summary line."""
    from rich.markup import escape

    out = console()
    colours = {"created": "green", "updated": "cyan", "removed": "yellow", "kept": "yellow", "blocked": "red"}
    for f in result.files:
        if f.status == "unchanged":
            continue
        how = f"  [dim]{f.how}[/]" if f.how and f.status != "removed" else ""
        note = f"  [dim]{escape(f.note)}[/]" if f.note else ""
        colour = colours.get(f.status, "red")
        out.print(f"[{colour}]{f.status:<9}[/] {escape(f.path)}{how}{note}", soft_wrap=True)
    links = result.links
    hows = sorted({f.how for f in links if f.how})
    how = " and ".join({"hardlink": "hard links", "symlink": "symlinks"}[h] for h in hows) or "no links"
    counts = {s: sum(f.status == s for f in result.files) for s in ("created", "updated", "removed")}
    if result.changed:
        done = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "record updated"
        result_line(f"{len(links)} of {result.adapters} adapters in {escape(result.folder)} ({how}): {done}")
    else:
        result_line(f"nothing changed: {len(links)} of {result.adapters} adapters already in {escape(result.folder)}"
                    f" ({how})")  # fmt: skip
    left = [f for f in result.files if f.status in ("blocked", "kept", "missing")]
    if left:
        message(f"note: {len(left)} file{'s' if len(left) != 1 else ''} left alone (see above): hub link never "
                "touches files it did not make")  # fmt: skip
