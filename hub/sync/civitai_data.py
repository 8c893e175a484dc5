"""Civitai's answers read into what the registry records: pure functions, no I/O.

The fields are those of Civitai's public API reference (developer.civitai.com, "model-versions" and "models"): a
model-version object (``GET /api/v1/model-versions/by-hash/{hash}``) and its model (``GET /api/v1/models/{id}``),
whose tags and licence the by-hash answer lacks. An answer without the fields this needs is a
:class:`BadAnswer`; a field that is merely missing or of an odd type is left out.
"""

from __future__ import annotations

import re
from typing import Any

from hub.models import CivitaiInfo, CivitaiLicense
from hub.registry.api import sanitise_html

# Civitai's base model labels -> our arch names. Pony, Illustrious and NoobAI are SDXL fine-tunes.
_ARCH_OF_BASE = {
    "sd1": ("sd 1.4", "sd 1.5", "sd 1.5 lcm", "sd 1.5 hyper"),
    "sd2": ("sd 2.0", "sd 2.0 768", "sd 2.1", "sd 2.1 768", "sd 2.1 unclip"),
    "sdxl": ("sdxl 0.9", "sdxl 1.0", "sdxl 1.0 lcm", "sdxl distilled", "sdxl turbo", "sdxl lightning", "sdxl hyper",
             "pony", "illustrious", "noobai", "playground v2"),
    "flux": ("flux.1 d", "flux.1 s", "flux.1 krea", "flux.1 kontext"),
}  # fmt: skip
ARCH_OF_BASE = {label: arch for arch, labels in _ARCH_OF_BASE.items() for label in labels}


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # terminal escapes have no place in a word


class BadAnswer(ValueError):
    """Civitai answered, but not with what its API reference describes."""


def base_arch(label: str | None) -> str:
    """``"SDXL 1.0"`` -> ``sdxl``, ``"Pony"`` -> ``sdxl``, ``"SD 1.5"`` -> ``sd1``; anything else ``unknown``."""
    return ARCH_OF_BASE.get((label or "").strip().lower(), "unknown")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _url(value: Any) -> str | None:
    """A link to keep: http(s) only (a ``javascript:`` "download URL" would run in the detail page)."""
    text = _str(value)
    return text.strip() if text and text.strip().lower().startswith(("https://", "http://")) else None


def _words(value: Any) -> list[str]:
    out: list[str] = []
    for item in value if isinstance(value, list) else []:
        for part in str(item).split(","):
            word = _CONTROL.sub("", " ".join(part.split()))
            if word and word not in out:
                out.append(word)
    return out


def check_version(data: Any) -> dict[str, Any]:
    """A by-hash answer: a model-version object with integer ``id`` and ``modelId``."""
    if not isinstance(data, dict) or _int(data.get("id")) is None or _int(data.get("modelId")) is None:
        raise BadAnswer("not a model-version object (no id and modelId)")
    return data


def check_model(data: Any, model_id: int) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("id") != model_id:
        raise BadAnswer(f"not the model object of model {model_id}")
    return data


def primary_file(version: dict[str, Any], sha256: str | None = None) -> dict[str, Any]:
    """The version's file with our SHA256, else its primary file, else its first."""
    files = [f for f in version.get("files") or [] if isinstance(f, dict)]
    for f in files:
        hashes: dict[str, Any] = f["hashes"] if isinstance(f.get("hashes"), dict) else {}
        if sha256 and str(hashes.get("SHA256", "")).lower() == sha256.lower():
            return f
    return next((f for f in files if f.get("primary")), files[0] if files else {})


def _size(file: dict[str, Any]) -> int | None:
    kb = file.get("sizeKB")
    return round(kb * 1024) if isinstance(kb, int | float) and not isinstance(kb, bool) else None


def site_of(api_url: str) -> str:
    """Civitai's web site for an API base: ``https://civitai.com/api/v1`` -> ``https://civitai.com``."""
    return re.sub(r"/api(/v\d+)?/?$", "", api_url.rstrip("/"))


def record(
    version: dict[str, Any],
    model: dict[str, Any] | None,
    *,
    lookup: str,
    checked_at: str,
    site: str,
    sha256: str | None = None,
    previous: CivitaiInfo | None = None,
) -> CivitaiInfo:
    """What to record of a found version. ``model`` None (deleted since, or refused): the model's fields come from
    the version's ``model`` summary and what was recorded before."""
    summary: dict[str, Any] = version["model"] if isinstance(version.get("model"), dict) else {}
    m: dict[str, Any] = model or {}
    creator: dict[str, Any] = m["creator"] if isinstance(m.get("creator"), dict) else {}
    old = previous if previous is not None and previous.model_id == version["modelId"] else None
    base = _str(version.get("baseModel"))
    description = _str(m.get("description")) or _str(version.get("description"))
    file = primary_file(version, sha256)
    tags = _words(m.get("tags")) if model is not None else (old.tags if old else [])
    commercial = m.get("allowCommercialUse")
    license_ = (
        CivitaiLicense(
            commercial_use=[commercial] if isinstance(commercial, str) else _words(commercial),
            credit_required=None if not isinstance(m.get("allowNoCredit"), bool) else not m["allowNoCredit"],
            derivatives=m.get("allowDerivatives") if isinstance(m.get("allowDerivatives"), bool) else None,
            different_license=m.get("allowDifferentLicense")
            if isinstance(m.get("allowDifferentLicense"), bool)
            else None,
        )
        if model is not None
        else (old.license if old else CivitaiLicense())
    )
    return CivitaiInfo(
        status="found",
        checked_at=checked_at,
        found_at=checked_at,
        lookup=lookup,
        model_id=version["modelId"],
        version_id=version["id"],
        model_name=_str(m.get("name")) or _str(summary.get("name")) or (old.model_name if old else None),
        version_name=_str(version.get("name")),
        creator=_str(creator.get("username")) or (old.creator if old else None),
        model_type=_str(m.get("type")) or _str(summary.get("type")),
        base_model=base,
        base_arch=base_arch(base),
        nsfw=bool(m.get("nsfw", summary.get("nsfw", old.nsfw if old else False))),
        nsfw_level=_int(version.get("nsfwLevel")) or _max_image_level(version),
        trained_words=_words(version.get("trainedWords")),
        tags=tags,
        description=sanitise_html(description) if description else (old.description if old else None),
        license=license_,
        page_url=f"{site}/models/{version['modelId']}?modelVersionId={version['id']}",
        download_url=_url(file.get("downloadUrl")) or _url(version.get("downloadUrl")),
        published_at=_str(version.get("publishedAt")) or _str(version.get("createdAt")),
        file_size=_size(file),
    )


