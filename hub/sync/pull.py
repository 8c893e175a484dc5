"""``pull``: bring a LoRA from a Hub repo into the registry, pinned to a commit and verified.

``OWNER/NAME[@REVISION][:FILE]``: the revision is resolved to a commit first; files come through
huggingface_hub's cache (resumable, shared with diffusers) and are checked against the Hub's LFS
SHA256 (and, on a repo ``hub push`` made, the SHA256 its card lists) before the registry sees them. From a
repo ``hub push`` made, the file taken is the original (the pusher's registered bytes), not a conversion.
The card gives triggers, base, tags, licence, lineage and previews.
With ``HF_HUB_OFFLINE=1`` the listing comes from the cache itself (refs + snapshot), so a commit
pulled once can be pulled again with no network.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from hub.context import Context
from hub.errors import BadFileError, HubError, NotFoundError, RemoteError, UsageError
from hub.models import ParentLink, RemoteRef
from hub.paths import Paths
from hub.sync import client
from hub.sync.model_card import ParsedCard, parse_card
from hub.sync.push import IMAGE_SUFFIXES, WEIGHT_SUFFIXES, check_repo_id, file_sha256, git_blob_sha1
from hub.sync.results import PulledFile, PullResult

# Training leftovers that are weights-shaped but not adapters (diffusers skips the same names).
NOT_ADAPTERS = ("optimizer", "scheduler", "checkpoint", "training_state")
PREVIEW_SLOTS = ("preview", "")  # <stem>.preview.<ext>, <stem>.<ext>: the names the registry reads as previews
COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass
class Listing:
    """A repo at one commit: files with size and LFS sha256 (None for plain git files) and the card."""

    repo: str
    revision: str
    commit: str
    files: dict[str, tuple[int | None, str | None]] = field(default_factory=dict)
    git_oids: dict[str, str] = field(default_factory=dict)  # plain git files: blob sha1, to verify them too
    card: ParsedCard | None = None
    offline: bool = False


def parse_spec(spec: str) -> tuple[str, str, str | None]:
    """``OWNER/NAME[@REVISION][:FILE]`` -> (repo, revision, file). ``hf://`` prefixes are accepted."""
    text = spec.strip().removeprefix("hf://")
    m = re.fullmatch(r"([^@:/\s]+/[^@:/\s]+)(?:@([^:\s]+))?(?::(.+))?", text)
    if not m:
        raise UsageError(
            f"not a Hub reference: {spec!r}", hint="use OWNER/NAME, OWNER/NAME@REVISION or OWNER/NAME:FILE"
        )
    repo, revision, filename = m.group(1), m.group(2) or "main", m.group(3)
    check_repo_id(repo)
    if filename is not None and not is_safe_repo_path(filename):
        raise UsageError(
            f"refusing file name {filename!r}: it leaves the repository", hint="name a file inside the repo"
        )
    return repo, revision, filename


def is_safe_repo_path(path: str) -> bool:
    """A repo-relative POSIX path that stays inside the repo (no '..', not absolute, no backslashes or drives)."""
    if not path or path.startswith(("/", "\\")) or "\\" in path or "\0" in path or re.match(r"[A-Za-z]:", path):
        return False
    return all(part not in ("", ".", "..") for part in PurePosixPath(path).parts) and not path.endswith("/")


def _read_text(path: str | Path) -> str:
    return Path(path).read_text("utf-8", errors="replace")


def _online_listing(api: Any, repo: str, revision: str) -> Listing:
    with client.remote_errors("pull", repo, revision=revision):
        info = api.model_info(repo, revision=revision, files_metadata=True)
        listing = Listing(repo, revision, info.sha)
        for s in info.siblings or []:
            listing.files[s.rfilename] = (s.size, s.lfs.sha256 if s.lfs else None)
            if s.lfs is None and s.blob_id:
                listing.git_oids[s.rfilename] = s.blob_id
        if "README.md" in listing.files:
            readme = api.hf_hub_download(repo, "README.md", revision=info.sha)
            listing.card = parse_card(_read_text(readme))
    return listing


def _cache_folder(repo: str) -> Path:
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    return Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo, repo_type="model")


def _remember_ref(listing: Listing) -> None:
    """Write ``refs/<revision>`` in the cache, as huggingface_hub does for named revisions: we download by
    commit (so a push in between cannot mix two commits), which alone would leave an offline pull of
    ``@main`` unable to find the snapshot."""
    if listing.offline or listing.revision == listing.commit:
        return
    ref = _cache_folder(listing.repo) / "refs" / listing.revision
    with contextlib.suppress(OSError):
        ref.parent.mkdir(parents=True, exist_ok=True)
        tmp = ref.with_name(ref.name + ".tmp")
        tmp.write_text(listing.commit)
        tmp.replace(ref)


