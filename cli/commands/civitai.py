"""``hub civitai``: look adapters up on Civitai by hash, or list newer versions (thin: parse, call hub.sync.api,
print)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.context import hub_context
from cli.output import message, print_json, progress_bar, result_line

if TYPE_CHECKING:
    from hub.sync.results import CivitaiOutcome, CivitaiUpdate


def register(app: typer.Typer) -> None:
    app.command(name="civitai")(civitai)


def civitai(
    refs: Annotated[
        list[str] | None,
        typer.Argument(help="Adapters (name, id or hash prefix); every one when none.", metavar="[REF]..."),
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ask again about adapters already found or unknown to Civitai.")
    ] = False,
    updates: Annotated[
        bool, typer.Option("--updates", help="List newer versions of their models, for the same base model.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Fill in what Civitai knows of your adapters, by their SHA256: names, creator, base model, trigger words,
    NSFW level, tags, description, licence, links and preview images.

    A hash Civitai does not know is recorded and not asked again until --refresh; a model Civitai deleted keeps
    what was recorded. CIVITAI_API_URL sets the endpoint, CIVITAI_API_KEY a key (sent, never stored or printed).

    Examples:

    \b
      hub civitai
      hub civitai my_style --refresh
      hub civitai --updates
    """
    from hub.sync import api as sync

    if updates:
        if refresh:
            from hub.errors import UsageError

            raise UsageError("--updates asks about models already found; --refresh goes without it")
        with progress_bar("checking for updates") as update:
            found = sync.civitai_updates(refs or [], progress=update, ctx=hub_context())
        if json_out:
            print_json(found)
            return
        for u in found:
            _print_update(u)
        result_line(f"{len(found)} adapter{'s' if len(found) != 1 else ''} with a newer version")
        return
    with progress_bar("asking Civitai") as update:
        report = sync.civitai(refs or [], refresh=refresh, progress=update, ctx=hub_context())
    if json_out:
        print_json(report.outcomes)
    else:
        for o in report.outcomes:
            _print_outcome(o)
        counts: dict[str, int] = {}
        for o in report.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in counts.items()) or "no adapters"
        result_line(f"{summary} ({report.requests} requests)")
        if counts.get("recorded"):
            message("recorded: asked before; `hub civitai --refresh` asks again")
    if report.failed:
        raise typer.Exit(1)


def _print_outcome(o: CivitaiOutcome) -> None:
    from rich.markup import escape

    name = escape(o.name)
    info = o.info
    if o.status in ("found", "recorded", "gone") and info is not None and info.model_id:
        colour = {"found": "green", "recorded": "cyan", "gone": "yellow"}[o.status]
        title = escape(f"{info.model_name or '?'} · {info.version_name or '?'}")
        by = escape(f" by {info.creator}" if info.creator else "")
        line = f"[{colour}]{o.status:<9}[/] {name}: {title}{by} [dim]({escape(info.base_model or '?')})[/]"
        if o.previews:
            line += f" [dim]{o.previews} preview{'s' if o.previews != 1 else ''}[/]"
        result_line(line)
        if o.status == "gone":
            result_line("          deleted on Civitai since; what was recorded is kept")
    elif o.status in ("unknown", "recorded") and info is not None:
        result_line(f"[yellow]{'unknown':<9}[/] {name}: Civitai does not know its hash (asked {info.checked_at[:10]})")
    elif o.status == "skipped":
        result_line(f"[yellow]skipped  [/] {name}: {escape(o.error or '')}")
    else:
        result_line(f"[red]failed   [/] {name}: {escape(o.error or '')}")
    for note in o.notes:
        message(f"  [dim]{escape(o.name)}: {escape(note)}[/]")


def _print_update(u: CivitaiUpdate) -> None:
    from rich.markup import escape

    from hub.units import human_size

    result_line(
        f"[bold]{escape(u.name)}[/]: {escape(u.model_name or '?')} · {escape(u.version_name or '?')}"
        f" [dim]({escape(u.base_model or '?')}, {(u.published_at or '?')[:10]})[/]"
    )
    for v in u.newer:
        changes = [f"published {(v.published_at or '?')[:10]}"]
        if v.size is not None:
            sign = "+" if (v.size_change or 0) >= 0 else "-"
            delta = f", {sign}{human_size(abs(v.size_change))}" if v.size_change else ""
            changes.append(f"{human_size(v.size)}{delta}")
        if v.trained_words_added:
            changes.append("new trained words: " + ", ".join(v.trained_words_added))
        if v.trained_words_removed:
            changes.append("dropped: " + ", ".join(v.trained_words_removed))
        result_line(f"  newer: {escape(v.name or str(v.version_id))}  {escape('; '.join(changes))}")
        result_line(f"         {escape(v.page_url)}")
