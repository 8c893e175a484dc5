"""Hub sync commands: push, pull, search (thin: parse, call hub.sync.api, print)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.context import hub_context
from cli.output import console, message, print_json, result_line
from hub.errors import UsageError

if TYPE_CHECKING:  # pydantic result classes cost milliseconds to build: keep them off `hub ls`
    from hub.sync.results import PullResult, PushResult

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def register(app: typer.Typer) -> None:
    for command in (push, pull, search):
        app.command(name=command.__name__)(command)


def push(
    name: Annotated[str | None, typer.Argument(help="Adapter to push (name, id or hash prefix).")] = None,
    repo: Annotated[
        str | None, typer.Option("--repo", help="OWNER/NAME (default: your user / the adapter name).")
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the repo private.")] = False,
    branch: Annotated[str | None, typer.Option("--branch", help="Branch to commit to (created if missing).")] = None,
    message_: Annotated[str | None, typer.Option("--message", "-m", help="Commit message.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Push every LoRA (or those with --tag) to --org.")] = False,
    org: Annotated[str | None, typer.Option("--org", help="Organisation (or user) for --all.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="With --all: only adapters with this tag.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Publish an adapter to the Hugging Face Hub: the file itself, kohya/diffusers copies, model card, previews.

    Needs a write token (HF_TOKEN or `hf auth login`). Pushing again with nothing changed makes no commit.

    Examples:

    \b
      hub push cat-style
      hub push cat-style --repo my-team/cat-style --private
      hub push --all --org my-team --tag published
    """
    from hub.sync import api as sync

    if all_:
        if name or repo:
            raise UsageError("--all pushes many adapters: give --org, not a NAME or --repo")
        if not org:
            raise UsageError("--all needs --org ORG", hint="hub push --all --org my-team [--tag TAG]")
        results = sync.push_all(
            org=org, tag=tag, private=private, branch=branch, message=message_, on_step=_step, ctx=hub_context()
        )
        if json_out:
            print_json(results)
        else:
            for r in results:
                _print_push(r)
            if not results:
                message("nothing to push" + (f" with tag '{tag}'" if tag else ""))
        if any(r.status == "failed" for r in results):
            raise typer.Exit(1)
        return
    if not name:
        raise UsageError("which adapter? give its NAME, or --all --org ORG")
    if org or tag:
        raise UsageError("--org and --tag go with --all", hint="for one adapter use --repo ORG/NAME")
    result = sync.push(
        name, repo=repo, private=private, branch=branch, message=message_, on_step=_step, ctx=hub_context()
    )
    if json_out:
        print_json(result)
    else:
        _print_push(result)


def _step(text: str) -> None:
    message(f"[dim]{text}[/]")


def _print_push(r: PushResult) -> None:
    if r.status == "failed":
        result_line(f"[red]failed[/]     {r.name} -> {r.repo}: {r.error}")
        return
    where = f"{r.repo}@{r.revision}"
    if r.status == "unchanged":
        result_line(
            f"[cyan]unchanged[/]  {r.name} -> {where}: nothing changed, no new commit ({(r.commit or '')[:10]})"
        )
    else:
        files = ", ".join(r.uploaded)
        result_line(f"[green]{r.status:<10}[/] {r.name} -> {where} commit {(r.commit or '')[:10]}: {files}")
    for w in r.warnings:
        message(f"[yellow]warning:[/] {w}")
    if r.url:
        result_line(f"           {r.url}")


def pull(
    spec: Annotated[str, typer.Argument(help="OWNER/NAME[@REVISION][:FILE]")],
    all_files: Annotated[bool, typer.Option("--all", help="Pull every weight file of the repo.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Pull a LoRA from the Hub into the registry, pinned to a commit and checked against the Hub's SHA256.

    Works offline (HF_HUB_OFFLINE=1) for commits already in the Hugging Face cache.

    Examples:

    \b
      hub pull some-user/cat-style
      hub pull some-user/cat-style@v1.0
      hub pull some-user/many-loras:styles/ink.safetensors
    """
    from hub.sync import api as sync

    result = sync.pull(spec, all_files=all_files, ctx=hub_context())
    if json_out:
        print_json(result)
        return
    _print_pull(result)


def _print_pull(r: PullResult) -> None:
    origin = f"{r.repo}@{r.commit[:10]}" + (" (offline, from the cache)" if r.offline else "")
    for f in r.files:
        label = {
            "added": "[green]added[/]     ",
            "unchanged": "[cyan]unchanged[/] ",
            "already-registered": "[cyan]known[/]     ",
        }[f.status]
        note = " (this commit was already pulled)" if f.status == "unchanged" else ""
        result_line(f"{label} {f.adapter.name}  [dim]{origin}/{f.path}{note}[/]")
        if f.adapter.triggers:
            result_line(f"           triggers: {', '.join(f.adapter.triggers)}")


def search(
    query: Annotated[str, typer.Argument(help="Words to look for in repo names.")] = "",
    arch: Annotated[str | None, typer.Option("--arch", help="sd1, sd2, sdxl or flux.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many results.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List LoRA repos on the Hub matching QUERY.

    Examples:

    \b
      hub search anime --arch sdxl
      hub search "" --limit 50 --json
    """
    from hub.sync import api as sync

    results = sync.search(query, arch=arch, limit=limit)
    if json_out:
        print_json(results)
        return
    if not results:
        message("no LoRA repos found")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("repo", "arch", "trigger", "downloads", "likes", "updated"):
        table.add_column(col, justify="right" if col in ("downloads", "likes") else "left")
    for m in results:
        table.add_row(
            m.id,
            m.arch,
            m.trigger or "",
            "" if m.downloads is None else str(m.downloads),
            "" if m.likes is None else str(m.likes),
            (m.last_modified or "")[:10],
        )
    console().print(table)