def _offline_listing(repo: str, revision: str) -> Listing:
    """The same listing from huggingface_hub's cache folder alone (refs/<rev> -> snapshots/<commit>)."""
    folder = _cache_folder(repo)
    ref = folder / "refs" / revision
    commit = revision if COMMIT.fullmatch(revision) else (ref.read_text().strip() if ref.is_file() else None)
    snapshot = folder / "snapshots" / commit if commit else None
    if snapshot is None or not snapshot.is_dir():
        raise RemoteError(
            f"offline (HF_HUB_OFFLINE=1) and {repo}@{revision} is not in the local Hugging Face cache",
            hint="unset HF_HUB_OFFLINE and pull once with a connection; later pulls of that commit work offline",
        )
    assert commit is not None
    listing = Listing(repo, revision, commit, offline=True)
    for file in sorted(snapshot.rglob("*")):
        if file.is_file():
            blob = file.resolve().name  # cache blobs are named by ETag: the sha256 for LFS files
            rel = file.relative_to(snapshot).as_posix()
            listing.files[rel] = (file.stat().st_size, blob if re.fullmatch(r"[0-9a-f]{64}", blob) else None)
    if "README.md" in listing.files:
        listing.card = parse_card(_read_text(snapshot / "README.md"))
    return listing


def weight_files(listing: Listing) -> list[str]:
    return [
        p
        for p in sorted(listing.files)
        if p.lower().endswith(WEIGHT_SUFFIXES)
        and not p.startswith("images/")
        and not any(word in p.lower() for word in NOT_ADAPTERS)
    ]


def choose_files(listing: Listing, filename: str | None, all_files: bool) -> list[str]:
    candidates = weight_files(listing)
    unsafe = [p for p in listing.files if not is_safe_repo_path(p)]
    if filename is not None:
        if filename not in listing.files:
            raise NotFoundError(
                f"{filename} is not in {listing.repo}@{listing.revision}",
                hint="weight files there: " + (", ".join(candidates) or "none"),
            )
        return [filename]
    card = listing.card
    chosen = candidates
    if not all_files and len(candidates) > 1:
        original = card.original_file if card is not None else None
        if original in candidates:
            chosen = [original]  # ours: the pusher's own bytes; the other files are conversions of them
        else:
            raise UsageError(
                f"{listing.repo} has {len(candidates)} weight files: {', '.join(candidates)}",
                hint=f"pick one with {listing.repo}:FILE, or pass --all",
            )
    if not chosen:
        if unsafe:
            raise RemoteError(f"refusing unsafe file name(s) in {listing.repo}: {', '.join(map(repr, unsafe))}")
        raise NotFoundError(f"{listing.repo}@{listing.revision} has no weight files", hint="nothing to pull there")
    bad = [p for p in chosen if not is_safe_repo_path(p)]
    if bad:
        raise RemoteError(
            f"refusing unsafe file name(s) in {listing.repo}: {', '.join(map(repr, bad))}",
            hint="a repo path with '..' or an absolute path could write outside the cache",
        )
    return chosen


def _download(api: Any, listing: Listing, path: str) -> Path:
    with client.remote_errors("pull", listing.repo, revision=listing.revision, filename=path):
        local = api.hf_hub_download(listing.repo, path, revision=listing.commit, local_files_only=listing.offline)
    return Path(local)


def _verified(api: Any, listing: Listing, path: str) -> tuple[Path, str]:
    """Download ``path`` and check it against the Hub's LFS sha256 (a bad blob is removed from the cache), then
    against the SHA256 a card of ours lists for it (the pusher's registered bytes, for the original)."""
    local = _download(api, listing, path)
    actual = file_sha256(local)
    expected = listing.files[path][1]
    git_oid = listing.git_oids.get(path)
    # a weight file stored in git itself: check its blob sha1 instead
    if git_oid is not None and git_blob_sha1(local.read_bytes()) != git_oid:
        expected = "git blob " + git_oid
    if expected is not None and actual != expected:
        with contextlib.suppress(OSError):
            local.resolve().unlink()  # never leave bytes that fail the check where the next pull would reuse them
        raise BadFileError(
            f"downloaded bytes do not match the Hub's SHA256 ({actual[:12]} != {expected[:12]})",
            path=f"{listing.repo}@{listing.commit[:10]}/{path}",
            hint="pull again; the bad copy was removed from the cache",
        )
    if listing.files[path][1] is None:  # stored in git: the card's SHA256 could not be checked before the download
        check_card_sha256(listing, path, actual)
    return local, actual


def check_card_sha256(listing: Listing, path: str, sha256: str) -> None:
    """A card of ours lists each weight file's SHA256 (the original's is the pusher's registered bytes): the file
    must be that one, even when the Hub's own copy is intact."""
    listed = listing.card.file_sha256.get(path) if listing.card else None
    if listed is not None and sha256 != listed:
        raise BadFileError(
            f"the file is not the one the model card lists (SHA256 {sha256[:12]} != {listed[:12]})",
            path=f"{listing.repo}@{listing.commit[:10]}/{path}",
            hint="the repo changed after its card was written; ask its owner to push again, or pull another revision",
        )


