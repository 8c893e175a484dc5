"""Bringing files into the registry: probe, hash in one read, store, read sidecars, write one transaction.

``add``/``add_one``/``import_dir`` are re-exported by :mod:`hub.registry.api`, the registry's verbs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.context import Context, using
from hub.errors import BadFileError, HubError, IncompatibleError, NotFoundError, UsageError
from hub.models import Adapter, AddOutcome, FileHashes, ImportReport, ParentLink, ProbeResult, Progress
from hub.registry import describe, store
from hub.registry.db import Registry, adapter_from_row, new_id, now
from hub.registry.describe import ADAPTER_EXTENSIONS
from hub.registry.hashing import hash_file
from hub.registry.sidecars import read_sidecars


# -- probing ------------------------------------------------------------------------------------
def probe(path: str | Path) -> ProbeResult:
    """What the file's header says (format, arch, rank, ...) without registering it."""
    from hub.formats.probe import probe_file

    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"no such file: {path}")
    return probe_file(path)


def _probe_for_registry(path: Path) -> ProbeResult:
    result = probe(path)
    if result.kind == "sidecar":
        raise UsageError(f"{path}: is a sidecar (settings of an adapter), not an adapter", hint="add the weights file")
    if result.kind == "not-sd":
        raise IncompatibleError(
            f"{path}: not a Stable Diffusion adapter ({result.note or result.format})",
            hint="hub catalogs Stable Diffusion / FLUX LoRA, LyCORIS and embeddings",
        )
    if result.truncated:
        raise BadFileError(
            "truncated: the header promises more tensor data than the file holds (an interrupted download?)",
            path=str(path),
            hint="download the file again",
        )
    return result


# -- adding ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """What the caller says about the row a file becomes; anything left empty is derived from the file."""

    name: str | None = None
    source: str | None = None  # default: the file's path
    tags: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    base_label: str | None = None
    description: str | None = None
    license: str | None = None
    lineage: tuple[ParentLink, ...] = ()
    recipe: dict[str, Any] | None = None

    def is_user_file(self, path: Path) -> bool:
        # Outputs of hub itself (mixes, pulls) are registered from temp files: no location worth listing.
        return self.source is None or self.source == str(path)


def add_one(
    path: str | Path,
    *,
    name: str | None = None,
    source: str | None = None,
    in_place: bool = False,
    link: bool = False,
    hash: bool = True,
    tags: Sequence[str] = (),
    triggers: Sequence[str] = (),
    base_label: str | None = None,
    description: str | None = None,
    license: str | None = None,
    lineage: Sequence[ParentLink] = (),
    recipe: dict[str, Any] | None = None,
    ctx: Context | None = None,
) -> Adapter:
    """Register one file; returns its row (the existing row when the same bytes are already there)."""
    entry = Entry(name, source, tuple(tags), tuple(triggers), base_label, description, license, tuple(lineage), recipe)
    with using(ctx) as c:
        c.registry.require_writable()
        outcome = _add(Path(path), entry, in_place=in_place, link=link, hash=hash, ctx=c)
    assert outcome.adapter is not None
    return outcome.adapter


