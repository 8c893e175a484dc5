"""What a file's own metadata says about it: name, triggers, declared base, tags, dates.

Pure functions over the safetensors ``__metadata__`` (kohya ``ss_*``, SAI ``modelspec.*``, the
additional-networks ``ssmd_*`` keys) plus the sidecars. Metadata is trusted for labels only; the
architecture always comes from the tensor shapes (the prober).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from hub.registry.sidecars import SidecarInfo

ADAPTER_EXTENSIONS = (".safetensors", ".pt", ".bin", ".ckpt", ".pth")  # what `hub import` picks up

# Stems that say nothing about the adapter: the folder name is a better name for these.
GENERIC_STEMS = {
    "pytorch_lora_weights",
    "adapter_model",
    "lora",
    "model",
    "learned_embeds",
    "diffusion_pytorch_model",
    "lora_weights",
    "weights",
}

BASE_VERSION_LABELS = {
    "sd_v1": "SD 1.x",
    "sd_1.5": "SD 1.5",
    "sd_v2": "SD 2.x",
    "sd_v1_v": "SD 1.x (v-pred)",
    "sd_v2_v": "SD 2.x (v-pred)",
    "sdxl_base_v1-0": "SDXL 1.0",
    "flux1": "Flux.1",
}


def file_stem(path: Path) -> str:
    """The name A1111, ComfyUI and Civitai give a file: all of it but a known adapter extension.

    ``my-style-v1.5.safetensors`` is ``my-style-v1.5`` (``<lora:my-style-v1.5:0.8>``), never ``my-style-v1``."""
    name = path.name
    for ext in ADAPTER_EXTENSIONS:
        if name.lower().endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    return path.stem


def derive_name(path: Path, metadata: dict[str, str], sidecars: SidecarInfo) -> str:
    for candidate in (
        metadata.get("ss_output_name"),
        metadata.get("modelspec.title"),
        metadata.get("ssmd_display_name"),
    ):
        if candidate and candidate.strip() and candidate.strip().lower() not in GENERIC_STEMS:
            return candidate.strip()
    stem = file_stem(path)
    if stem.lower() in GENERIC_STEMS and path.parent.name:
        parent = path.parent.name
        return parent if parent.lower() not in {"", ".", "/"} else stem
    return stem


def derive_triggers(metadata: dict[str, str], sidecars: SidecarInfo, tokens: list[str]) -> list[str]:
    out = list(sidecars.triggers)
    for key in ("modelspec.trigger_phrase", "ssmd_keywords"):
        for word in (metadata.get(key) or "").split(","):
            word = word.strip()
            if word and word not in out:
                out.append(word)
    for token in tokens:  # textual inversion / pivotal tuning: the token is what one types
        if token and token not in out:
            out.append(token)
    return out


def derive_tags(metadata: dict[str, str], sidecars: SidecarInfo) -> list[str]:
    tags = list(sidecars.tags)
    for key in ("modelspec.tags", "ssmd_tags"):
        for t in (metadata.get(key) or "").split(","):
            t = t.strip().lower()
            if t and t not in tags:
                tags.append(t)
    return tags


def derive_base_label(metadata: dict[str, str], sidecars: SidecarInfo) -> str | None:
    if sidecars.base_label:
        return sidecars.base_label
    version = metadata.get("ss_base_model_version")
    if version:
        return BASE_VERSION_LABELS.get(version, version)
    arch = metadata.get("modelspec.architecture")
    if arch:
        return arch.split("/")[0]
    if metadata.get("ss_v2") == "True":
        return "SD 2.x"
    return None


def derive_description(metadata: dict[str, str], sidecars: SidecarInfo) -> str | None:
    return sidecars.description or metadata.get("modelspec.description") or metadata.get("ssmd_description") or None


def derive_created_at(metadata: dict[str, str], path: Path) -> str | None:
    for key in ("ss_training_finished_at", "ss_training_started_at"):
        value = metadata.get(key)
        if value:
            try:
                return datetime.fromtimestamp(float(value), timezone.utc).isoformat(timespec="seconds")
            except (ValueError, OverflowError, OSError):
                pass
    if metadata.get("modelspec.date"):
        return metadata["modelspec.date"]
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    except OSError:
        return None


def preferred_weight(metadata: dict[str, str], sidecars: SidecarInfo) -> float | None:
    if sidecars.preferred_weight is not None:
        return sidecars.preferred_weight
    hint = metadata.get("modelspec.usage_hint") or ""
    try:
        return float(json.loads(hint).get("weight")) if hint.startswith("{") else None
    except (ValueError, TypeError, AttributeError):
        return None
