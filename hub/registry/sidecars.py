"""The files other tools leave beside an adapter, read into one :class:`SidecarInfo`.

A1111 ``<stem>.json`` (activation text, preferred weight, notes), Civitai Helper
``<stem>.civitai.info`` (Civitai's model-version JSON), Stability Matrix ``<stem>.cm-info.json``,
LoRA-Manager ``<stem>.metadata.json``, and preview images ``<stem>.<ext>`` / ``<stem>.preview.<ext>``.
A broken sidecar never blocks an import: it is reported in ``problems`` and skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
SIDECAR_SUFFIXES = {
    "a1111": ".json",
    "civitai": ".civitai.info",
    "stability_matrix": ".cm-info.json",
    "lora_manager": ".metadata.json",
}


@dataclass
class SidecarInfo:
    triggers: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    description: str | None = None
    preferred_weight: float | None = None
    base_label: str | None = None
    title: str | None = None
    previews: list[Path] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # kind -> parsed JSON
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add_triggers(self, words: Any) -> None:
        if isinstance(words, str):
            words = words.split(",")
        if isinstance(words, list):
            for w in words:
                for part in str(w).split(","):
                    part = part.strip()
                    if part and part not in self.triggers:
                        self.triggers.append(part)

    def add_tags(self, tags: Any) -> None:
        if isinstance(tags, str):
            tags = tags.split(",")
        if isinstance(tags, list):
            for t in tags:
                tag = str((t.get("name") or "") if isinstance(t, dict) else t).strip().lower()
                if tag and tag not in self.tags:
                    self.tags.append(tag)


def sidecar_paths(adapter: Path) -> dict[str, Path]:
    stem = adapter.with_suffix("")
    found = {}
    for kind, suffix in SIDECAR_SUFFIXES.items():
        p = Path(str(stem) + suffix)
        if p.is_file() and p != adapter:
            found[kind] = p
    return found


def preview_paths(adapter: Path) -> list[Path]:
    stem = str(adapter.with_suffix(""))
    out = []
    # A1111 prefers the user's own <stem>.png over a downloaded <stem>.preview.png.
    for middle in ("", ".preview"):
        for ext in IMAGE_EXTENSIONS:
            p = Path(stem + middle + ext)
            if p.is_file():
                out.append(p)
    return out


def is_sidecar_file(path: Path) -> bool:
    name = path.name.lower()
    return (
        name.endswith((".civitai.info", ".cm-info.json", ".metadata.json"))
        or name.endswith(IMAGE_EXTENSIONS)
        or name == "adapter_config.json"
        or name.endswith(".json")
    )


def read_sidecars(adapter: Path) -> SidecarInfo:
    info = SidecarInfo(previews=preview_paths(adapter))
    for kind, path in sidecar_paths(adapter).items():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            info.problems.append(f"{path.name}: not readable JSON ({e.__class__.__name__})")
            continue
        if not isinstance(data, dict):
            info.problems.append(f"{path.name}: expected a JSON object")
            continue
        info.raw[kind] = data
        info.files.append(path)
        _READERS[kind](info, data)
    return info


def _read_a1111(info: SidecarInfo, d: dict[str, Any]) -> None:
    info.add_triggers(d.get("activation text") or "")
    weight = d.get("preferred weight")
    if isinstance(weight, int | float) and weight != 0:
        info.preferred_weight = float(weight)
    texts = [str(d[k]).strip() for k in ("description", "notes") if d.get(k)]
    if texts and not info.description:
        info.description = "\n\n".join(texts)
    if d.get("sd version") and d["sd version"] != "Unknown":
        info.base_label = info.base_label or str(d["sd version"])


def _read_civitai(info: SidecarInfo, d: dict[str, Any]) -> None:
    info.add_triggers(d.get("trainedWords") or [])
    info.base_label = info.base_label or d.get("baseModel")
    model: dict[str, Any] = d["model"] if isinstance(d.get("model"), dict) else {}
    info.add_tags(model.get("tags") or d.get("tags") or [])
    if not info.title and model.get("name"):
        info.title = str(model["name"])
    if not info.description and (d.get("description") or model.get("description")):
        info.description = _strip_html(str(d.get("description") or model.get("description")))


def _read_stability_matrix(info: SidecarInfo, d: dict[str, Any]) -> None:
    info.add_triggers(d.get("TrainedWords") or [])
    info.add_tags(d.get("Tags") or [])
    info.base_label = info.base_label or d.get("BaseModel")
    info.title = info.title or d.get("ModelName") or d.get("UserTitle")
    if not info.description and d.get("ModelDescription"):
        info.description = _strip_html(str(d["ModelDescription"]))


def _read_lora_manager(info: SidecarInfo, d: dict[str, Any]) -> None:
    civitai: dict[str, Any] = d["civitai"] if isinstance(d.get("civitai"), dict) else {}
    info.add_triggers(civitai.get("trainedWords") or [])
    info.add_tags(d.get("tags") or [])
    info.base_label = info.base_label or d.get("base_model")
    info.title = info.title or d.get("model_name")
    if not info.description and (d.get("notes") or d.get("modelDescription")):
        info.description = _strip_html(str(d.get("notes") or d.get("modelDescription")))
    tips = d.get("usage_tips")
    if isinstance(tips, str):
        try:
            tips = json.loads(tips)
        except ValueError:
            tips = None
    if isinstance(tips, dict) and isinstance(tips.get("strength"), int | float):
        info.preferred_weight = info.preferred_weight or float(tips["strength"])


def _strip_html(text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", " ", text)).strip()


_READERS = {
    "a1111": _read_a1111,
    "civitai": _read_civitai,
    "stability_matrix": _read_stability_matrix,
    "lora_manager": _read_lora_manager,
}