def add(
    paths: Sequence[str | Path],
    *,
    in_place: bool = False,
    link: bool = False,
    hash: bool = True,
    name: str | None = None,
    tags: Sequence[str] = (),
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> ImportReport:
    """Register files (a folder is imported recursively). A bad file is reported, never fatal to the rest."""
    files: list[Path] = []
    skipped: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found, ignored = scan_folder(p)
            files.extend(found)
            skipped.extend(ignored)
        else:
            files.append(p)
    if name and len(files) > 1:
        raise UsageError("--name applies to a single file", hint="drop --name when adding several files")
    single = len(paths) == 1 and len(files) == 1 and not Path(paths[0]).is_dir()
    return _add_many(
        files,
        in_place=in_place,
        link=link,
        hash=hash,
        name=name,
        tags=tags,
        progress=progress,
        ctx=ctx,
        single=single,
        skipped=skipped,
    )


def import_dir(
    folder: str | Path,
    *,
    in_place: bool = False,
    link: bool = False,
    hash: bool = True,
    tags: Sequence[str] = (),
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> ImportReport:
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFoundError(f"no such folder: {folder}")
    files, skipped = scan_folder(folder)
    return _add_many(
        files,
        in_place=in_place,
        link=link,
        hash=hash,
        name=None,
        tags=tags,
        progress=progress,
        ctx=ctx,
        skipped=skipped,
    )


def find_adapter_files(folder: Path) -> list[Path]:
    return scan_folder(folder)[0]


def scan_folder(folder: Path) -> tuple[list[Path], list[Path]]:
    """``(adapter files, skipped files)`` under ``folder``: skipped ones are neither an adapter's extension nor
    a companion (sidecar, preview, notes) — e.g. ``x.safetensors@1a2b`` — and are reported, never dropped."""
    found, skipped = [], []
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for n in sorted(names):
            if n.startswith("."):
                continue
            lower = n.lower()
            if lower.endswith(ADAPTER_EXTENSIONS):
                found.append(Path(root) / n)
            elif not lower.endswith(COMPANION_EXTENSIONS):
                skipped.append(Path(root) / n)
    return found, skipped


def _add_many(
    files: Sequence[Path],
    *,
    in_place: bool,
    link: bool,
    hash: bool,
    name: str | None,
    tags: Sequence[str],
    progress: Progress | None,
    ctx: Context | None,
    single: bool = False,
    skipped: Sequence[Path] = (),
) -> ImportReport:
    with using(ctx) as shared:  # one registry connection for the whole run, not one per file
        shared.registry.require_writable()  # one error before any file is read, not one per file
        outcomes: list[AddOutcome] = []
        not_read = [AddOutcome(path=str(p.absolute()), status="skipped", message=SKIPPED_MESSAGE) for p in skipped]
        try:
            for i, f in enumerate(files):
                if progress:
                    progress(i, len(files))
                try:
                    entry = Entry(name=name, tags=tuple(tags))
                    outcomes.append(_add(f, entry, in_place=in_place, link=link, hash=hash, ctx=shared))
                except HubError as e:
                    if single:  # one file named by the user: its error is the answer
                        raise
                    outcomes.append(
                        AddOutcome(path=str(f), status="rejected", message=_without_path(e, f), exit_code=e.exit_code)
                    )
        except KeyboardInterrupt:
            # Ctrl-C: the file being added either committed or rolled back and took its new blob with it (_add);
            # the caller says what was done rather than nothing.
            return ImportReport(outcomes=outcomes + not_read, interrupted=True)
        if progress:
            progress(len(files), len(files))
    return ImportReport(outcomes=outcomes + not_read)


SKIPPED_MESSAGE = "not an adapter file (" + " ".join(ADAPTER_EXTENSIONS) + "): not read"
# Files that live beside adapters and are read with them (sidecars, previews) or are notes: not "skipped".
COMPANION_EXTENSIONS: tuple[str, ...] = (".json", ".info", ".txt", ".md", ".yaml", ".yml", ".toml", ".png", ".jpg")
COMPANION_EXTENSIONS += (".jpeg", ".webp", ".gif", ".mp4", ".webm", ".html", ".log")


def _without_path(e: HubError, path: Path) -> str:
    """The error's message without the path the report already prints."""
    text = str(e)
    for shown in (str(path), str(path.absolute())):
        if text.startswith(shown + ": "):
            return text[len(shown) + 2 :]
    return text


def _add(path: Path, entry: Entry, *, in_place: bool, link: bool, hash: bool, ctx: Context) -> AddOutcome:
    stored: list[Path] = []  # the blob this call put in the store, if any
    try:
        return _add_stored(path, entry, in_place=in_place, link=link, hash=hash, ctx=ctx, stored=stored)
    except BaseException:
        # Failed or interrupted (Ctrl-C) before its row was committed: no blob without a row.
        for blob in stored:
            if blob.name not in ctx.registry.owned_hashes():
                blob.unlink(missing_ok=True)
        raise


def _add_stored(
    path: Path, entry: Entry, *, in_place: bool, link: bool, hash: bool, ctx: Context, stored: list[Path]
) -> AddOutcome:
    paths = ctx.paths
    if not path.is_file():
        raise NotFoundError(f"no such file: {path}")
    path = path.absolute()
    own = _linked_here(path, ctx.registry)
    if own is not None:
        return own
    probed = _probe_for_registry(path)
    side = read_sidecars(path)
    stat = path.stat()
    in_place = in_place or not hash  # an unhashed file has no content address yet

    reg = ctx.registry
    hashes: FileHashes | None = None
    blob: Path | None = None
    if hash:
        hashes = reg.cached_hashes(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if hashes is not None:
            existing = reg.id_by_sha256(hashes.sha256)
            if existing:
                return _duplicate(reg, existing, path, entry)
        if in_place:
            hashes = hashes or hash_file(path)
        else:
            hashes, blob = store.hash_into_store(path, paths, link=link)
            stored.append(blob)
        # Hashing may take minutes; a file rewritten meanwhile must not be cached under the old stat.
        if path.stat().st_mtime_ns == stat.st_mtime_ns:
            reg.cache_hashes(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino, hashes)

    with reg.transaction():
        if hashes is not None:
            existing = reg.id_by_sha256(hashes.sha256)
            if existing:
                return _duplicate(reg, existing, path, entry, in_transaction=True)
        adapter_id = new_id()
        metadata = dict(probed.metadata)
        wanted = (entry.name or describe.derive_name(path, metadata, side)).strip()
        row = {
            "id": adapter_id,
            "name": reg.unique_name(wanted),
            "kind": probed.kind,
            "format": probed.format,
            "arch": probed.arch,
            "base_label": entry.base_label or describe.derive_base_label(metadata, side),
            "rank": probed.rank,
            "ranks": probed.ranks,
            "alpha": probed.alpha,
            "scale": probed.scale,
            "modules": probed.modules,
            "dtype": probed.dtype,
            "size": stat.st_size,
            "sha256": hashes.sha256 if hashes else None,
            "triggers": _merge(entry.triggers, describe.derive_triggers(metadata, side, probed.tokens)),
            "description": entry.description or describe.derive_description(metadata, side),
            "license": entry.license or metadata.get("modelspec.license") or None,
            "preferred_weight": describe.preferred_weight(metadata, side),
            "source": entry.source or str(path),
            "path": str(blob if blob else path),
            "stored": blob is not None,
            "usable": probed.usable,
            "note": "; ".join([*([probed.note] if probed.note else []), *side.problems]) or None,
            "metadata": metadata,
            "sidecars": side.raw,
            "evidence": probed.evidence,
            "recipe": entry.recipe,
            "created_at": describe.derive_created_at(metadata, path),
            "imported_at": now(),
        }
        reg.insert_adapter(row)
        if hashes:
            reg.set_hashes(adapter_id, hashes)
        reg.set_tags(adapter_id, _merge(entry.tags, describe.derive_tags(metadata, side)))
        if entry.is_user_file(path):
            reg.add_location(adapter_id, str(path))
        for preview in side.previews:
            reg.add_preview(adapter_id, str(store.keep_preview(preview, paths)), str(preview))
        _write_lineage(reg, adapter_id, entry.lineage)
        reg.reindex(adapter_id)
    added = adapter_from_row(reg.adapter_row(adapter_id), reg.tags(adapter_id))
    return AddOutcome(path=str(path), status="added", adapter=added)


def _linked_here(path: Path, reg: Registry) -> AddOutcome | None:
    """A file ``hub link`` put in a folder is the registry's own bytes (the same inode, or a symlink to them): a
    duplicate without hashing it, and not a place the adapter was seen at (the link goes when the folder changes)."""
    from hub.registry.link_manifest import linked_adapter_id

    adapter_id = linked_adapter_id(path)
    row = reg.find_adapter_row(adapter_id) if adapter_id else None
    if row is None or not row["stored"]:  # a file registered in place may have been edited since: hash it
        return None
    adapter = adapter_from_row(row, reg.tags(row["id"]))
    return AddOutcome(
        path=str(path),
        status="duplicate",
        adapter=adapter,
        message=f"the registry's own file: `hub link` of '{adapter.name}' ({adapter.id})",
    )


def _duplicate(
    reg: Registry,
    existing: str,
    path: Path,
    entry: Entry,
    *,
    in_transaction: bool = False,
) -> AddOutcome:
    def record() -> None:
        if entry.is_user_file(path):
            reg.add_location(existing, str(path))
        # An output rebuilt from the same recipe lands on the same bytes: keep its history once.
        if entry.lineage and not reg.lineage(child_id=existing):
            _write_lineage(reg, existing, entry.lineage)
        if entry.recipe and reg.adapter_row(existing)["recipe"] is None:
            reg.update_adapter(existing, recipe=entry.recipe)

    if in_transaction:
        record()
    else:
        with reg.transaction():
            record()
    adapter = adapter_from_row(reg.adapter_row(existing), reg.tags(existing))
    return AddOutcome(
        path=str(path), status="duplicate", adapter=adapter, message=f"same bytes as '{adapter.name}' ({adapter.id})"
    )


def _write_lineage(reg: Registry, child_id: str, lineage: Sequence[ParentLink]) -> None:
    for link in lineage:
        parent_id = link.parent_id
        if parent_id is None:
            ids = reg.find_ids(link.parent_ref)
            parent_id = ids[0] if len(ids) == 1 else None
        reg.add_lineage(
            parent_id=parent_id,
            parent_ref=link.parent_ref,
            child_id=child_id,
            operation=link.operation,
            params=link.params,
        )


def _merge(first: Sequence[str], second: Sequence[str]) -> list[str]:
    out: list[str] = []
    for item in [*first, *second]:
        if item and item not in out:
            out.append(item)
    return out
