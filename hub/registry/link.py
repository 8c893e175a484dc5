"""``hub link DIR``: the registry (or a query's result) as a folder A1111/Forge and ComfyUI read directly.

``DIR/loras/NAME.safetensors`` and ``DIR/embeddings/NAME.pt`` are hard links to the registry's bytes (symlinks where
a hard link cannot be made, e.g. another file system), never copies. Beside each, written, the sidecars those UIs
and their extensions read: ``NAME.preview.png`` (the adapter's first preview), A1111's ``NAME.json`` (its user
metadata editor's keys) and Civitai Helper's ``NAME.civitai.info``. For ComfyUI, ``DIR/extra_model_paths.yaml``
names both folders. What was made is recorded in ``DIR/.lorahub-link.json`` (:mod:`hub.registry.link_manifest`): a
second run changes nothing, and only files of that record that are still as made are replaced or removed.
"""

from __future__ import annotations

import errno
import json
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from hub.errors import UsageError
from hub.models import Adapter, LinkedFile, LinkResult
from hub.registry.db import Registry
from hub.registry.describe import ADAPTER_EXTENSIONS
from hub.registry.link_manifest import Made, content_sha256, read_manifest, write_atomically, write_manifest

UIS = ("a1111", "comfyui")
SUBFOLDER = {"lora": "loras", "embedding": "embeddings"}  # A1111: --lora-dir / --embeddings-dir; ComfyUI: the yaml
# A1111's SdVersion names (extensions-builtin/Lora/network.py); anything else is "Unknown", which A1111 never hides.
SD_VERSION = {"sd1": "SD1", "sd2": "SD2", "sdxl": "SDXL"}
COMFYUI_PATHS = "extra_model_paths.yaml"
# Hard links cannot be made here (another file system, no hard links, too many links, not allowed): a symlink.
_NO_HARDLINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES}


@dataclass(frozen=True)
class Wanted:
    """One file the folder should hold: a link to ``target``, or ``data`` written."""

    rel: str
    role: Literal["lora", "embedding", "preview", "a1111", "civitai", "comfyui-paths"]
    adapter: Adapter | None
    target: Path | None = None
    data: bytes | None = None


def link_folder(folder: Path, adapters: Sequence[Adapter], reg: Registry, ui: str | None) -> LinkResult:
    if ui is not None and ui not in UIS:
        raise UsageError(f"unknown UI '{ui}'", hint="--for a1111 or --for comfyui (default: both)")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder", hint="hub link takes the folder to lay out")
    folder = folder.absolute()
    folder.mkdir(parents=True, exist_ok=True)
    made = read_manifest(folder)
    record: dict[str, Made] = {}  # what the record will say: files made now, or earlier and still ours
    files: list[LinkedFile] = []

    wanted: list[Wanted] = []
    for adapter, stem in _file_stems(adapters, made):
        wanted.extend(_wanted_for(adapter, stem, reg, ui))
    if ui in (None, "comfyui"):
        wanted.append(Wanted(COMFYUI_PATHS, "comfyui-paths", None, data=_comfyui_paths(folder)))

    blocked_adapters: set[str] = set()
    for w in wanted:
        before = made.get(w.rel)
        if w.adapter is not None and w.adapter.id in blocked_adapters:
            # its own file is missing or not ours: no sidecars beside someone else's file; earlier ones stay
            if before is not None and before.is_still_there(folder / w.rel):
                record[w.rel] = before
            continue
        entry, status, note = _apply(folder, w, before)
        if entry is not None:
            record[w.rel] = entry
        if status in ("blocked", "missing") and w.role in ("lora", "embedding") and w.adapter is not None:
            blocked_adapters.add(w.adapter.id)
        files.append(_result(w, status, entry.how if entry else None, note))

    wanted_rels = {w.rel for w in wanted}
    for rel, entry in sorted(made.items()):
        if rel in wanted_rels:
            continue
        path = folder / rel
        if entry.is_still_there(path):
            path.unlink()
            files.append(_stale(rel, entry, reg, "removed", None))
        elif os.path.lexists(path):  # changed since it was made: the user's now
            files.append(_stale(rel, entry, reg, "kept", "changed since hub link made it: left alone"))

    changed = record != made
    if changed:
        write_manifest(folder, record)
    changed = changed or any(f.status in ("created", "updated", "removed") for f in files)
    shown = ui or "both"
    return LinkResult(folder=str(folder), ui=shown, adapters=len(adapters), files=files, changed=changed)  # type: ignore[arg-type]


