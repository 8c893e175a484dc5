"""Where and in what precision a model runs: ``--device`` (auto, cpu, cuda, cuda:N) and ``--dtype`` (float32,
float16, bfloat16 and their short names) as torch objects. Shared by composition (fuse, extract, SVD merges) and
generation; torch is imported when one is resolved, never when this module loads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.errors import UsageError

if TYPE_CHECKING:
    import torch


def resolve_device(device: str | None) -> torch.device:
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but torch sees no CUDA device", hint="use --device cpu or auto")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UsageError(f"unknown device {device!r}", hint="auto, cpu or cuda") from None


def resolve_dtype(dtype: str | None) -> torch.dtype | None:
    import torch

    if dtype is None:
        return None
    names = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "float": "float32", "half": "float16"}
    value = getattr(torch, names.get(dtype, dtype), None)
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise UsageError(f"unknown dtype {dtype!r}", hint="float32, float16 or bfloat16")
    return value
