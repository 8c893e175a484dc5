"""How values read on a page: sizes, dates, and a file's ``ss_*`` / ``modelspec.*`` metadata in sections with
plain labels (kohya writes every value as a string, timestamps as unix seconds, and datasets as JSON)."""

from __future__ import annotations

import json
import shlex
from datetime import datetime, timezone
from typing import Any

from hub.units import human_size

MODELSPEC = {
    "modelspec.title": "Title",
    "modelspec.architecture": "Architecture",
    "modelspec.author": "Author",
    "modelspec.description": "Description",
    "modelspec.date": "Date",
    "modelspec.resolution": "Resolution",
    "modelspec.prediction_type": "Prediction type",
    "modelspec.trigger_phrase": "Trigger phrase",
    "modelspec.tags": "Tags",
    "modelspec.license": "Licence",
    "modelspec.usage_hint": "Usage hint",
    "modelspec.merged_from": "Merged from",
    "modelspec.implementation": "Implementation",
    "modelspec.sai_model_spec": "Spec version",
}
TRAINING = {
    "ss_output_name": "Output name",
    "ss_sd_model_name": "Trained on",
    "ss_base_model_version": "Base version",
    "ss_network_module": "Network",
    "ss_network_dim": "Rank (dim)",
    "ss_network_alpha": "Alpha",
    "ss_network_args": "Network args",
    "ss_learning_rate": "Learning rate",
    "ss_unet_lr": "UNet LR",
    "ss_text_encoder_lr": "Text encoder LR",
    "ss_lr_scheduler": "LR scheduler",
    "ss_optimizer": "Optimizer",
    "ss_epoch": "Epoch",
    "ss_num_epochs": "Epochs",
    "ss_steps": "Steps",
    "ss_max_train_steps": "Max steps",
    "ss_batch_size_per_device": "Batch size",
    "ss_resolution": "Resolution",
    "ss_num_train_images": "Training images",
    "ss_num_reg_images": "Regularisation images",
    "ss_mixed_precision": "Precision",
    "ss_noise_offset": "Noise offset",
    "ss_min_snr_gamma": "Min-SNR gamma",
    "ss_clip_skip": "CLIP skip",
    "ss_seed": "Seed",
    "ss_training_started_at": "Started",
    "ss_training_finished_at": "Finished",
    "ss_training_comment": "Comment",
    "ss_v2": "SD 2.x",
}
HIDDEN = {"ssmd_cover_images"}  # base64 images: shown as previews elsewhere, unreadable as text
LONG = 400


def short_date(value: str | None) -> str:
    return (value or "")[:10] or "-"


def date_time(value: str | None) -> str:
    """``2026-11-30T10:00:00+00:00`` -> ``2026-11-30 10:00 UTC``: runs start and end within a day."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value[:16].replace("T", " ")
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M")


def _unix(value: str) -> str:
    try:
        return datetime.fromtimestamp(float(value), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, OverflowError, OSError):
        return value


def _short(value: str) -> str:
    return value if len(value) <= LONG else value[:LONG] + f"… ({len(value):,} characters)"


def tag_frequency(raw: str, top: int = 30) -> str:
    """``{"10_dog": {"dog": 12, "grass": 3}}`` -> ``dog (12), grass (3)``, most frequent first."""
    try:
        data = json.loads(raw)
    except ValueError:
        return _short(raw)
    counts: dict[str, int] = {}
    for tags in data.values() if isinstance(data, dict) else []:
        for tag, n in tags.items() if isinstance(tags, dict) else []:
            if isinstance(n, int | float):
                counts[tag.strip()] = counts.get(tag.strip(), 0) + int(n)
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    more = f" … and {len(ordered) - top} more" if len(ordered) > top else ""
    return ", ".join(f"{t} ({n})" for t, n in ordered[:top]) + more


def dataset_dirs(raw: str) -> str:
    try:
        data = json.loads(raw)
        return "; ".join(f"{d}: {v.get('img_count')} images × {v.get('n_repeats')} repeats" for d, v in data.items())
    except (ValueError, AttributeError):
        return _short(raw)


def readable_metadata(metadata: dict[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Sections of (label, value) rows: model spec, training, dataset, then every other key verbatim."""
    seen: set[str] = set(HIDDEN)
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for title, labels in (("Model spec", MODELSPEC), ("Training", TRAINING)):
        rows = []
        for key, label in labels.items():
            if key in metadata:
                seen.add(key)
                value = metadata[key]
                rows.append((label, _unix(value) if key.endswith("_at") else _short(value)))
        if rows:
            sections.append((title, rows))
    dataset = []
    if "ss_tag_frequency" in metadata:
        dataset.append(("Caption tags", tag_frequency(metadata["ss_tag_frequency"])))
    if "ss_dataset_dirs" in metadata:
        dataset.append(("Folders", dataset_dirs(metadata["ss_dataset_dirs"])))
    seen.update({"ss_tag_frequency", "ss_dataset_dirs"})
    if dataset:
        sections.append(("Dataset", dataset))
    other = [(k, _short(v)) for k, v in sorted(metadata.items()) if k not in seen]
    if other:
        sections.append(("Other keys", other))
    return sections


def lora_tag(name: str, weight: float | None) -> str:
    """A1111's prompt syntax: ``<lora:name:0.8>``."""
    return f"<lora:{name}:{(weight if weight is not None else 1.0):g}>"


def mix_command(name: str, weight: float | None, others: list[str] | None = None) -> str:
    specs = [f"{name}:{(weight if weight is not None else 1.0):g}", *(others or [])]
    return shlex.join(["hub", "mix", *specs, "--method", "svd", "--rank", "16"])


def civitai_hashes(hashes: Any) -> list[tuple[str, str]]:
    """Civitai's hash table order and spelling: uppercase hex; AutoV2 is SHA256's first 10."""
    if hashes is None:
        return []
    printed = hashes.civitai()
    labels = (
        ("autov1", "AutoV1"),
        ("autov2", "AutoV2"),
        ("sha256", "SHA256"),
        ("crc32", "CRC32"),
        ("blake3", "BLAKE3"),
        ("autov3", "AutoV3"),
    )
    return [(label, printed[k]) for k, label in labels if printed.get(k)]


FILTERS: dict[str, Any] = {"size": human_size, "date": short_date, "date_time": date_time, "lora_tag": lora_tag}
