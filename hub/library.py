"""The registry as a Python API: ``add``, ``import_dir``, ``ls``, ``show``, ``tag``, ``rm``, ``verify``, ``dupes``.

Every function returns typed models from :mod:`hub.models` and raises :class:`hub.errors.HubError`
subclasses; the CLI only prints what these return. None of this imports torch.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hub.errors import (
    AmbiguousError,
    BadFileError,
    HubError,
    IncompatibleError,
    NotFoundError,
    UsageError,
)
from hub.models import (
    Adapter,
    AdapterDetail,
    AddOutcome,
    DupeGroup,
    FileHashes,
    ImportReport,
    ParentLink,
    ProbeResult,
    RemoteRef,
    VerifyResult,
)
from hub.paths import Paths
from hub.registry import describe, store
from hub.registry.db import Registry, adapter_from_row, new_id, now
from hub.registry.hashing import hash_file
from hub.registry.sidecars import IMAGE_EXTENSIONS, read_sidecars
from hub.settings import Settings, load_settings

ADAPTER_EXTENSIONS = (".safetensors", ".pt", ".bin", ".ckpt", ".pth")
Progress = Callable[[str, int, int], None]  # (current file, done, total)


# -- opening ------------------------------------------------------------------------------------
@contextmanager
def open_registry(settings: Settings | None = None) -> Iterator[Registry]:
    settings = settings or load_settings()
    registry = Registry.open(settings.paths.registry_db)
    try:
        yield registry
    finally:
        registry.close()


def _paths(settings: Settings | None) -> Paths:
    return (settings or load_settings()).paths


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
    lineage: Sequence[ParentLink] = (),
    recipe: dict[str, Any] | None = None,
    settings: Settings | None = None,
) -> Adapter:
    """Register one file; returns its row (the existing row when the same bytes are already there)."""
    outcome = _add(
        Path(path),
        name=name,
        source=source,
        in_place=in_place,
        link=link,
        hash=hash,
        tags=tags,
        triggers=triggers,
        base_label=base_label,
        description=description,
        lineage=lineage,
        recipe=recipe,
        settings=settings,
    )
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
    settings: Settings | None = None,
) -> ImportReport:
    """Register files (a folder is imported recursively). A bad file is reported, never fatal to the rest."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(find_adapter_files(p))
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
        settings=settings,
        single=single,
    )


def import_dir(
    folder: str | Path,
    *,
    in_place: bool = False,
    link: bool = False,
    hash: bool = True,
    tags: Sequence[str] = (),
    progress: Progress | None = None,
    settings: Settings | None = None,
) -> ImportReport:
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFoundError(f"no such folder: {folder}")
    files = find_adapter_files(folder)
    return _add_many(
        files, in_place=in_place, link=link, hash=hash, name=None, tags=tags, progress=progress, settings=settings
    )


def find_adapter_files(folder: Path) -> list[Path]:
    out = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for n in sorted(names):
            if n.lower().endswith(ADAPTER_EXTENSIONS) and not n.startswith("."):
                out.append(Path(root) / n)
    return out


def _add_many(
    files: Sequence[Path],
    *,
    in_place: bool,
    link: bool,
    hash: bool,
    name: str | None,
    tags: Sequence[str],
    progress: Progress | None,
    settings: Settings | None,
    single: bool = False,
) -> ImportReport:
    outcomes = []
    for i, f in enumerate(files):
        if progress:
            progress(str(f), i, len(files))
        try:
            outcomes.append(_add(f, name=name, in_place=in_place, link=link, hash=hash, tags=tags, settings=settings))
        except HubError as e:
            if single:  # one file named by the user: its error is the answer
                raise
            outcomes.append(AddOutcome(path=str(f), status="rejected", message=str(e), exit_code=e.exit_code))
    if progress:
        progress("", len(files), len(files))
    return ImportReport(outcomes=outcomes)