# -- naming -------------------------------------------------------------------------------------------
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def safe_stem(name: str) -> str:
    """A file name every system takes: no separators or characters Windows refuses, no leading dot (hidden, and
    skipped by folder scans), no reserved device names, at most 150 bytes of UTF-8."""
    text = unicodedata.normalize("NFC", name)
    text = "".join("_" if ch in '<>:"/\\|?*' or ord(ch) < 32 else ch for ch in text)
    text = text.strip().strip(".").strip() or "adapter"
    if text.split(".")[0].lower() in _RESERVED:
        text = "_" + text
    while len(text.encode()) > 150:
        text = text[:-1]
    return text


def _file_stems(adapters: Sequence[Adapter], made: dict[str, Made]) -> list[tuple[Adapter, str]]:
    """Each adapter's file stem. Names that clash once made safe, or differ only in case (one file on macOS and
    Windows), are told apart deterministically: an adapter that already holds the plain stem here keeps it (a
    prompt's ``<lora:NAME>`` keeps working when a clashing adapter arrives), then the first by (name, id); the
    others get ``-<id>``."""
    held = {(m.adapter_id, PurePosixPath(rel).stem) for rel, m in made.items() if m.role in SUBFOLDER}
    out: list[tuple[Adapter, str]] = []
    taken: set[tuple[str, str]] = set()

    def order(a: Adapter) -> tuple[bool, str, str, str]:
        stem = safe_stem(a.name)
        return ((a.id, stem) not in held, stem.casefold(), a.name, a.id)

    for adapter in sorted(adapters, key=order):
        stem = safe_stem(adapter.name)
        folder = SUBFOLDER[_role(adapter)]
        if (folder, stem.casefold()) in taken:
            stem = f"{stem}-{adapter.id}"
        taken.add((folder, stem.casefold()))
        out.append((adapter, stem))
    return out


def _role(adapter: Adapter) -> Literal["lora", "embedding"]:
    # A LoRA with bundled embeddings (pivotal tuning) is loaded as a LoRA by both UIs.
    return "embedding" if adapter.kind == "embedding" else "lora"


def _extension(adapter: Adapter) -> str:
    """The extension the UIs pick the loader by: the file's own where it has one, else read from its first bytes
    (a store blob has no extension)."""
    for candidate in (adapter.path, adapter.source):
        suffix = Path(candidate).suffix.lower()
        if suffix in ADAPTER_EXTENSIONS:
            return suffix
    try:
        with open(adapter.path, "rb") as f:
            head = f.read(9)
    except OSError:
        return ".safetensors"
    return ".safetensors" if head[8:9] == b"{" else ".pt"


# -- what each adapter brings ------------------------------------------------------------------------
def _wanted_for(adapter: Adapter, stem: str, reg: Registry, ui: str | None) -> list[Wanted]:
    role = _role(adapter)
    sub = SUBFOLDER[role]
    out = [Wanted(f"{sub}/{stem}{_extension(adapter)}", role, adapter, target=Path(adapter.path))]
    previews = [Path(p.path) for p in reg.previews(adapter.id) if Path(p.path).is_file()]
    if previews:  # the first is the card's (listed by path, the chosen one sorts first)
        # Written, not linked: Civitai Helper and A1111 extensions overwrite NAME.preview.png in place, which through a
        # link would change the registry's own copy. A few KB; a changed one is the user's from then on.
        rel = f"{sub}/{stem}.preview{previews[0].suffix.lower()}"
        out.append(Wanted(rel, "preview", adapter, data=previews[0].read_bytes()))
    if role == "lora" and ui in (None, "a1111"):
        out.append(Wanted(f"{sub}/{stem}.json", "a1111", adapter, data=_json_bytes(a1111_metadata(adapter))))
    civitai = _civitai_sidecar(reg, adapter.id)
    if civitai is not None:
        out.append(Wanted(f"{sub}/{stem}.civitai.info", "civitai", adapter, data=_json_bytes(civitai)))
    return out


def a1111_metadata(adapter: Adapter) -> dict[str, Any]:
    """A1111's ``NAME.json`` as its Lora user-metadata editor writes it (extensions-builtin/Lora/
    ui_edit_user_metadata.py): the card shows ``description``, clicking it adds ``activation text`` and
    ``<lora:NAME:preferred weight>`` (0: the default multiplier), ``sd version`` decides when it is hidden."""
    tags = f"; tags: {', '.join(adapter.tags)}" if adapter.tags else ""
    return {
        "description": adapter.description or "",
        "sd version": SD_VERSION.get(adapter.arch, "Unknown"),
        "activation text": ", ".join(adapter.triggers),
        "preferred weight": adapter.preferred_weight or 0,
        "notes": f"from sd-lora-hub: {adapter.name} ({adapter.id}), SHA256 {adapter.sha256 or '-'}{tags}",
    }


