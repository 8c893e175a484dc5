"""Sync's verbs, sharing through the Hugging Face Hub: ``push``, ``push_all``, ``pull``, ``search``.

It resolves registry references (through :mod:`hub.registry.api`) and returns typed results; the work is in
:mod:`hub.sync.push`, :mod:`hub.sync.pull` and :mod:`hub.sync.search`.
Tokens come from huggingface_hub (HF_TOKEN, then the token file) and are never stored here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hub.context import Context, using
from hub.errors import HubError, UsageError
from hub.models import Adapter
from hub.sync.model_card import CardFile, CardImage, CardLineage, CardSpec, build_card
from hub.sync.results import PulledFile, PullResult, PushResult, RemoteModel

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hub.models import Progress
    from hub.sync.push import StepNote
    from hub.sync.results import CivitaiReport, CivitaiUpdate

# build_card and its spec: the model card `hub push` publishes, also written by the trainer beside its runs.
__all__ = [
    "CardFile",
    "CardImage",
    "CardLineage",
    "CardSpec",
    "PullResult",
    "PulledFile",
    "PushResult",
    "RemoteModel",
    "build_card",
    "civitai",
    "civitai_updates",
    "download",
    "pull",
    "push",
    "push_all",
    "search",
]


def push(
    ref: str,
    *,
    repo: str | None = None,
    private: bool = False,
    branch: str | None = None,
    message: str | None = None,
    on_step: StepNote | None = None,
    ctx: Context | None = None,
) -> PushResult:
    """Push the registered adapter ``ref`` to ``repo`` (default ``<your user>/<adapter name>``) in one commit.

    Nothing changed -> no commit (status "unchanged"); only a changed card -> a commit with README.md only.
    """
    from hub.registry import api as registry
    from hub.sync import push as push_mod

    with using(ctx) as c:
        detail = registry.resolve(ref, ctx=c)
        return push_mod.push(
            detail, repo=repo, private=private, branch=branch, message=message, on_step=on_step, ctx=c
        )


def push_all(
    *,
    org: str,
    tag: str | None = None,
    private: bool = False,
    branch: str | None = None,
    message: str | None = None,
    on_step: StepNote | None = None,
    ctx: Context | None = None,
) -> list[PushResult]:
    """Push every LoRA (optionally those tagged ``tag``) to ``org/<name>``; a failure is reported, not fatal."""
    from hub.registry import api as registry

    if not org or "/" in org:
        raise UsageError(f"not an organisation or user name: {org!r}", hint="--org NAME, e.g. --org my-team")
    with using(ctx) as c:
        return [_push_one(a, org, private, branch, message, on_step, c) for a in registry.ls(tag=tag, ctx=c)
                if a.kind in ("lora", "lycoris", "lora+embedding")]  # fmt: skip


def _push_one(
    adapter: Adapter, org: str, private: bool, branch: str | None, message: str | None, on_step: StepNote | None,
    ctx: Context,
) -> PushResult:  # fmt: skip
    """One adapter of :func:`push_all`; a failure becomes a "failed" result instead of stopping the rest."""
    from hub.registry import api as registry
    from hub.sync import push as push_mod

    repo = f"{org}/{push_mod.repo_slug(adapter.name)}"
    try:
        detail = registry.resolve(adapter.id, ctx=ctx)
        return push_mod.push(
            detail, repo=repo, private=private, branch=branch, message=message, on_step=on_step, ctx=ctx
        )
    except HubError as e:
        return PushResult(
            name=adapter.name,
            adapter_id=adapter.id,
            repo=repo,
            revision=branch or "main",
            status="failed",
            private=private,
            error=str(e),
        )


def pull(spec: str, *, all_files: bool = False, ctx: Context | None = None) -> PullResult:
    """Pull ``OWNER/NAME[@REVISION][:FILE]`` into the registry (verified, pinned to the resolved commit)."""
    from hub.sync import pull as pull_mod

    with using(ctx) as c:
        return pull_mod.pull(spec, all_files=all_files, ctx=c)


def search(query: str, *, arch: str | None = None, limit: int = 20) -> list[RemoteModel]:
    """LoRA repos on the Hub matching ``query`` (optionally one architecture: sd1, sd2, sdxl, flux)."""
    from hub.sync import search as search_mod

    return search_mod.search(query, arch=arch, limit=limit)


def download(repo: str, *, allow_patterns: list[str], action: str = "download") -> Path:
    """The files of a model repo matching ``allow_patterns``, through huggingface_hub's cache (for other
    packages' model downloads, the captioner's): one bounded request to start with, the sync error table's
    one-line errors (an unreachable host: RemoteError with the HF_HUB_OFFLINE=1 hint)."""
    from hub.sync import client

    with client.remote_errors(action, repo):
        return client.snapshot(repo, allow_patterns=allow_patterns)


def civitai(
    refs: Sequence[str] = (),
    *,
    refresh: bool = False,
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> CivitaiReport:
    """Look adapters up on Civitai by hash (every one when ``refs`` is empty) and record what it says: names,
    creator, base model, trained words (added as triggers), NSFW level, tags, description (sanitised), licence,
    links, preview images. A hash Civitai does not know is recorded and not asked again until ``refresh``; so is
    one already found. Endpoint and key: ``CIVITAI_API_URL``, ``CIVITAI_API_KEY`` (never stored)."""
    from hub.sync import civitai as civitai_mod

    return civitai_mod.lookup(refs, refresh=refresh, progress=progress, ctx=ctx)


def civitai_updates(
    refs: Sequence[str] = (), *, progress: Progress | None = None, ctx: Context | None = None
) -> list[CivitaiUpdate]:
    """Adapters found on Civitai whose model has a newer version for the same base model, and what changed."""
    from hub.sync import civitai as civitai_mod

    return civitai_mod.updates(refs, progress=progress, ctx=ctx)
