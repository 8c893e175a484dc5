"""``hub civitai``: adapters looked up on Civitai by hash, and ``--updates``: newer versions of their models.

Per adapter: ``GET model-versions/by-hash/{sha256}``, then ``GET models/{modelId}`` for tags, licence and the
other versions, then the version's preview images; all of it recorded in one transaction through
:mod:`hub.registry.api`. Parsing is :mod:`hub.sync.civitai_data`'s, HTTP :mod:`hub.sync.civitai_client`'s.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hub.context import Context, using
from hub.models import Progress
from hub.sync import civitai_data as data
from hub.sync.civitai_client import CivitaiAnswerError, CivitaiClient, CivitaiSettings
from hub.sync.results import CivitaiOutcome, CivitaiReport, CivitaiUpdate, CivitaiVersion

MAX_PREVIEWS = 4  # images kept per version: enough to recognise it, not a mirror of Civitai's gallery
MAX_IMAGE_TRIES = 8  # downloads per version at most, however many of them turn out not to be pictures
MAX_PIXELS = 64_000_000  # a "picture" bigger than this is a decompression bomb, not a preview
IMAGE_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif"}


def lookup(
    refs: Sequence[str] = (),
    *,
    refresh: bool = False,
    progress: Progress | None = None,
    client: CivitaiClient | None = None,
    ctx: Context | None = None,
) -> CivitaiReport:
    from hub.registry import api as registry

    client = client or CivitaiClient(CivitaiSettings.from_env())
    site = data.site_of(client.settings.api_url)
    outcomes: list[CivitaiOutcome] = []
    with using(ctx) as c:
        c.registry.require_writable()
        targets = registry.civitai_targets(refs, ctx=c)
        for i, target in enumerate(targets):
            if progress:
                progress(i, len(targets))
            outcomes.append(_lookup_one(target, refresh=refresh, client=client, site=site, ctx=c))
        if progress:
            progress(len(targets), len(targets))
    return CivitaiReport(outcomes=outcomes, requests=client.requests)


def _lookup_one(target: Any, *, refresh: bool, client: CivitaiClient, site: str, ctx: Context) -> CivitaiOutcome:
    from hub.registry import api as registry

    base = {"adapter_id": target.adapter_id, "name": target.name}
    if target.recorded is not None and not refresh:
        return CivitaiOutcome(status="recorded", info=target.recorded, **base)
    order = data.lookup_order(target.hashes)
    if not order:
        return CivitaiOutcome(status="skipped", error=f"not hashed yet: `hub verify {target.name}` hashes it", **base)
    algo, value = order[0]
    lookup_key = f"{algo}:{value}"
    try:
        answer = client.version_by_hash(value)
        if answer is None:
            info = registry.record_civitai_unknown(target.adapter_id, lookup_key, ctx=ctx)
            return CivitaiOutcome(status="gone" if info.status == "gone" else "unknown", info=info, **base)
        version = data.check_version(answer)
        model_answer = client.model(version["modelId"])
        model = data.check_model(model_answer, version["modelId"]) if model_answer is not None else None
    except (CivitaiAnswerError, data.BadAnswer) as e:
        return CivitaiOutcome(status="failed", error=str(e), **base)
    info = data.record(
        version,
        model,
        lookup=lookup_key,
        checked_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        site=site,
        sha256=target.hashes.get("sha256"),
        previous=target.recorded,
    )
    notes: list[str] = []
    if model is None:
        notes.append(f"model {version['modelId']} is gone from Civitai: its tags and licence are what was recorded")
    ctx.paths.tmp.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    try:
        images = _download_images(version, target.preview_sources, client, ctx.paths.tmp, files, notes)
        info = registry.record_civitai(
            target.adapter_id,
            info,
            document=data.info_document(version, model),
            versions=data.model_versions(model) or target.versions,
            images=images,
            ctx=ctx,
        )
    finally:
        for f in files:
            f.unlink(missing_ok=True)
    return CivitaiOutcome(status="found", info=info, previews=len(images), notes=notes, **base)


def _download_images(
    version: dict[str, Any], known: list[str], client: CivitaiClient, tmp: Path, files: list[Path], notes: list[str]
) -> list[Any]:
    """The version's first pictures (each checked to be one), in temporary files (listed in ``files``)."""
    from hub.registry import api as registry

    kept: list[Any] = []
    for image in data.images_of(version)[:MAX_IMAGE_TRIES]:
        url = image["url"]
        if url in known:
            continue
        if len(kept) == MAX_PREVIEWS:
            break
        try:
            body = client.image(url)
        except CivitaiAnswerError as e:
            notes.append(f"image left out ({e})")
            continue
        if body is None:
            notes.append(f"image left out: larger than {client.settings.max_image_bytes // 2**20} MiB, or not served")
            continue
        fmt = _picture_format(body)
        if fmt is None:
            notes.append("image left out: not a picture")
            continue
        fd, name = tempfile.mkstemp(dir=tmp, prefix=".civitai-", suffix=IMAGE_SUFFIXES[fmt])
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        files.append(Path(name))
        level = image.get("nsfwLevel")
        kept.append(
            registry.CivitaiImage(
                file=name,
                url=url,
                nsfw_level=level if isinstance(level, int) and not isinstance(level, bool) else None,
                infotext=data.infotext(image.get("meta"), image.get("width"), image.get("height")),
            )
        )
    return kept


