"""PEFT ``adapter_config.json``: finding it beside an adapter, reading it, and probing it as a sidecar.

PEFT keeps alpha (and the base model's path) outside the tensors: in ``adapter_config.json`` beside
``adapter_model.safetensors``, or, for diffusers >= 0.33, as JSON in the ``lora_adapter_metadata``
header entry. Flattened copies name the sidecar ``<prefix>adapter_config.json`` beside
``<prefix>adapter_model.safetensors``, so both names are tried.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.errors import BadFileError
from hub.formats.arch_detect import arch_from_base_name
from hub.models import ProbeResult


def probe_sidecar(p: Path) -> ProbeResult:
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadFileError(f"not valid JSON ({e.__class__.__name__})", path=str(p)) from e
    if not isinstance(obj, dict):
        raise BadFileError("a JSON file that is not an object: not an adapter sidecar", path=str(p))
    is_peft = "peft_type" in obj or ("r" in obj and "lora_alpha" in obj)
    base = obj.get("base_model_name_or_path")
    arch = arch_from_base_name(base) or "unknown"
    evidence = ["PEFT adapter_config.json" if is_peft else "a JSON sidecar"]
    if base:
        evidence.append(f"base_model_name_or_path: {base}")
    rank = obj.get("r") if isinstance(obj.get("r"), int) else None
    alpha = obj.get("lora_alpha") if isinstance(obj.get("lora_alpha"), (int, float)) else None
    return ProbeResult(
        kind="sidecar",
        format="peft-config" if is_peft else "json",
        arch=arch,  # type: ignore[arg-type]
        container="json",
        rank=rank,
        ranks=[rank] if rank else [],
        alpha=float(alpha) if alpha is not None else None,
        scale=(alpha / rank) if (alpha is not None and rank) else None,
        evidence=evidence,
    )


def find_peft_config(
    p: Path, metadata: dict[str, str], given: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, str | None]:
    if given is not None:
        return given, "PEFT config passed by the caller"
    raw = metadata.get("lora_adapter_metadata")
    if raw:
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            # diffusers writes either one PEFT config or one per component ({"unet": {...}} / "unet.r" keys)
            if "lora_alpha" not in obj:
                nested = [v for v in obj.values() if isinstance(v, dict) and "lora_alpha" in v]
                flat = {k.split(".", 1)[1]: v for k, v in obj.items() if k.count(".") == 1}
                obj = nested[0] if nested else flat
            if "lora_alpha" in obj:
                return obj, "PEFT config from __metadata__ lora_adapter_metadata"
    for candidate in config_candidates(p):
        if candidate.is_file():
            try:
                obj = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                return None, f"{candidate.name} beside the file is not valid JSON: ignored"
            if isinstance(obj, dict):
                return obj, f"PEFT config from {candidate.name} beside the file"
    return None, None


def config_candidates(p: Path) -> list[Path]:
    out = []
    if "adapter_model" in p.name:
        out.append(p.with_name(p.name.replace("adapter_model", "adapter_config")).with_suffix(".json"))
    out.append(p.with_name("adapter_config.json"))
    return out


def names_text_encoder_2(config: dict[str, Any]) -> bool:
    base = str(config.get("base_model_name_or_path") or "").replace("\\", "/").rstrip("/")
    mapping = config.get("auto_mapping") or {}
    cls = mapping.get("base_model_class") if isinstance(mapping, dict) else None
    return base.endswith("text_encoder_2") or cls == "CLIPTextModelWithProjection"