def _already_pulled(sha256: str, listing: Listing, path: str, ctx: Context) -> tuple[Any, bool] | None:
    """(adapter, same commit already recorded) when these bytes are registered."""
    from hub.registry import api as registry

    try:
        detail = registry.resolve(sha256, ctx=ctx)
    except HubError:
        return None
    if not detail.id or detail.sha256 != sha256:
        return None
    same = any(
        r.repo == listing.repo and r.commit == listing.commit and r.path == path and r.direction == "pull"
        for r in detail.remotes
    )
    return detail, same


def _stage(weights: Path, name: str, previews: list[tuple[str, Path]], paths: Paths) -> Path:
    """A stable folder where the weights (a link into the HF cache) sit beside previews named as sidecars."""
    digest = hashlib.sha256(str(weights).encode()).hexdigest()[:16]
    folder = paths.cache / "hf-pulls" / digest
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.is_symlink() or target.exists():
        target.unlink()
    try:
        target.symlink_to(weights.resolve())
    except OSError:
        shutil.copyfile(weights, target)
    stem = target.name.rsplit(".", 1)[0]
    free = {(slot, suffix) for slot in PREVIEW_SLOTS for suffix in IMAGE_SUFFIXES}
    for _repo_path, image in previews:
        suffix = image.suffix.lower()
        slot = next((s for s in PREVIEW_SLOTS if (s, suffix) in free), None)
        if slot is None:
            continue
        free.discard((slot, suffix))
        shutil.copyfile(image, folder / (f"{stem}.{slot}{suffix}" if slot else f"{stem}{suffix}"))
    return target


def _card_previews(api: Any, listing: Listing) -> list[tuple[str, Path]]:
    out = []
    for image in listing.card.images if listing.card else []:
        if is_safe_repo_path(image.path) and image.path in listing.files:
            try:
                out.append((image.path, _download(api, listing, image.path)))
            except HubError:
                continue  # a missing preview never blocks a pull
    return out


def pull(spec: str, *, all_files: bool = False, ctx: Context) -> PullResult:
    from hub.registry import api as registry

    repo, revision, filename = parse_spec(spec)
    offline = client.offline_env()
    api = client.api()
    listing = _offline_listing(repo, revision) if offline else _online_listing(api, repo, revision)
    chosen = choose_files(listing, filename, all_files)
    card = listing.card or ParsedCard()
    results: list[PulledFile] = []
    for path in chosen:
        size, expected = listing.files[path]
        if expected:  # the Hub's LFS SHA256: checked against the card before anything is downloaded or matched
            check_card_sha256(listing, path, expected)
        known = _already_pulled(expected, listing, path, ctx) if expected else None
        if known is not None:
            adapter, same_commit = known
            if not same_commit:
                ref = RemoteRef(repo=repo, revision=revision, commit=listing.commit, path=path, direction="pull")
                registry.record_remote(adapter.id, ref, ctx=ctx)
            status: Literal["unchanged", "already-registered"] = "unchanged" if same_commit else "already-registered"
            results.append(PulledFile(path=path, sha256=expected or "", size=size, status=status, adapter=adapter))
            continue
        local, sha256 = _verified(api, listing, path)
        source = f"hf://{repo}@{listing.commit}/{path}"
        previews = _card_previews(api, listing)
        name = card.name if card.ours and len(chosen) == 1 else None
        if name is None:
            name = repo.split("/")[1] if len(chosen) == 1 else PurePosixPath(path).stem
        links = [
            ParentLink(
                parent_ref=source,
                operation="pulled-from",
                params={"repo": repo, "revision": revision, "commit": listing.commit, "file": path},
            ),
            *(
                ParentLink(
                    parent_ref=ln.parent,
                    operation=ln.operation,
                    params={} if ln.weight is None else {"weight": ln.weight},
                )
                for ln in card.lineage
            ),
        ]
        staged = _stage(local, PurePosixPath(path).name, previews, ctx.paths)
        adapter = registry.add_one(
            staged,
            name=name,
            source=source,
            tags=card.tags,
            triggers=card.triggers,
            base_label=card.base_label,
            description=card.description,
            license=card.license,
            lineage=links,
            ctx=ctx,
        )
        registry.record_remote(
            adapter.id,
            RemoteRef(repo=repo, revision=revision, commit=listing.commit, path=path, direction="pull"),
            ctx=ctx,
        )
        results.append(
            PulledFile(
                path=path,
                sha256=sha256,
                size=size,
                status="added",
                adapter=adapter,
                previews=[p for p, _ in previews],
            )
        )
    _remember_ref(listing)
    return PullResult(repo=repo, revision=revision, commit=listing.commit, offline=listing.offline, files=results)
