"""Extract a LoRA approximating the difference of two models (kohya's extract_lora_from_models.py).

Per module kohya targets (attention/feed-forward linears and projections of the UNet's transformer blocks, the
CLIP text encoders' attention and MLP linears; with ``conv_rank`` also the ResNet/sampler convs), ``ΔW =
W_tuned − W_base`` (3x3 convs flattened to [out, in·kh·kw]) and its best rank-k approximation by SVD, split
``up = U_k √S_k``, ``down = √S_k V_kᵀ``, scale 1. Text encoders whose largest |ΔW| is at most ``min_diff``
are skipped, as kohya does. ``clamp_quantile`` (kohya's default 0.99; None here) clamps both factors to the
quantile of their signed values (±hi).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hub.bases.devices import resolve_device
from hub.compose.model_files import ModelFiles, open_base
from hub.compose.ops import Dynamic, Reduction, rank_for, reduce_dense
from hub.errors import IncompatibleError, UsageError
from hub.formats.lora_set import LoraModule, LoraSet
from hub.formats.module_tables import is_kohya_target

if TYPE_CHECKING:
    import torch


def _read(model: ModelFiles, handles: dict, module_key: str, entry) -> torch.Tensor:
    from safetensors import safe_open

    wfile, place = entry
    if wfile.rel not in handles:
        handles[wfile.rel] = safe_open(str(wfile.path), framework="pt")
    t = handles[wfile.rel].get_tensor(place.key)
    return t if place.rows is None else t[place.rows[0] : place.rows[1]]


def extract_models(
    base: ModelFiles,
    tuned: ModelFiles,
    rank: int,
    *,
    conv_rank: int | None = None,
    dynamic: Dynamic | None = None,
    min_diff: float = 0.01,
    clamp_quantile: float | None = None,
    device: torch.device,
    arch: str = "unknown",
    progress: Callable[[str], None] | None = None,
) -> Reduction:
    import torch

    if rank < 1:
        raise UsageError(f"rank must be at least 1, got {rank}")
    base_modules, tuned_modules = base.module_keys(), tuned.module_keys()
    keys = sorted(k for k in base_modules if k in tuned_modules and is_kohya_target(k, conv=conv_rank is not None))
    if not keys:
        raise IncompatibleError("the two models have no LoRA-targetable module in common")
    bh: dict = {}
    th: dict = {}
    deltas: dict[str, torch.Tensor] = {}
    te_max: dict[str, float] = {}
    result = Reduction(lora_set=LoraSet(arch=arch))
    modules: dict[str, LoraModule] = {}
    for key in keys:
        w0 = _read(base, bh, key, base_modules[key]).to(device=device, dtype=torch.float32)
        w1 = _read(tuned, th, key, tuned_modules[key]).to(device=device, dtype=torch.float32)
        if w0.shape != w1.shape:
            raise IncompatibleError(f"module {key}: base {tuple(w0.shape)} vs tuned {tuple(w1.shape)}")
        if w0.dim() not in (2, 4):
            continue
        diff = w1 - w0
        comp = key.split(".", 1)[0]
        if comp.startswith("text_encoder"):
            te_max[comp] = max(te_max.get(comp, 0.0), float(diff.abs().max()))
            deltas[key] = diff.cpu()  # decided once the whole encoder is seen
            continue
        _extract_one(key, diff, w0.shape, rank, conv_rank, dynamic, clamp_quantile, modules, result)
        if progress:
            progress(key)
    for key, diff in deltas.items():
        if te_max[key.split(".", 1)[0]] <= min_diff:
            continue
        _extract_one(key, diff.to(device), diff.shape, rank, conv_rank, dynamic, clamp_quantile, modules, result)
        if progress:
            progress(key)
    skipped = sorted(c for c, v in te_max.items() if v <= min_diff)
    notes = [f"extracted at rank {rank}" + (f", conv rank {conv_rank}" if conv_rank else "")]
    if skipped:
        notes.append(f"{', '.join(skipped)} skipped: max |ΔW| <= {min_diff}")
    result.lora_set = LoraSet(arch=arch, modules=modules, notes=notes)
    return result


def _extract_one(key, diff, shape, rank, conv_rank, dynamic, clamp_quantile, modules, result) -> None:
    import torch

    shape = tuple(shape)
    up, down, k, kept = reduce_dense(diff.reshape(shape[0], -1), rank_for(shape, rank, conv_rank), dynamic)
    if clamp_quantile is not None:
        # kohya: the quantile of the *signed* values of both factors, applied as ±hi
        dist = torch.cat([up.flatten(), down.flatten()])
        hi = dist.sort().values[min(dist.numel() - 1, int(clamp_quantile * (dist.numel() - 1)))]
        up, down = up.clamp(-hi, hi), down.clamp(-hi, hi)
    modules[key] = LoraModule(up=up.cpu().contiguous(), down=down.cpu().contiguous(), scale=1.0, weight_shape=shape)
    result.ranks[key], result.kept[key] = k, kept


def extract(
    base: str | Path,
    tuned: str | Path,
    rank: int,
    *,
    conv_rank: int | None = None,
    dynamic: Dynamic | None = None,
    min_diff: float = 0.01,
    clamp_quantile: float | None = None,
    device: str = "auto",
    arch: str = "unknown",
    progress: Callable[[str], None] | None = None,
) -> Reduction:
    """A LoRA of ``rank`` approximating ``tuned − base`` (both local diffusers folders or single files)."""
    b, t = open_base(base), open_base(tuned)
    return extract_models(b, t, rank, conv_rank=conv_rank, dynamic=dynamic, min_diff=min_diff,
                          clamp_quantile=clamp_quantile, device=resolve_device(device), arch=arch,
                          progress=progress)  # fmt: skip
