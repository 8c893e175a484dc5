"""Registry commands: add, import, ls, show, tag, rm, verify, dupes, probe, gallery (call hub.registry.api)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import hub_context
from cli.output import console, message, print_json, progress_bar, result_line, short_path, short_source
from cli.parsing import DASH_ARGUMENTS, looks_like_option
from cli.wrapping import command_lines, hanging
from hub.units import human_size

if TYPE_CHECKING:  # result classes are built when a command runs, not when `hub --help` loads this module
    from hub.models import Adapter, AdapterDetail, ImportReport

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
# the filters `hub ls` and `hub gallery` share
ArchOpt = Annotated[str | None, typer.Option(help="sd1, sd2, sdxl, flux, tiny, unknown")]
KindOpt = Annotated[str | None, typer.Option(help="lora, lycoris, embedding, lora+embedding")]
TagOpt = Annotated[str | None, typer.Option(help="Only adapters with this tag.")]


def register(app: typer.Typer) -> None:
    for command in (add, import_, ls, show, tag, rm, verify, dupes, probe, gallery):
        name = command.__name__.rstrip("_").replace("_", "-")
        settings = DASH_ARGUMENTS if command is tag else None  # `hub tag NAME -wip`
        app.command(name=name, context_settings=settings)(command)


def add(
    paths: Annotated[list[Path], typer.Argument(help="Adapter files (folders are imported recursively).")],
    name: Annotated[str | None, typer.Option(help="Registry name (one file only).")] = None,
    in_place: Annotated[bool, typer.Option("--in-place", help="Register without copying into the store.")] = False,
    link: Annotated[bool, typer.Option("--link", help="Hard-link into the store instead of copying.")] = False,
    no_hash: Annotated[
        bool, typer.Option("--no-hash", help="Skip hashing now (implies --in-place); `hub verify` hashes later.")
    ] = False,
    tags: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag to add (repeatable).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Register adapter files: probe, hash (one read), copy into the store, read sidecars.

    Examples:

    \b
      hub add dog.safetensors
      hub add ~/Downloads/*.safetensors --tag civitai
    """
    from hub.registry import api

    with progress_bar("adding") as update:
        report = api.add(
            paths,
            name=name,
            in_place=in_place,
            link=link,
            hash=not no_hash,
            tags=tags or [],
            progress=update,
            ctx=hub_context(),
        )
    _report(report, json_out)
    if len(report.outcomes) == 1 and report.rejected:
        raise typer.Exit(report.rejected[0].exit_code or 1)
    if report.rejected:
        raise typer.Exit(1)


