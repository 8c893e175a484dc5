"""The registry's verbs: add, import_dir, ls, show, tag, rm, verify, dupes, gallery (``hub <verb>``).

Every function returns typed models from :mod:`hub.models` and raises :class:`hub.errors.HubError`
subclasses; the CLI (``cli/commands/registry.py``) only prints what these return. None of this imports torch.
Adding files lives in :mod:`hub.registry.ingest`, drawing the contact sheet in :mod:`hub.registry.gallery`;
both are reached through the verbs here.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.context import Context, using
from hub.errors import AmbiguousError, ConflictError, NotFoundError, UsageError
from hub.registry import store
from hub.registry.db import Registry, adapter_from_row
from hub.registry.hashing import hash_file
from hub.registry.query import ListQuery

if TYPE_CHECKING:
    from hub.models import (
        Adapter,
        AdapterDetail,
        DupeGroup,
        GalleryResult,
        LinkResult,
        Progress,
        RemoteRef,
        Removed,
        VerifyResult,
    )

    # What __getattr__ below loads on first use, named here for type checkers and readers.
    from hub.registry.browse import (  # noqa: F401
        SOURCE_KINDS,
        BrowsePage,
        adapter_names,
        browse,
        find_id,
        names_by_id,
        preview_paths,
    )
    from hub.registry.civitai_rows import (  # noqa: F401
        CivitaiImage,
        CivitaiTarget,
        civitai_targets,
        record_civitai,
        record_civitai_unknown,
    )
    from hub.registry.civitai_text import nsfw_label, plain_text, sanitise_html  # noqa: F401
    from hub.registry.edit import add_preview, set_tags, set_triggers  # noqa: F401
    from hub.registry.ingest import (  # noqa: F401
        ADAPTER_EXTENSIONS,
        add,
        add_one,
        find_adapter_files,
        import_dir,
        probe,
    )

# The registry's API is this one module, but its verbs live in several: these are loaded on first use, so that
# `hub ls --json` (which needs none of them, nor pydantic's result models) starts in a fraction of the time.
_REEXPORTED = {
    "hub.registry.browse": ("SOURCE_KINDS", "BrowsePage", "adapter_names", "browse", "find_id", "names_by_id",
                            "preview_paths"),
    "hub.registry.civitai_rows": ("CivitaiImage", "CivitaiTarget", "civitai_targets", "record_civitai",
                                  "record_civitai_unknown"),
    "hub.registry.civitai_text": ("nsfw_label", "plain_text", "sanitise_html"),
    "hub.registry.edit": ("add_preview", "set_tags", "set_triggers"),
    "hub.registry.ingest": ("ADAPTER_EXTENSIONS", "add", "add_one", "find_adapter_files", "import_dir", "probe"),
}  # fmt: skip
_HOME_OF = {name: module for module, names in _REEXPORTED.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


# -- reading -------------------------------------------------------------------------------------
def ls(query: str | ListQuery | None = None, *, ctx: Context | None = None, **fields: Any) -> list[Adapter]:
    """Registered adapters matching ``query``: ``ls("anime", arch="sdxl", sort="size")`` (the keywords are
    :class:`~hub.registry.query.ListQuery`'s fields: arch, kind, format, tag, base, remote, sort, limit) or
    ``ls(ListQuery(...))``."""
    q = ListQuery.of(query, **fields)
    with using(ctx) as c:
        return c.registry.list_adapters(query=q.text, filters=q.filters(), order_by=q.order_by, limit=q.limit)


def ls_json(query: str | ListQuery | None = None, *, ctx: Context | None = None, **fields: Any) -> str:
    """:func:`ls` already serialised: a JSON array of Adapter objects, built by SQLite (fast for scripts)."""
    q = ListQuery.of(query, **fields)
    with using(ctx) as c:
        return c.registry.list_adapters_json(query=q.text, filters=q.filters(), order_by=q.order_by, limit=q.limit)


def resolve(ref: str, *, ctx: Context | None = None) -> AdapterDetail:
    """An adapter by name, id, hash prefix (sha256, AutoV2, AutoV3, BLAKE3, CRC32) or file path."""
    with using(ctx) as c:
        reg = c.registry
        ids = reg.find_ids(ref)
        if len(ids) > 1:
            names = [reg.adapter_row(i)["name"] for i in ids[:5]]
            raise AmbiguousError(
                f"'{ref}' matches {len(ids)} adapters: {', '.join(names)}", hint="use a longer prefix or the id"
            )
        if ids:
            return _detail(reg, ids[0])
        names = [row[0] for row in reg.conn.execute("SELECT name FROM adapters")]
    path = Path(ref).expanduser()
    if path.is_file():
        return _unregistered(path)
    raise NotFoundError(f"no adapter '{ref}' in the registry", hint=_did_you_mean(ref, names))


def _did_you_mean(ref: str, names: list[str]) -> str:
    """The registered names closest to a misspelt one, else where to look."""
    import difflib

    close = difflib.get_close_matches(ref, names, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(f"'{n}'" for n in close) + "? (`hub ls` lists them)"
    return "`hub ls` lists them; a file path works too"


def show(ref: str, *, ctx: Context | None = None) -> AdapterDetail:
    return resolve(ref, ctx=ctx)


def _detail(reg: Registry, adapter_id: str) -> AdapterDetail:
    from hub.models import AdapterDetail
    from hub.registry.civitai_rows import civitai_info

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
        civitai=civitai_info(reg, adapter_id),
    )


def _unregistered(path: Path) -> AdapterDetail:
    from hub.models import AdapterDetail
    from hub.registry.ingest import _probe_for_registry

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
def tag(ref: str, changes: Sequence[str], *, ctx: Context | None = None) -> Adapter:
    """Apply ``+tag`` / ``-tag`` changes (a bare word adds)."""
    add_tags = [c.lstrip("+").strip().lower() for c in changes if not c.startswith("-")]
    remove_tags = [c[1:].strip().lower() for c in changes if c.startswith("-")]
    if not [t for t in add_tags + remove_tags if t]:
        raise UsageError("no tags given", hint="hub tag NAME +style -old")
    with using(ctx) as c:  # one connection: find the row, change it, read it back
        reg = c.registry
        adapter = _registered(ref, c)
        with reg.transaction():
            reg.set_tags(adapter.id, [t for t in add_tags if t], [t for t in remove_tags if t])
            reg.reindex(adapter.id)
        return adapter_from_row(reg.adapter_row(adapter.id), reg.tags(adapter.id))


def rm(ref: str, *, force: bool = False, ctx: Context | None = None) -> Removed:
    """Remove the row and collect unreferenced blobs. An entry other entries were made from is refused unless
    ``force``: their lineage keeps its name and their rebuild commands its SHA256 prefix, which need its bytes."""
    from hub.models import Adapter, Removed

    with using(ctx) as c:
        reg = c.registry
        adapter = _registered(ref, c)
        with reg.transaction():
            children = _children_names(reg, adapter.id)
            if children and not force:
                raise ConflictError(
                    f"'{adapter.name}' is a parent of {len(children)} "
                    f"entr{'y' if len(children) == 1 else 'ies'}: {', '.join(children)}",
                    hint=f"their rebuild commands read its bytes (SHA256 {(adapter.sha256 or '?')[:12]}); "
                    f"`hub rm {adapter.name} --force` removes it anyway",
                )
            reg.delete_adapter(adapter.id)
        store.garbage_collect(c.paths, reg.owned_hashes())
    return Removed(**adapter.model_dump(include=set(Adapter.model_fields)), children=children)


def _children_names(reg: Registry, adapter_id: str) -> list[str]:
    names = []
    for edge in reg.lineage(parent_id=adapter_id):
        row = reg.find_adapter_row(edge.child_id)
        if row is not None and row["name"] not in names:
            names.append(row["name"])
    return sorted(names)


def record_remote(adapter_id: str, ref: RemoteRef, *, ctx: Context | None = None) -> None:
    with using(ctx) as c, c.registry.transaction():
        reg = c.registry
        if reg.find_adapter_row(adapter_id) is None:
            raise NotFoundError(f"no adapter with id '{adapter_id}'")
        reg.add_remote(adapter_id, ref)


def _registered(ref: str, ctx: Context) -> AdapterDetail:
    adapter = resolve(ref, ctx=ctx)
    if not adapter.id:
        raise NotFoundError(f"'{ref}' is a file, not a registered adapter", hint=f"hub add {ref}")
    return adapter


# -- checking ------------------------------------------------------------------------------------
def verify(
    ref: str | None = None,
    *,
    collect: bool = False,
    search: Sequence[str | Path] = (),
    progress: Progress | None = None,
    ctx: Context | None = None,
) -> list[VerifyResult]:
    """Rehash files and compare with the registry; unhashed (--no-hash) rows get their hashes now. A missing or
    damaged file is looked for by its SHA256 (the store, where its bytes were seen, the ``search`` folders) and the
    entry repaired when found (status ``repaired``, ``note`` says how).

    Without ``ref``, stored bytes whose hash no entry has are reported as ``orphan``; ``collect=True`` removes them
    (never bytes an entry has the hash of, missing or not)."""
    from hub.registry.repair import Finder, repair

    folders = [Path(f).expanduser() for f in search]
    for folder in folders:
        if not folder.is_dir():
            raise NotFoundError(f"no such folder: {folder}", hint="--search names a folder to look for files in")
    with using(ctx) as c:
        reg = c.registry
        if collect or folders:
            reg.require_writable()
        if ref:
            ids = [_registered(ref, c).id]
        else:
            ids = [r[0] for r in reg.conn.execute("SELECT id FROM adapters ORDER BY name COLLATE NOCASE")]
        finder = Finder(reg, c.paths, folders)
        results = []
        for i, adapter_id in enumerate(ids):
            row = reg.adapter_row(adapter_id)
            if progress:
                progress(i, len(ids))
            result = _verify_row(reg, row)
            if result.status in ("missing", "changed"):
                result = repair(reg, c.paths, row, result, finder)
            results.append(result)
        if progress:
            progress(len(ids), len(ids))
        if collect:  # after the repairs: they may have taken bytes from the store
            store.garbage_collect(c.paths, reg.owned_hashes())
        if not ref:
            results.extend(_orphans(c))
        return results


def _orphans(ctx: Context) -> list[VerifyResult]:
    """Stored bytes whose hash no entry has (a crash between storing and registering): nobody owns or could own
    them. Bytes with an entry's hash are that entry's, even while it is missing."""
    from hub.models import VerifyResult

    owned = ctx.registry.owned_hashes()
    return [
        VerifyResult(adapter_id="", name="(no entry)", path=str(b), status="orphan", actual_sha256=b.name)
        for b in store.blobs(ctx.paths)
        if b.name not in owned
    ]


def _verify_row(reg: Registry, row: Any) -> VerifyResult:
    from hub.models import VerifyResult

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
    return VerifyResult(
        status="ok" if hashes.sha256 == row["sha256"] else "changed", actual_sha256=hashes.sha256, **base
    )


def dupes(*, ctx: Context | None = None) -> list[DupeGroup]:
    """Same bytes under several rows (unhashed imports hashed later), same tensors under different headers
    (equal AutoV3: e.g. metadata edited by a UI), and one row seen at several paths."""
    from hub.models import DupeGroup

    groups: list[DupeGroup] = []
    with using(ctx) as c:
        reg = c.registry
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


# -- looking ---------------------------------------------------------------------------------------
def gallery(
    out: str | Path,
    query: str | None = None,
    *,
    arch: str | None = None,
    kind: str | None = None,
    tag: str | None = None,
    columns: int = 6,
    thumb: int = 192,
    ctx: Context | None = None,
) -> GalleryResult:
    """Draw the previews of the adapters ``hub ls`` would list into one PNG at ``out``."""
    from hub.registry.gallery import draw_sheet

    with using(ctx) as c:  # one connection for the list and every adapter's previews
        adapters = ls(query, arch=arch, kind=kind, tag=tag, ctx=c)
        if not adapters:
            raise NotFoundError("no adapters match", hint="`hub ls` with the same filters shows what is there")
        found = {a.id: c.registry.previews(a.id) for a in adapters}
        blurred = _blurred_covers(c, found)
    previews = {adapter_id: [p.path for p in shown] for adapter_id, shown in found.items()}
    return draw_sheet(adapters, previews, out, columns=columns, thumb=thumb, blurred=blurred)


def _blurred_covers(ctx: Context, previews: dict[str, list[Any]]) -> set[str]:
    """Adapters whose cover is above the NSFW blur setting: its Civitai level, else R for an NSFW adapter."""
    from hub.registry.query import NSFW_IDS_SQL, NSFW_LEVEL_R

    nsfw = {r[0] for r in ctx.registry.conn.execute(NSFW_IDS_SQL)}
    above = ctx.settings.nsfw_blur_above
    return {
        adapter_id
        for adapter_id, shown in previews.items()
        if shown and (shown[0].nsfw_level or (NSFW_LEVEL_R if adapter_id in nsfw else 0)) > above
    }


# -- your UIs' folders -------------------------------------------------------------------------------
def link(
    folder: str | Path,
    query: str | ListQuery | None = None,
    *,
    ui: str | None = None,
    ctx: Context | None = None,
    **fields: Any,
) -> LinkResult:
    """Lay out the adapters ``hub ls`` would list (``query`` and ``fields`` as :func:`ls`) in ``folder`` for
    A1111/Forge and ComfyUI (``ui``: "a1111", "comfyui" or None for both): hard links (symlinks across file
    systems) named by adapter name, with the sidecars they read. Run it again to bring the folder up to date: it
    changes only the files it made, and says when nothing changed."""
    from hub.registry.link import link_folder

    q = ListQuery.of(query, **fields)
    target = Path(folder).expanduser().absolute()
    with using(ctx) as c:
        home = c.paths.home.absolute()
        if target == home or target.is_relative_to(home):
            raise UsageError(
                f"{target} is inside the registry's home", hint="link into a folder of its own, e.g. ~/lorahub-ui"
            )
        adapters = c.registry.list_adapters(query=q.text, filters=q.filters(), order_by=q.order_by, limit=q.limit)
        return link_folder(target, adapters, c.registry, ui)