def _max_image_level(version: dict[str, Any]) -> int | None:
    levels = [_int(i.get("nsfwLevel")) for i in images_of(version)]
    found = [lv for lv in levels if lv]
    return max(found) if found else None


def info_document(version: dict[str, Any], model: dict[str, Any] | None) -> dict[str, Any]:
    """The model-version JSON as Civitai Helper's ``.civitai.info`` holds it: the by-hash answer with the model's
    tags (and description) merged into its ``model``; every description sanitised before it is stored."""
    doc = dict(version)
    summary = dict(version["model"]) if isinstance(version.get("model"), dict) else {}
    if model is not None:
        summary["tags"] = _words(model.get("tags"))
        if _str(model.get("description")):
            summary["description"] = sanitise_html(model["description"])
        for key in ("allowNoCredit", "allowCommercialUse", "allowDerivatives", "allowDifferentLicense"):
            if key in model:
                summary[key] = model[key]
    elif isinstance(summary.get("description"), str):
        summary["description"] = sanitise_html(summary["description"])
    doc["model"] = summary
    if isinstance(doc.get("description"), str):
        doc["description"] = sanitise_html(doc["description"])
    return doc


def images_of(version: dict[str, Any]) -> list[dict[str, Any]]:
    """The version's preview images with a URL (videos are left out: they are not pictures)."""
    return [
        i
        for i in version.get("images") or []
        if isinstance(i, dict) and _url(i.get("url")) and i.get("type", "image") == "image"
    ]


def infotext(meta: Any, width: Any = None, height: Any = None) -> str | None:
    """An image's generation parameters (Civitai's ``meta``) as A1111's infotext: the prompt, ``Negative prompt:``,
    then ``Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x768, ...``."""
    if not isinstance(meta, dict) or not meta:
        return None

    def clean(value: Any) -> str:
        return _CONTROL.sub(" ", str(value)).strip()

    lines = []
    if meta.get("prompt"):
        lines.append(clean(meta["prompt"]))
    if meta.get("negativePrompt"):
        lines.append("Negative prompt: " + clean(meta["negativePrompt"]))
    params = []
    for key, label in (("steps", "Steps"), ("sampler", "Sampler"), ("cfgScale", "CFG scale"), ("seed", "Seed")):
        if meta.get(key) not in (None, ""):
            params.append(f"{label}: {clean(meta[key])}")
    size = meta.get("Size") or (f"{width}x{height}" if _int(width) and _int(height) else None)
    if size:
        params.append(f"Size: {clean(size)}")
    for key, label in (("Model hash", "Model hash"), ("Model", "Model"), ("clipSkip", "Clip skip")):
        if meta.get(key) not in (None, ""):
            params.append(f"{label}: {clean(meta[key])}")
    if params:
        lines.append(", ".join(params))
    return "\n".join(lines) or None


def lookup_order(hashes: dict[str, str]) -> list[tuple[str, str]]:
    """The hashes to ask Civitai by, best first: SHA256, else AutoV2 or BLAKE3 when that is what is known."""
    return [(algo, hashes[algo]) for algo in ("sha256", "autov2", "blake3") if hashes.get(algo)][:1]


def version_summary(v: dict[str, Any]) -> dict[str, Any]:
    """What ``--updates`` compares of one version of the model (kept with the record, to say what changed)."""
    file = primary_file(v)
    return {
        "id": _int(v.get("id")),
        "name": _str(v.get("name")),
        "baseModel": _str(v.get("baseModel")),
        "publishedAt": _str(v.get("publishedAt")) or _str(v.get("createdAt")),
        "trainedWords": _words(v.get("trainedWords")),
        "size": _size(file),
        "downloadUrl": _url(file.get("downloadUrl")) or _url(v.get("downloadUrl")),
    }


def model_versions(model: dict[str, Any] | None) -> list[dict[str, Any]]:
    versions = model.get("modelVersions") if model else None
    return [version_summary(v) for v in versions or [] if isinstance(v, dict) and _int(v.get("id")) is not None]


def newer_versions(info: CivitaiInfo, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Versions of the same model, for the same base model, published after the recorded one (newest first)."""
    mine = next((v for v in versions if v["id"] == info.version_id), None)
    since = (mine or {}).get("publishedAt") or info.published_at or ""
    base = (info.base_model or "").lower()
    same_base = [v for v in versions if v["id"] != info.version_id and (v.get("baseModel") or "").lower() == base]
    return [v for v in same_base if (v.get("publishedAt") or "") > since]