def _add(
    path: Path,
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
    lineage: Sequence[ParentLink] = (),
    recipe: dict[str, Any] | None = None,
    settings: Settings | None = None,
) -> AddOutcome:
    settings = settings or load_settings()
    paths = settings.paths
    if not path.is_file():
        raise NotFoundError(f"no such file: {path}")
    path = path.absolute()
    probed = _probe_for_registry(path)
    side = read_sidecars(path)
    stat = path.stat()
    in_place = in_place or not hash  # an unhashed file has no content address yet

    with open_registry(settings) as reg:
        hashes: FileHashes | None = None
        blob: Path | None = None
        if hash:
            hashes = reg.cached_hashes(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
            if hashes is not None:
                existing = reg.id_by_sha256(hashes.sha256)
                if existing:
                    return _duplicate(reg, existing, path, source, lineage, recipe)
            if in_place:
                hashes = hashes or hash_file(path)
            else:
                hashes, blob = store.hash_into_store(path, paths, link=link)
            # Hashing may take minutes; a file rewritten meanwhile must not be cached under the old stat.
            if path.stat().st_mtime_ns == stat.st_mtime_ns:
                reg.cache_hashes(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino, hashes)

        with reg.transaction():
            if hashes is not None:
                existing = reg.id_by_sha256(hashes.sha256)
                if existing:
                    return _duplicate(reg, existing, path, source, lineage, recipe, in_transaction=True)
            adapter_id = new_id()
            metadata = dict(probed.metadata)
            wanted = (name or describe.derive_name(path, metadata, side)).strip()
            row = {
                "id": adapter_id,
                "name": reg.unique_name(wanted),
                "kind": probed.kind,
                "format": probed.format,
                "arch": probed.arch,
                "base_label": base_label or describe.derive_base_label(metadata, side),
                "rank": probed.rank,
                "ranks": probed.ranks,
                "alpha": probed.alpha,
                "scale": probed.scale,
                "modules": probed.modules,
                "dtype": probed.dtype,
                "size": stat.st_size,
                "sha256": hashes.sha256 if hashes else None,
                "triggers": _merge(triggers, describe.derive_triggers(metadata, side, probed.tokens)),
                "description": description or describe.derive_description(metadata, side),
                "preferred_weight": describe.preferred_weight(metadata, side),
                "source": source or str(path),
                "path": str(blob if blob else path),
                "stored": blob is not None,
                "usable": probed.usable,
                "note": "; ".join([*([probed.note] if probed.note else []), *side.problems]) or None,
                "metadata": metadata,
                "sidecars": side.raw,
                "evidence": probed.evidence,
                "recipe": recipe,
                "created_at": describe.derive_created_at(metadata, path),
                "imported_at": now(),
            }
            reg.insert_adapter(row)
            if hashes:
                reg.set_hashes(adapter_id, hashes)
            reg.set_tags(adapter_id, _merge(tags, describe.derive_tags(metadata, side)))
            if source is None or source == str(path):  # outputs of hub itself live in temp files
                reg.add_location(adapter_id, str(path))
            for preview in side.previews:
                reg.add_preview(adapter_id, str(_keep_preview(preview, paths)), str(preview))
            _write_lineage(reg, adapter_id, lineage)
            reg.reindex(adapter_id)
        added = adapter_from_row(reg.adapter_row(adapter_id), reg.tags(adapter_id))
        return AddOutcome(path=str(path), status="added", adapter=added)


def _duplicate(
    reg: Registry,
    existing: str,
    path: Path,
    source: str | None,
    lineage: Sequence[ParentLink],
    recipe: dict[str, Any] | None,
    *,
    in_transaction: bool = False,
) -> AddOutcome:
    def record() -> None:
        if source is None or source == str(path):
            reg.add_location(existing, str(path))
        # An output rebuilt from the same recipe lands on the same bytes: keep its history once.
        if lineage and not reg.lineage(child_id=existing):
            _write_lineage(reg, existing, lineage)
        if recipe and reg.adapter_row(existing)["recipe"] is None:
            reg.update_adapter(existing, recipe=recipe)

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


def _keep_preview(preview: Path, paths: Paths) -> Path:
    """Copy a preview image into the home, named by its content so re-imports do not pile up copies."""
    import hashlib

    digest = hashlib.sha256(preview.read_bytes()).hexdigest()
    target = paths.previews / f"{digest[:16]}{preview.suffix.lower()}"
    if not target.exists():
        paths.previews.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        shutil.copyfile(preview, tmp)
        os.replace(tmp, target)
    return target


def _merge(first: Sequence[str], second: Sequence[str]) -> list[str]:
    out: list[str] = []
    for item in [*first, *second]:
        if item and item not in out:
            out.append(item)
    return out


# -- reading -------------------------------------------------------------------------------------
SORTS = {
    "name": "name COLLATE NOCASE",
    "size": "size DESC, name",
    "imported": "imported_at DESC, name",
    "created": "created_at DESC, name",
    "rank": "rank DESC, name",
    "arch": "arch, name COLLATE NOCASE",
    "kind": "kind, name COLLATE NOCASE",
}


def ls_json(
    query: str | None = None,
    *,
    arch: str | None = None,
    kind: str | None = None,
    format: str | None = None,
    tag: str | None = None,
    base: str | None = None,
    remote: str | None = None,
    sort: str = "name",
    limit: int | None = None,
    settings: Settings | None = None,
) -> str:
    """:func:`ls` already serialised: a JSON array of Adapter objects, built by SQLite (fast for scripts)."""
    filters = _ls_filters(arch=arch, kind=kind, format=format, tag=tag, base=base, remote=remote, sort=sort)
    with open_registry(settings) as reg:
        return reg.list_adapters_json(query=query, filters=filters, order_by=SORTS[sort], limit=limit)


def ls(
    query: str | None = None,
    *,
    arch: str | None = None,
    kind: str | None = None,
    format: str | None = None,
    tag: str | None = None,
    base: str | None = None,
    remote: str | None = None,
    sort: str = "name",
    limit: int | None = None,
    settings: Settings | None = None,
) -> list[Adapter]:
    filters = _ls_filters(arch=arch, kind=kind, format=format, tag=tag, base=base, remote=remote, sort=sort)
    with open_registry(settings) as reg:
        return reg.list_adapters(query=query, filters=filters, order_by=SORTS[sort], limit=limit)


def _ls_filters(
    *,
    arch: str | None,
    kind: str | None,
    format: str | None,
    tag: str | None,
    base: str | None,
    remote: str | None,
    sort: str,
) -> list[tuple[str, Sequence[Any]]]:
    if sort not in SORTS:
        raise UsageError(f"unknown sort '{sort}'", hint=f"one of: {', '.join(SORTS)}")
    filters: list[tuple[str, Sequence[Any]]] = []
    if arch:
        filters.append(("arch = ?", [arch.lower()]))
    if kind:
        # LyCORIS files are low-rank adapters too (kind "lora"); "lycoris" selects them by format.
        filters.append(("format LIKE 'lycoris-%'", []) if kind == "lycoris" else ("kind = ?", [kind]))
    if format:
        filters.append(("format = ?", [format]))
    if tag:
        filters.append(("id IN (SELECT adapter_id FROM tags WHERE tag = ?)", [tag.lower()]))
    if base:
        filters.append(("(base_label LIKE ? OR arch = ?)", [f"%{base}%", base.lower()]))
    if remote:
        filters.append(("id IN (SELECT adapter_id FROM remotes WHERE repo LIKE ?)", [f"%{remote}%"]))
    return filters


def resolve(ref: str, *, settings: Settings | None = None) -> AdapterDetail:
    """An adapter by name, id, hash prefix (sha256, AutoV2, AutoV3, BLAKE3, CRC32) or file path."""
    with open_registry(settings) as reg:
        ids = reg.find_ids(ref)
        if len(ids) > 1:
            names = [reg.adapter_row(i)["name"] for i in ids[:5]]
            raise AmbiguousError(
                f"'{ref}' matches {len(ids)} adapters: {', '.join(names)}", hint="use a longer prefix or the id"
            )
        if ids:
            return _detail(reg, ids[0])
    path = Path(ref).expanduser()
    if path.is_file():
        return _unregistered(path)
    raise NotFoundError(f"no adapter '{ref}' in the registry", hint="`hub ls` lists them; a file path works too")


def show(ref: str, *, settings: Settings | None = None) -> AdapterDetail:
    return resolve(ref, settings=settings)


def _detail(reg: Registry, adapter_id: str) -> AdapterDetail:
    import json

    row = reg.adapter_row(adapter_id)
    base = adapter_from_row(row, reg.tags(adapter_id)).model_dump()
    return AdapterDetail(
        **base,
        hashes=reg.hashes(adapter_id),
        metadata=json.loads(row["metadata"]),
        sidecars=json.loads(row["sidecars"]),
        previews=reg.previews(adapter_id),
        locations=reg.locations(adapter_id),
        parents=reg.lineage(child_id=adapter_id),
        children=reg.lineage(parent_id=adapter_id),
        remotes=reg.remotes(adapter_id),
        recipe=json.loads(row["recipe"]) if row["recipe"] else None,
        evidence=json.loads(row["evidence"]),
    )


def _unregistered(path: Path) -> AdapterDetail:
    probed = _probe_for_registry(path)
    return AdapterDetail(
        id="",
        name=path.stem,
        kind=probed.kind,
        format=probed.format,
        arch=probed.arch,
        rank=probed.rank,
        ranks=probed.ranks,
        alpha=probed.alpha,
        scale=probed.scale,
        modules=probed.modules,
        dtype=probed.dtype,
        size=path.stat().st_size,
        source=str(path.absolute()),
        path=str(path.absolute()),
        stored=False,
        usable=probed.usable,
        note=probed.note,
        metadata=probed.metadata,
        evidence=probed.evidence,
    )


# -- changing ------------------------------------------------------------------------------------
def tag(ref: str, changes: Sequence[str], *, settings: Settings | None = None) -> Adapter:
    """Apply ``+tag`` / ``-tag`` changes (a bare word adds)."""
    add_tags = [c.lstrip("+").strip().lower() for c in changes if not c.startswith("-")]
    remove_tags = [c[1:].strip().lower() for c in changes if c.startswith("-")]
    if not [t for t in add_tags + remove_tags if t]:
        raise UsageError("no tags given", hint="hub tag NAME +style -old")
    adapter = _registered(ref, settings)
    with open_registry(settings) as reg:
        with reg.transaction():
            reg.set_tags(adapter.id, [t for t in add_tags if t], [t for t in remove_tags if t])
            reg.reindex(adapter.id)
        return adapter_from_row(reg.adapter_row(adapter.id), reg.tags(adapter.id))


def rm(ref: str, *, settings: Settings | None = None) -> Adapter:
    """Remove the row (children keep their lineage, pointing at nothing) and collect unreferenced blobs."""
    adapter = _registered(ref, settings)
    paths = _paths(settings)
    with open_registry(settings) as reg:
        with reg.transaction():
            reg.delete_adapter(adapter.id)
        store.garbage_collect(paths, reg.paths_in_use())
    return adapter


def record_remote(adapter_id: str, ref: RemoteRef, *, settings: Settings | None = None) -> None:
    with open_registry(settings) as reg, reg.transaction():
        if reg.adapter_row(adapter_id) is None:
            raise NotFoundError(f"no adapter with id '{adapter_id}'")
        reg.add_remote(adapter_id, ref)


def _registered(ref: str, settings: Settings | None) -> AdapterDetail:
    adapter = resolve(ref, settings=settings)
    if not adapter.id:
        raise NotFoundError(f"'{ref}' is a file, not a registered adapter", hint=f"hub add {ref}")
    return adapter


# -- checking ------------------------------------------------------------------------------------
def verify(
    ref: str | None = None, *, progress: Progress | None = None, settings: Settings | None = None
) -> list[VerifyResult]:
    """Rehash files and compare with the registry; unhashed (--no-hash) rows get their hashes now."""
    with open_registry(settings) as reg:
        if ref:
            ids = [_registered(ref, settings).id]
        else:
            ids = [r[0] for r in reg.conn.execute("SELECT id FROM adapters ORDER BY name COLLATE NOCASE")]
        results = []
        for i, adapter_id in enumerate(ids):
            row = reg.adapter_row(adapter_id)
            if progress:
                progress(row["name"], i, len(ids))
            results.append(_verify_row(reg, row))
        if progress:
            progress("", len(ids), len(ids))
        return results


def _verify_row(reg: Registry, row: Any) -> VerifyResult:
    path = Path(row["path"])
    base = {"adapter_id": row["id"], "name": row["name"], "path": str(path), "expected_sha256": row["sha256"]}
    if not path.is_file():
        return VerifyResult(status="missing", **base)
    hashes = hash_file(path)
    if row["sha256"] is None:
        with reg.transaction():
            reg.update_adapter(row["id"], sha256=hashes.sha256)
            reg.set_hashes(row["id"], hashes)
        return VerifyResult(status="unhashed", actual_sha256=hashes.sha256, **base)
    status = "ok" if hashes.sha256 == row["sha256"] else "changed"
    return VerifyResult(status=status, actual_sha256=hashes.sha256, **base)


def dupes(*, settings: Settings | None = None) -> list[DupeGroup]:
    """Same bytes under several rows (unhashed imports hashed later), same tensors under different headers
    (equal AutoV3: e.g. metadata edited by a UI), and one row seen at several paths."""
    groups: list[DupeGroup] = []
    with open_registry(settings) as reg:
        tags = reg._tags_by_id()
        for algo in ("sha256", "autov3"):
            sql = (
                "SELECT value, group_concat(adapter_id) FROM hashes WHERE algo = ? GROUP BY value "
                "HAVING count(*) > 1 ORDER BY value"
            )
            for value, ids in reg.conn.execute(sql, (algo,)).fetchall():
                adapters = [adapter_from_row(reg.adapter_row(i), tags.get(i, [])) for i in ids.split(",")]
                paths = sorted({p for i in ids.split(",") for p in reg.locations(i)})
                groups.append(DupeGroup(by=algo, value=value, adapters=adapters, paths=paths))
        seen_sha = {g.value for g in groups if g.by == "sha256"}
        sql = "SELECT adapter_id FROM locations GROUP BY adapter_id HAVING count(*) > 1"
        for (adapter_id,) in reg.conn.execute(sql).fetchall():
            row = reg.adapter_row(adapter_id)
            if row["sha256"] in seen_sha:
                continue
            groups.append(
                DupeGroup(
                    by="sha256",
                    value=row["sha256"] or "",
                    adapters=[adapter_from_row(row, tags.get(adapter_id, []))],
                    paths=reg.locations(adapter_id),
                )
            )
    return groups


def images_of(adapter: AdapterDetail) -> list[Path]:
    return [Path(p.path) for p in adapter.previews if Path(p.path).suffix.lower() in IMAGE_EXTENSIONS]
