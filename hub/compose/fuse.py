"""Fuse LoRA deltas into a base model's weights and write a full model, one tensor at a time.

``W' = W + Σ_i w_i · scale_i · up_i @ down_i`` (reshaped to W's shape; for OpenCLIP's packed q/k/v, added to the
module's rows of ``in_proj_weight``). The sum is formed in float32 on ``device`` and cast back to W's dtype (or
``dtype``), as diffusers' ``fuse_lora`` does through PEFT's ``merge``. A diffusers folder is written as a diffusers
folder (configs, tokenizer, scheduler and VAE copied), a single-file checkpoint as a single file in the same
layout. Every module of every adapter must find its weight: one that does not is an error, never skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hub.bases.devices import resolve_device, resolve_dtype
from hub.compose.ldm_layout import Placement
from hub.compose.model_files import ModelFiles, WeightFile, open_base, write_safetensors_streaming
from hub.compose.ops import check_compatible
from hub.errors import IncompatibleError, UsageError
from hub.formats.lora_set import LoraModule, LoraSet

if TYPE_CHECKING:
    import torch

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".msgpack", ".h5", ".onnx")


@dataclass
class FuseReport:
    out: Path
    layout: str
    modules_fused: int
    tensors_written: int
    files_written: list[str] = field(default_factory=list)


def plan_fuse(model: ModelFiles, adapters: Sequence[tuple[LoraSet, float]]) -> dict[str, dict[str, list]]:
    """file rel -> tensor key -> [(rows, module, weight)]; IncompatibleError naming the first unplaceable module."""
    plan: dict[str, dict[str, list]] = {}
    for lora_set, weight in adapters:
        for key, mod in sorted(lora_set.modules.items()):
            found = model.locate(key, int(mod.weight_shape[0]))
            if found is None:
                raise IncompatibleError(
                    f"module {key} of the adapter has no weight in the base model ({model.layout})",
                    hint="is the adapter for this base? (SD1 vs SDXL, or a layout this tool cannot place)",
                )
            wfile, place = found
            plan.setdefault(wfile.rel, {}).setdefault(place.key, []).append((place.rows, mod, float(weight)))
    return plan


def _fused_tensor(
    base: torch.Tensor, parts: list[tuple[tuple[int, int] | None, LoraModule, float]], device: torch.device
) -> torch.Tensor:
    import torch

    w = base.to(device=device, dtype=torch.float32)
    for rows, mod, weight in parts:
        up = mod.up.to(device=device, dtype=torch.float32).reshape(mod.up.shape[0], -1)
        down = mod.down.to(device=device, dtype=torch.float32).reshape(mod.down.shape[0], -1)
        delta = (up @ down) * (mod.scale * weight)
        target = w if rows is None else w[rows[0] : rows[1]]
        if target.numel() != delta.numel():
            raise IncompatibleError(
                f"a LoRA delta of shape {tuple(mod.weight_shape)} does not fit a base weight of shape "
                f"{tuple(target.shape)}"
            )
        target += delta.reshape(target.shape)
    return w


def fuse_into(
    model: ModelFiles,
    adapters: Sequence[tuple[LoraSet, float]],
    out: Path,
    *,
    device: torch.device,
    dtype: torch.dtype | None = None,
    progress: Callable[[str], None] | None = None,
) -> FuseReport:
    """Write ``model`` with the adapters fused to ``out`` (a folder for diffusers, a file for a single file)."""
    from safetensors import safe_open

    check_compatible([s for s, _ in adapters])
    plan = plan_fuse(model, adapters)
    out = Path(out)
    check_out(model, out)
    if model.layout == "diffusers":
        _copy_non_weights(model, out)

    report = FuseReport(out=out, layout=model.layout, modules_fused=0, tensors_written=0)
    for wfile in model.files:
        dest = out / wfile.rel if model.layout == "diffusers" else out
        edits = plan.get(wfile.rel, {})
        if not edits and dtype is None:
            shutil.copy2(wfile.path, dest)
            report.files_written.append(str(dest))
            continue
        with safe_open(str(wfile.path), framework="pt") as f:
            metadata = f.metadata()
            specs = []
            for key in wfile.keys:
                sl = f.get_slice(key)
                src_dtype = _torch_dtype(sl.get_dtype())
                cast = dtype if (dtype is not None and src_dtype.is_floating_point) else src_dtype
                specs.append((key, cast, tuple(sl.get_shape())))
            targets = dict((k, d) for k, d, _ in specs)

            def produce(key: str, f=f, edits=edits, targets=targets) -> torch.Tensor:
                t = f.get_tensor(key)
                if key in edits:
                    t = _fused_tensor(t, edits[key], device)
                    report.modules_fused += len(edits[key])
                    if progress:
                        progress(key)
                report.tensors_written += 1
                return t.to(dtype=targets[key]).cpu()

            write_safetensors_streaming(dest, specs, produce, metadata)
        report.files_written.append(str(dest))
    return report


def _torch_dtype(st: str) -> torch.dtype:
    import torch

    table = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
             "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
             "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}  # fmt: skip
    return table[st.upper()] if st.upper() in table else getattr(torch, st)


def check_out(model: ModelFiles, out: Path) -> None:
    """A diffusers base is written as a folder, a single-file base as one file: ``--out merged.safetensors`` of a
    diffusers base would be a folder with a file's name, so it is refused (before anything is loaded)."""
    if model.layout == "diffusers":
        if out.suffix.lower() in (".safetensors", ".ckpt", ".bin", ".pt"):
            raise UsageError(
                f"the base is a diffusers folder, so the fused model is a folder too: --out {out} names a file",
                hint=f"give a folder, e.g. --out {out.with_suffix('')}/ (a single-file base gives one .safetensors)",
            )
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UsageError(f"{out} exists and is not an empty folder", hint="give a new folder for the fused model")
    elif out.is_dir() or out.suffix != ".safetensors":
        raise UsageError(f"the base is a single file: --out must be a .safetensors file, got {out}")


def _copy_non_weights(model: ModelFiles, out: Path) -> None:
    """Everything but the weight files of the components we rewrite (stale variants would load unfused)."""
    rewritten_dirs = {(model.root / f.rel).parent for f in model.files}
    for src in model.root.rglob("*"):
        if src.is_dir() or ".cache" in src.relative_to(model.root).parts:
            continue
        if src.parent in rewritten_dirs and src.name.endswith(_WEIGHT_SUFFIXES):
            continue
        if src.name.endswith(".safetensors.index.json") and src.parent in rewritten_dirs:
            pass  # the shard index still describes the rewritten shards: copy it
        dest = out / src.relative_to(model.root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def fuse(
    base: str | Path,
    adapters: Sequence[tuple[LoraSet, float]],
    out: str | Path,
    *,
    device: str = "auto",
    dtype: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> FuseReport:
    """Fuse ``adapters`` (LoraSet, weight) into the local base at ``base`` and write the full model to ``out``."""
    return fuse_into(open_base(base), adapters, Path(out), device=resolve_device(device), dtype=resolve_dtype(dtype),
                     progress=progress)  # fmt: skip


__all__ = [
    "FuseReport",
    "Placement",
    "WeightFile",
    "fuse",
    "fuse_into",
    "plan_fuse",
]
