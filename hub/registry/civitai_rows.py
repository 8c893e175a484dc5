"""The registry's side of ``hub civitai``: which adapters to ask about, and recording what Civitai answered.

The asking (HTTP, parsing) is :mod:`hub.sync.civitai`'s; it reaches these verbs through :mod:`hub.registry.api`.
Recording is one transaction per adapter: the ``civitai`` row, the trained words added to the triggers (local ones
kept), the tags, the declared base when none was, the downloaded previews, the model-version JSON as the
``civitai`` sidecar (what Civitai Helper's ``.civitai.info`` holds), and the full-text index.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from hub.context import Context, using
from hub.errors import NotFoundError
from hub.models import CivitaiInfo, CivitaiLicense, Frozen
from hub.registry import store
from hub.registry.civitai_text import plain_text, sanitise_html
from hub.registry.db import Registry, now

_JSON_FIELDS = ("trained_words", "tags", "license", "versions")
_COLUMNS = (
    "status", "checked_at", "found_at", "lookup", "model_id", "version_id", "model_name", "version_name", "creator",
    "model_type", "base_model", "base_arch", "nsfw", "nsfw_level", "trained_words", "tags", "description", "license",
    "page_url", "download_url", "published_at", "file_size",
)  # fmt: skip


class CivitaiTarget(Frozen):
    """An adapter to look up: its hashes by algorithm (lowercase hex) and what was recorded before."""

    adapter_id: str
    name: str
    hashes: dict[str, str]
    recorded: CivitaiInfo | None = None
    versions: list[dict[str, Any]] = Field(default_factory=list)  # the model's versions when last asked
    # where its previews came from: a Civitai image URL is not fetched twice
    preview_sources: list[str] = Field(default_factory=list)


class CivitaiImage(Frozen):
    """A preview downloaded from Civitai, in a temporary file, to keep under the home's previews."""

    file: str
    url: str
    nsfw_level: int | None = None
    infotext: str | None = None


def civitai_info(reg: Registry, adapter_id: str) -> CivitaiInfo | None:
    row = reg.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM civitai WHERE adapter_id = ?", (adapter_id,)).fetchone()
    if row is None:
        return None
    values = dict(zip(_COLUMNS, row, strict=True))
    for k in ("trained_words", "tags"):
        values[k] = json.loads(values[k])
    values["license"] = CivitaiLicense(**json.loads(values["license"]))
    values["nsfw"] = bool(values["nsfw"])
    return CivitaiInfo(**values)


def civitai_targets(refs: Sequence[str] = (), *, ctx: Context | None = None) -> list[CivitaiTarget]:
    """The adapters ``refs`` name (every one when none), in ``hub ls`` order, with their hashes and records."""
    from hub.registry.api import resolve

    with using(ctx) as c:
        reg = c.registry
        if refs:
            ids: list[str] = []
            for ref in refs:
                adapter = resolve(ref, ctx=c)
                if not adapter.id:
                    raise NotFoundError(f"'{ref}' is a file, not a registered adapter", hint=f"hub add {ref}")
                if adapter.id not in ids:
                    ids.append(adapter.id)
        else:
            ids = [r[0] for r in reg.conn.execute("SELECT id FROM adapters ORDER BY name COLLATE NOCASE")]
        targets = []
        for adapter_id in ids:
            name = reg.adapter_row(adapter_id)["name"]
            hashes = dict(reg.conn.execute("SELECT algo, value FROM hashes WHERE adapter_id = ?", (adapter_id,)))
            versions = reg.conn.execute("SELECT versions FROM civitai WHERE adapter_id = ?", (adapter_id,)).fetchone()
            targets.append(
                CivitaiTarget(
                    adapter_id=adapter_id,
                    name=name,
                    hashes=hashes,
                    recorded=civitai_info(reg, adapter_id),
                    versions=json.loads(versions[0]) if versions else [],
                    preview_sources=[p.source for p in reg.previews(adapter_id) if p.source],
                )
            )
        return targets


def record_civitai_unknown(adapter_id: str, lookup: str, *, ctx: Context | None = None) -> CivitaiInfo:
    """Civitai does not know this hash (any more): a first answer is recorded as ``unknown`` with its date; a model
    found before keeps everything recorded and becomes ``gone``."""
    with using(ctx) as c:
        reg = c.registry
        with reg.transaction():
            _require(reg, adapter_id)
            checked = now()
            previous = civitai_info(reg, adapter_id)
            if previous is not None and previous.status in ("found", "gone"):
                reg.conn.execute(
                    "UPDATE civitai SET status = 'gone', checked_at = ? WHERE adapter_id = ?", (checked, adapter_id)
                )
            else:
                reg.conn.execute(
                    "INSERT OR REPLACE INTO civitai (adapter_id, status, checked_at, lookup) "
                    "VALUES (?, 'unknown', ?, ?)",
                    (adapter_id, checked, lookup),
                )
        info = civitai_info(reg, adapter_id)
        assert info is not None
        return info


def record_civitai(
    adapter_id: str,
    info: CivitaiInfo,
    *,
    document: dict[str, Any],
    versions: list[dict[str, Any]],
    images: Sequence[CivitaiImage] = (),
    ctx: Context | None = None,
) -> CivitaiInfo:
    """Record a found model version (``info``), its JSON ``document`` (the ``civitai`` sidecar), the model's
    ``versions`` and the downloaded ``images``. Civitai's description, as text, becomes the entry's when it has
    none."""
    with using(ctx) as c:
        reg = c.registry
        with reg.transaction():
            row = _require(reg, adapter_id)
            values = info.model_dump(include=set(_COLUMNS))
            if info.description:  # whoever made `info`, what is stored is inert
                values["description"] = sanitise_html(info.description)
            values["license"] = info.license.model_dump()
            values["versions"] = versions
            encoded = {k: json.dumps(v) if k in _JSON_FIELDS else v for k, v in values.items()}
            columns = ["adapter_id", *encoded]
            reg.conn.execute(
                f"INSERT OR REPLACE INTO civitai ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [adapter_id, *encoded.values()],
            )
            triggers = json.loads(row["triggers"] or "[]")
            triggers += [w for w in info.trained_words if w not in triggers]
            changes: dict[str, Any] = {"triggers": triggers}
            if not row["base_label"] and info.base_model:
                changes["base_label"] = info.base_model
            if not row["description"] and values["description"]:
                changes["description"] = plain_text(values["description"])
            reg.update_adapter(adapter_id, **changes)
            reg.set_tags(adapter_id, [t.lower() for t in info.tags if t.strip()])
            sidecars = json.loads(row["sidecars"] or "{}")
            sidecars["civitai"] = document
            reg.conn.execute(
                "UPDATE adapter_documents SET sidecars = ? WHERE adapter_id = ?", (json.dumps(sidecars), adapter_id)
            )
            first = not reg.previews(adapter_id)
            for i, image in enumerate(images):
                kept = store.keep_preview(Path(image.file), c.paths, first=first and i == 0)
                reg.add_preview(adapter_id, str(kept), image.url, nsfw_level=image.nsfw_level, infotext=image.infotext)
            reg.reindex(adapter_id)
        recorded = civitai_info(reg, adapter_id)
        assert recorded is not None
        return recorded


def _require(reg: Registry, adapter_id: str) -> sqlite3.Row:
    row = reg.find_adapter_row(adapter_id)
    if row is None:  # removed by another process while Civitai was being asked
        raise NotFoundError(f"no adapter with id '{adapter_id}'")
    return row