def _civitai_sidecar(reg: Registry, adapter_id: str) -> dict[str, Any] | None:
    """Civitai's model-version JSON as recorded (an imported ``.civitai.info``, or `hub civitai`'s lookup)."""
    row = reg.conn.execute("SELECT sidecars FROM adapter_documents WHERE adapter_id = ?", (adapter_id,)).fetchone()
    sidecars = json.loads(row[0]) if row and row[0] else {}
    civitai = sidecars.get("civitai")
    return civitai if isinstance(civitai, dict) and civitai else None


def _json_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=4, ensure_ascii=False) + "\n").encode()


def _comfyui_paths(folder: Path) -> bytes:
    """ComfyUI's ``extra_model_paths.yaml`` (``--extra-model-paths-config``): a group whose ``base_path`` is the
    folder; a JSON string is a valid YAML double-quoted scalar, whatever the path holds."""
    return (
        "# written by `hub link`: start ComfyUI with --extra-model-paths-config pointing at this file,\n"
        "# or copy the group into ComfyUI's own extra_model_paths.yaml\n"
        "lorahub:\n"
        f"    base_path: {json.dumps(str(folder))}\n"
        "    loras: loras/\n"
        "    embeddings: embeddings/\n"
    ).encode()


# -- making files --------------------------------------------------------------------------------------
def _apply(folder: Path, w: Wanted, before: Made | None) -> tuple[Made | None, str, str | None]:
    """Make ``w`` in ``folder`` unless it is already there; returns (what the record keeps, status, note)."""
    path = folder / w.rel
    ours = before is not None and before.is_still_there(path)
    if w.target is not None and not w.target.is_file():
        return before if ours else None, "missing", f"its file is missing ({w.target}): `hub verify` looks for it"
    if os.path.lexists(path) and not ours:
        if before is not None:
            return None, "kept", "changed since hub link made it: left alone"
        return None, "blocked", "a file of yours has this name: left alone, nothing linked"
    if ours and before is not None and _is_as_wanted(path, before, w):
        return before, "unchanged", None
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = _make(path, w)
    return entry, "updated" if ours else "created", None


def _is_as_wanted(path: Path, made: Made, w: Wanted) -> bool:
    if w.data is not None:
        return made.how == "file" and made.sha256 == content_sha256(path) == _sha(w.data)
    assert w.target is not None
    if made.how == "symlink":
        return os.readlink(path) == str(w.target.absolute())
    return made.how == "hardlink" and os.path.samestat(path.stat(), w.target.stat())


def _make(path: Path, w: Wanted) -> Made:
    adapter_id = w.adapter.id if w.adapter else None
    if w.data is not None:
        write_atomically(path, w.data)
        return Made(role=w.role, how="file", adapter_id=adapter_id, sha256=_sha(w.data))
    assert w.target is not None
    target = w.target.absolute()
    tmp = path.parent / f".lorahub-{os.getpid()}-{path.name}"
    tmp.unlink(missing_ok=True)
    try:
        os.link(target, tmp)
        how: Literal["hardlink", "symlink"] = "hardlink"
    except OSError as e:
        if e.errno not in _NO_HARDLINK:
            raise
        os.symlink(target, tmp)
        how = "symlink"
    try:
        os.replace(tmp, path)  # atomic: a UI scanning now sees the old file or the new one
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if how == "symlink":
        return Made(role=w.role, how=how, adapter_id=adapter_id, target=str(target))
    st = path.lstat()
    return Made(role=w.role, how=how, adapter_id=adapter_id, target=str(target), dev=st.st_dev, ino=st.st_ino)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _result(w: Wanted, status: str, how: str | None, note: str | None) -> LinkedFile:
    return LinkedFile(
        path=w.rel,
        role=w.role,
        adapter=w.adapter.name if w.adapter else None,
        adapter_id=w.adapter.id if w.adapter else None,
        status=status,  # type: ignore[arg-type]
        how=how,  # type: ignore[arg-type]
        note=note,
    )


def _stale(rel: str, entry: Made, reg: Registry, status: str, note: str | None) -> LinkedFile:
    row = reg.find_adapter_row(entry.adapter_id) if entry.adapter_id else None
    return LinkedFile(
        path=rel,
        role=entry.role,  # type: ignore[arg-type]
        adapter=row["name"] if row is not None else None,
        adapter_id=entry.adapter_id,
        status=status,  # type: ignore[arg-type]
        how=entry.how,
        note=note,
    )