def import_(
    folder: Annotated[Path, typer.Argument(help="Folder to import, recursively (A1111/ComfyUI Lora folders work).")],
    in_place: Annotated[bool, typer.Option("--in-place", help="Register without copying into the store.")] = False,
    link: Annotated[bool, typer.Option("--link", help="Hard-link into the store instead of copying.")] = False,
    no_hash: Annotated[bool, typer.Option("--no-hash", help="Skip hashing now (implies --in-place).")] = False,
    tags: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag to add to every file.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Import every adapter under a folder; bad files are reported, never stop the import.

    Examples:

    \b
      hub import ~/stable-diffusion-webui/models/Lora
      hub import ./loras --in-place --tag mine
    """
    from hub.registry import api

    with progress_bar("importing") as update:
        report = api.import_dir(
            folder, in_place=in_place, link=link, hash=not no_hash, tags=tags or [], progress=update, ctx=hub_context()
        )
    _report(report, json_out)


def _report(report: ImportReport, json_out: bool) -> None:
    """One line per file on stdout (each path once, never folded), the counts on stderr."""
    if json_out:
        print_json(report.outcomes)
    else:
        from rich.markup import escape

        out = console()
        for o in report.outcomes:
            where = escape(short_path(o.path))
            if o.status == "added" and o.adapter:
                a = o.adapter
                rank = f" r{a.rank}" if a.rank else ""
                line = f"[green]added[/]      {escape(a.name)}  [dim]{a.kind} {a.format} {a.arch}{rank}  {where}[/]"
                if not a.usable and a.note:
                    line += f"  [yellow]not usable yet: {escape(a.note)}[/]"
            else:
                colour = {"duplicate": "cyan", "skipped": "yellow"}.get(o.status, "red")
                line = f"[{colour}]{o.status:<10}[/] {where}: {escape(o.message or '')}"
            out.print(line, soft_wrap=True)
    counts = (
        f"{len(report.added)} added, {len(report.duplicates)} duplicate, {len(report.rejected)} rejected,"
        f" {len(report.skipped)} skipped ({len(report.outcomes)} files)"
    )
    if report.interrupted:
        message(f"[red]interrupted[/]: {counts} before Ctrl-C; the rest were not read (import again to finish)")
        raise typer.Exit(130)
    if json_out:  # stdout is the JSON alone
        message(counts)
    else:
        result_line(counts)


def ls(
    query: Annotated[
        str | None, typer.Argument(help="Full-text search: name, triggers, tags, description, training tags.")
    ] = None,
    arch: ArchOpt = None,
    kind: KindOpt = None,
    format: Annotated[str | None, typer.Option("--format", help="kohya, diffusers-peft, lycoris-lokr, ...")] = None,
    tag: TagOpt = None,
    base: Annotated[str | None, typer.Option(help="Declared base label (e.g. Pony) or arch.")] = None,
    remote: Annotated[
        str | None, typer.Option(help="Only adapters pushed/pulled to a Hub repo matching this.")
    ] = None,
    base_model: Annotated[
        str | None,
        typer.Option("--base-model", help="Civitai's base model (Pony, SDXL 1.0, Illustrious) or its arch."),
    ] = None,
    nsfw: Annotated[
        bool | None,
        typer.Option(
            "--nsfw/--sfw",
            help="Only NSFW adapters (marked so on Civitai, level R or above, or tagged nsfw) / only the others.",
            show_default=False,
        ),
    ] = None,
    sort: Annotated[str, typer.Option(help="name, size, imported, created, rank, arch, kind")] = "name",
    limit: Annotated[int | None, typer.Option(help="Show at most this many.")] = None,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Names only, one per line.")] = False,
) -> None:
    """List registered adapters as a table.

    Examples:

    \b
      hub ls
      hub ls anime --arch sdxl --sort size
      hub ls --base-model pony --sfw
      hub ls --json | jq '.[].name'
    """
    from hub.registry import api

    selected = api.ListQuery(query, arch=arch, kind=kind, format=format, tag=tag, base=base, remote=remote,
                             base_model=base_model, nsfw=nsfw, sort=sort, limit=limit)  # fmt: skip
    if json_out:
        print(api.ls_json(selected, ctx=hub_context()))
        return
    adapters = api.ls(selected, ctx=hub_context())
    if quiet:
        for a in adapters:
            print(a.name)
        return
    print_table(adapters)


def print_table(adapters: list[Adapter]) -> None:
    """The `hub ls` table, fitted to the terminal (cli.ls_table), and the count."""
    from rich.markup import escape

    from cli.ls_table import GAP, Row, fit

    out = console()
    rows = [
        Row(
            name=a.name if a.usable else f"{a.name} (not usable)",
            kind=a.kind if a.format.startswith(("kohya", "diffusers", "peft")) else f"{a.kind} ({a.format})",
            kind_short=a.kind,
            arch=a.arch,
            rank=str(a.rank) if a.rank else "-",
            size=human_size(a.size),
            triggers=", ".join(a.triggers[:3]) + (" …" if len(a.triggers) > 3 else ""),
            source=short_source(a.source),
        )
        for a in adapters
    ]
    headers, cells = fit(rows, out.width)
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]
    right = {"rank", "size"}

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if h in right else v.ljust(w) for h, v, w in zip(headers, values, widths, strict=True)]
        return (" " * GAP).join(parts).rstrip()

    if adapters:
        out.print(f"[bold]{escape(line(headers))}[/]", soft_wrap=True)
        for c in cells:
            out.print(escape(line(c)), soft_wrap=True)
    out.print(f"[dim]{len(adapters)} adapter{'s' if len(adapters) != 1 else ''}[/]")


def show(
    ref: Annotated[str, typer.Argument(help="Name, id, hash prefix (SHA256/AutoV2/AutoV3/BLAKE3) or a file path.")],
    json_out: JsonOpt = False,
) -> None:
    """Everything about one adapter: hashes, metadata, lineage, remotes, previews.

    Examples:

    \b
      hub show my_style
      hub show 3A6F1C2B9D
    """
    from hub.registry import api

    detail = api.show(ref, ctx=hub_context())
    if json_out:
        print_json(detail)
        return
    _print_detail(detail)


def _print_detail(d: AdapterDetail) -> None:
    out = console()
    ident = d.id or "(not registered)"
    if len(d.name) + 2 + len(ident) <= out.width:
        _print_line(out, d.name, "bold", f"  {ident}", "dim")
    else:
        for line in hanging("", d.name, out.width):
            _print_line(out, line, "bold")
        _print_line(out, ident, "dim")
    rows = [
        ("kind", d.kind),
        ("format", d.format + ("" if d.usable else "  (recognised, not usable yet)")),
        ("arch", d.arch + (f"   declared base: {d.base_label}" if d.base_label else "")),
        ("rank", ", ".join(map(str, d.ranks)) or (str(d.rank) if d.rank else "-")),
        ("alpha / scale", f"{_num(d.alpha)} / {_num(d.scale)}"),
        ("modules", ", ".join(f"{k} {v}" for k, v in d.modules.items()) or "-"),
        ("dtype", d.dtype or "-"),
        ("size", f"{human_size(d.size)} ({d.size:,} bytes)"),
        ("triggers", ", ".join(d.triggers) or "-"),
        ("tags", ", ".join(d.tags) or "-"),
        ("preferred weight", _num(d.preferred_weight)),
        ("license", d.license or "-"),
        ("source", d.source),
        ("path", d.path + ("" if d.stored else "  (in place)")),
        ("imported", d.imported_at or "-"),
        ("created", d.created_at or "-"),
    ]
    if d.note:
        rows.append(("note", d.note))
    if d.description:
        rows.append(("description", d.description[:500]))
    label_width = max(len(k) for k, _ in rows) + 2
    for k, v in rows:
        _print_field(out, k.ljust(label_width), str(v), label_style="dim")
    if d.hashes:
        _print_heading(out, "hashes", "(as Civitai prints them)")
        for algo, value in d.hashes.civitai().items():
            _print_field(out, f"  {algo:<8} ", value or "-")
    if d.evidence:
        _print_heading(out, "how it was recognised")
        for reason in d.evidence:
            _print_field(out, "  ", reason, indent=4)
    if d.parents or d.children:
        _print_heading(out, "lineage")
        for edge in d.parents:
            params = ", ".join(f"{k}={v}" for k, v in edge.params.items())
            _print_field(out, f"  {edge.operation:<15} ", edge.parent_ref + (f"  {params}" if params else ""))
        for edge in d.children:
            _print_field(out, "  parent of      ", f"{edge.child_id} ({edge.operation})", label_style="dim")
    if d.recipe and d.recipe.get("command"):
        _print_heading(out, "rebuild with")
        for line in command_lines("  ", str(d.recipe["command"]), out.width, indent=4):
            _print_line(out, line)
    if d.remotes:
        _print_heading(out, "on the Hub")
        for r in d.remotes:
            _print_field(
                out, f"  {r.direction:<5} ", f"{r.repo}@{r.revision}  commit {r.commit or '-'}  {r.path or ''}"
            )
    if d.civitai:
        _print_civitai(d)
    if d.previews:
        _print_heading(out, "previews")
        for p in d.previews:
            _print_field(out, "  ", short_path(p.path), indent=4)
            if p.nsfw_level:
                _print_field(out, "    ", f"NSFW level {p.nsfw_level}", label_style="dim")
            if p.infotext:
                _print_field(out, "    ", p.infotext.splitlines()[0][:100], indent=4)
    if len(d.locations) > 1 or (d.locations and d.locations[0] != d.path):
        _print_heading(out, "seen at")
        for loc in d.locations:
            _print_field(out, "  ", short_path(loc), indent=4)
    if d.metadata:
        _print_heading(out, "metadata", f"({len(d.metadata)} keys; --json shows all)")
        for k in sorted(d.metadata)[:40]:
            v = d.metadata[k].replace("\n", " ")
            _print_field(out, f"  {k} = ", v[:100] + "…" if len(v) > 100 else v)


def _print_heading(out: Any, title: str, note: str = "") -> None:
    out.print()
    _print_line(out, title, "bold", f" {note}" if note else "", "dim")


def _print_field(out: Any, label: str, value: str, *, indent: int | None = None, label_style: str = "") -> None:
    """``label value``, the value wrapped under itself (cli.wrapping); the label styled where it starts a line."""
    lines = hanging(label, value, out.width, indent=indent)
    shown = label.rstrip()
    first = lines[0]
    if shown and first.startswith(shown):
        _print_line(out, shown, label_style, first[len(shown) :])
    else:
        _print_line(out, first)
    for line in lines[1:]:
        _print_line(out, line)


def _print_line(out: Any, *parts: str) -> None:
    """One line of (text, style) pairs, printed as it is: no markup, emoji codes or wrapping by rich."""
    from rich.text import Text

    pairs = [(text, parts[i + 1] if i + 1 < len(parts) else "") for i, text in enumerate(parts) if i % 2 == 0]
    out.print(Text.assemble(*pairs), soft_wrap=True)


def _print_civitai(d: AdapterDetail) -> None:
    """The Civitai section of `hub show`, wrapped like the rest: values are printed as plain text (no markup) and
    the description with control characters out, so nothing Civitai sends can style or drive the terminal."""
    from hub.registry.api import nsfw_label, plain_text

    c = d.civitai
    assert c is not None
    out = console()
    _print_heading(out, "Civitai", f"({c.status}, asked {c.checked_at[:10]})")
    if c.status == "unknown":
        _print_field(out, "  ", "Civitai does not know this file's hash; `hub civitai --refresh NAME` asks again")
        return
    if c.status == "gone":
        _print_field(out, "  ", "deleted on Civitai since; this is what was recorded", label_style="yellow")
    lic = c.license
    rows = [
        ("model", f"{c.model_name or '-'} · {c.version_name or '-'}" + (f"  ({c.model_type})" * bool(c.model_type))),
        ("creator", c.creator or "-"),
        ("base model", f"{c.base_model or '-'}  (arch {c.base_arch or 'unknown'})"),
        ("NSFW", f"{'yes' if c.nsfw else 'no'}, level {nsfw_label(c.nsfw_level)}"),
        ("trained words", ", ".join(c.trained_words) or "-"),
        ("tags", ", ".join(c.tags) or "-"),
        ("commercial use", ", ".join(lic.commercial_use) or ("none" if lic.credit_required is not None else "-")),
        ("credit required", "-" if lic.credit_required is None else "yes" if lic.credit_required else "no"),
        ("published", c.published_at or "-"),
        ("page", c.page_url or "-"),
        ("download", c.download_url or "-"),
    ]
    if c.description:
        text = " ".join(plain_text(c.description).split())
        rows.append(("description", text[:600] + ("…" if len(text) > 600 else "")))
    for k, v in rows:
        _print_field(out, f"  {k:<16} ", " ".join(plain_text(v).split()), label_style="dim")


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def tag(
    ref: Annotated[str, typer.Argument(help="Adapter name, id or hash prefix.")],
    changes: Annotated[list[str], typer.Argument(help="+tag to add, -tag to remove.", metavar="[+TAG|-TAG]...")],
    json_out: JsonOpt = False,
) -> None:
    """Add or remove tags.

    Examples:

    \b
      hub tag my_style +anime +favourite -wip
    """
    from hub.errors import UsageError
    from hub.registry import api

    for change in [ref, *changes]:
        if looks_like_option(change):
            raise UsageError(f"no such option: {change}", hint="hub tag --help lists the options")
    adapter = api.tag(ref, changes, ctx=hub_context())
    if json_out:
        print_json(adapter)
        return
    result_line(f"{adapter.name}: {', '.join(adapter.tags) or '(no tags)'}")


def rm(
    ref: Annotated[str, typer.Argument(help="Adapter name, id or hash prefix.")],
    force: Annotated[
        bool, typer.Option("--force", help="Remove it even when other entries were made from it.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove an adapter from the registry and free its stored bytes (files registered in place stay on disk).

    An adapter other entries were made from (mix, resize, ...) is kept unless --force: their rebuild commands name it.
    """
    from hub.registry import api

    adapter = api.rm(ref, force=force, ctx=hub_context())
    if json_out:
        print_json(adapter)
        return
    result_line(f"removed {adapter.name}")
    if adapter.children:
        from rich.markup import escape

        made = escape(", ".join(adapter.children))
        message(
            f"note: {made} were made from it: their lineage keeps its name and their rebuild commands"
            f" its SHA256 {(adapter.sha256 or '?')[:12]}; `hub add` the file again to rebuild them"
        )


def verify(
    ref: Annotated[str | None, typer.Argument(help="One adapter (default: all).")] = None,
    search: Annotated[
        list[Path] | None,
        typer.Option("--search", metavar="FOLDER", help="Also look here for missing files, by hash (repeatable)."),
    ] = None,
    collect: Annotated[
        bool, typer.Option("--collect", help="Remove orphans: stored bytes whose hash no entry has.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Rehash files: report missing or changed ones, repair those found again by hash, list orphan bytes.

    A missing file is looked for by its SHA256 in the store, where its bytes were seen, and under --search folders.

    Examples:

    \b
      hub verify
      hub verify --search /mnt/backup/loras
      hub verify --collect
    """
    from hub.registry import api

    with progress_bar("verifying") as update:
        results = api.verify(ref, collect=collect, search=search or [], progress=update, ctx=hub_context())
    if json_out:
        print_json(results)
    else:
        for r in results:  # results: stdout, one line each
            print(f"{r.status:<9} {r.name}  {short_path(r.path)}" + (f"  ({r.note})" if r.note else ""))
        bad = [r for r in results if r.status in PROBLEMS]
        repaired = sum(r.status == "repaired" for r in results)
        fixed = f"{repaired} repaired, " if repaired else ""
        result_line(f"{len(results)} checked, {fixed}{len(bad)} problem{'s' if len(bad) != 1 else ''}")
        if any(r.status == "missing" for r in results):
            message(
                "missing: no file with its SHA256 where it was, in the store or where it was seen; "
                "`hub verify --search FOLDER` looks for it by hash under a folder (the entry stays until `hub rm`)"
            )
        if any(r.status == "orphan" for r in results):
            message(
                "orphan: stored bytes whose hash no entry has (an interrupted import); `hub verify --collect` "
                "removes them"
            )
    if any(r.status in PROBLEMS for r in results):
        raise typer.Exit(1)


PROBLEMS = ("missing", "changed", "orphan")


def dupes(json_out: JsonOpt = False) -> None:
    """Same content under several names or paths (same SHA256), or same tensors with a different header (AutoV3)."""
    from hub.registry import api

    groups = api.dupes(ctx=hub_context())
    if json_out:
        print_json(groups)
        return
    for g in groups:
        label = "same bytes" if g.by == "sha256" else "same tensors, different header"
        result_line(f"[bold]{label}[/] [dim]{g.by} {g.value[:12]}[/]")
        for a in g.adapters:
            result_line(f"  {a.name}  [dim]{a.id}[/]")
        for p in g.paths:
            result_line(f"    [dim]{short_path(p)}[/]")
    result_line(f"{len(groups)} group{'s' if len(groups) != 1 else ''}")


def probe(
    path: Annotated[Path, typer.Argument(help="Any adapter file; nothing is registered.")],
    json_out: JsonOpt = False,
) -> None:
    """Say what a file is (format, arch, rank, alpha) from its header alone."""
    from hub.registry import api

    result = api.probe(path)
    if json_out:
        print_json(result)
        return
    result_line(
        f"{path.name}: {result.kind} {result.format} {result.arch} rank {result.rank or '-'}"
        f" alpha {_num(result.alpha)} scale {_num(result.scale)}"
    )
    for k, v in result.modules.items():
        result_line(f"  {k}: {v} modules")
    for e in result.evidence:
        result_line(f"  [dim]{e}[/]")
    if result.note:
        result_line(f"  [yellow]{result.note}[/]")


def gallery(
    query: Annotated[str | None, typer.Argument(help="Full-text search, as `hub ls`.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write.")] = Path("gallery.png"),
    arch: ArchOpt = None,
    kind: KindOpt = None,
    tag: TagOpt = None,
    columns: Annotated[int, typer.Option(help="Tiles per row.")] = 6,
    thumb: Annotated[int, typer.Option(help="Tile size in pixels.")] = 192,
    json_out: JsonOpt = False,
) -> None:
    """Draw every matching adapter's preview, with its name, arch and rank, into one PNG.

    Examples:

    \b
      hub gallery --out loras.png
      hub gallery anime --arch sdxl --columns 8 -o anime.png
    """
    from hub.registry import api

    result = api.gallery(out, query, arch=arch, kind=kind, tag=tag, columns=columns, thumb=thumb, ctx=hub_context())
    if json_out:
        print_json(result)
        return
    blurred = f", {result.blurred} blurred (NSFW; LORAHUB_NSFW_BLUR)" if result.blurred else ""
    result_line(f"wrote {result.path}: {result.adapters} adapters, {result.with_preview} with a preview{blurred}")