def _picture_format(body: bytes) -> str | None:
    """PNG/JPEG/WEBP/GIF when Pillow reads ``body`` as one (and it is not a decompression bomb), else None."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(body)) as im:
            if im.format not in IMAGE_SUFFIXES or im.width * im.height > MAX_PIXELS:
                return None
            im.verify()
            return str(im.format)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def updates(
    refs: Sequence[str] = (),
    *,
    progress: Progress | None = None,
    client: CivitaiClient | None = None,
    ctx: Context | None = None,
) -> list[CivitaiUpdate]:
    """Adapters found on Civitai whose model has a newer version for the same base model, and what changed."""
    from hub.registry import api as registry

    client = client or CivitaiClient(CivitaiSettings.from_env())
    site = data.site_of(client.settings.api_url)
    found: list[CivitaiUpdate] = []
    with using(ctx) as c:
        targets = [t for t in registry.civitai_targets(refs, ctx=c) if t.recorded and t.recorded.model_id]
    for i, target in enumerate(targets):
        if progress:
            progress(i, len(targets))
        info = target.recorded
        assert info is not None and info.model_id is not None  # selected so above
        model_answer = client.model(info.model_id)
        if model_answer is None:
            continue  # deleted on Civitai: nothing newer will come
        try:
            model = data.check_model(model_answer, info.model_id)
        except data.BadAnswer as e:
            raise CivitaiAnswerError(f"Civitai's model {info.model_id}: {e}") from None
        newer = data.newer_versions(info, data.model_versions(model))
        if newer:
            found.append(
                CivitaiUpdate(
                    adapter_id=target.adapter_id,
                    name=target.name,
                    model_name=info.model_name,
                    version_name=info.version_name,
                    base_model=info.base_model,
                    published_at=info.published_at,
                    newer=[_what_changed(info, v, site) for v in newer],
                )
            )
    if progress:
        progress(len(targets), len(targets))
    return found


def _what_changed(info: Any, v: dict[str, Any], site: str) -> CivitaiVersion:
    words = v.get("trainedWords") or []
    return CivitaiVersion(
        version_id=v["id"],
        name=v.get("name"),
        published_at=v.get("publishedAt"),
        page_url=f"{site}/models/{info.model_id}?modelVersionId={v['id']}",
        download_url=v.get("downloadUrl"),
        size=v.get("size"),
        size_change=v["size"] - info.file_size if v.get("size") is not None and info.file_size is not None else None,
        trained_words_added=[w for w in words if w not in info.trained_words],
        trained_words_removed=[w for w in info.trained_words if w not in words],
    )
