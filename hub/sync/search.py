"""``search``: LoRA repos on the Hub matching a query, through huggingface_hub's ``list_models``."""

from __future__ import annotations

from typing import Any

from hub.errors import RemoteError, UsageError
from hub.sync import client
from hub.sync.results import RemoteModel

# The Hub tag that narrows a search to one architecture (cards written by diffusers' scripts carry these).
ARCH_TAGS = {"sd1": "stable-diffusion", "sd2": "stable-diffusion", "sdxl": "stable-diffusion-xl", "flux": "flux"}
_BASE_HINTS = (("xl", "sdxl"), ("flux", "flux"), ("stable-diffusion-2", "sd2"), ("v1-5", "sd1"), ("v1-4", "sd1"))


def arch_of(tags: list[str], base_model: str | None) -> str:
    if "stable-diffusion-xl" in tags or "stable-diffusion-xl-diffusers" in tags:
        return "sdxl"
    if "flux" in tags or "flux-diffusers" in tags:
        return "flux"
    base = (base_model or "").lower()
    for needle, arch in _BASE_HINTS:
        if needle in base:
            return arch
    if "stable-diffusion" in tags or "stable-diffusion-diffusers" in tags:
        return "sd1"
    return "unknown"


def _base_model(card: Any) -> str | None:
    value = card.get("base_model") if card else None
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value else None


def search(query: str, *, arch: str | None = None, limit: int = 20) -> list[RemoteModel]:
    if arch is not None and arch not in ARCH_TAGS:
        raise UsageError(f"unknown arch {arch!r}", hint="one of: " + ", ".join(ARCH_TAGS))
    if limit < 1:
        raise UsageError("--limit must be at least 1")
    if client.offline_env():
        raise RemoteError("search needs the Hub, and HF_HUB_OFFLINE=1 is set", hint="unset HF_HUB_OFFLINE")
    filters = ["lora"] + ([ARCH_TAGS[arch]] if arch else [])
    api = client.api()
    out: list[RemoteModel] = []
    with client.remote_errors("search"):
        # Fetch a little more than asked: SD1 and SD2 share a tag and are told apart afterwards.
        models = api.list_models(
            search=query or None, filter=filters, limit=limit * 2, cardData=True, sort="downloads"
        )
        for m in models:
            tags = list(m.tags or [])
            card = m.card_data.to_dict() if m.card_data is not None else {}
            base = _base_model(card)
            found = arch_of(tags, base)
            if arch is not None and found not in (arch, "unknown"):
                continue
            last = m.last_modified.isoformat() if m.last_modified else None
            trigger = card.get("instance_prompt")
            out.append(
                RemoteModel(
                    id=m.id,
                    author=m.author,
                    arch=found,
                    base_model=base,
                    trigger=trigger if isinstance(trigger, str) else None,
                    tags=tags,
                    downloads=m.downloads,
                    likes=m.likes,
                    last_modified=last,
                    private=m.private,
                    url=f"{client.endpoint()}/{m.id}",
                )
            )
            if len(out) >= limit:
                break
    return out
