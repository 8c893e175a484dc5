"""Write a :class:`LoraSet` as a kohya file (the default: A1111/Forge/ComfyUI/kohya load it) or a diffusers
one.

kohya: ``<kohya name>.lora_down.weight`` / ``.lora_up.weight`` / ``.alpha`` with alpha = scale * r (the scale is
folded in our representation; one alpha for all modules, any other scale folded into that module's up),
convs as 4-D factors (down [r, in, kh, kw], up [out, r, 1, 1]); ``ss_*`` and
``modelspec.*`` metadata and kohya's ``sshs_model_hash`` (AutoV3: sha256 of the bytes after the header of the
file as serialised with its ``ss_*`` metadata only) and ``sshs_legacy_hash``.

diffusers: ``unet.<path>.lora_A.weight`` / ``lora_B.weight`` (and ``text_encoder.``/``text_encoder_2.``) with
``lora_adapter_metadata`` as ``save_lora_weights(..., unet_lora_adapter_metadata=...)`` writes it: LoraConfig
fields flattened under the component prefix, r/lora_alpha the most common values and ``rank_pattern``/
``alpha_pattern`` for the rest, so that diffusers' ``load_lora_weights`` reproduces every scale exactly.
Text-encoder patterns and targets omit ``text_model.``, so they match with transformers 4 and 5 alike.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import IncompatibleError, UsageError
from hub.formats.kohya_names import is_ldm_key, ldm_names_fit, to_kohya
from hub.formats.lora_set import LoraModule, LoraSet
from hub.formats.module_tables import TINY_ARCH, TINY_LABEL, packaged_table
from hub.paths import give_umask_mode

if TYPE_CHECKING:
    import torch

# ss_base_model_version, modelspec.architecture, modelspec.resolution per arch (what kohya writes).
BASE_METADATA = {
    "sd1": ("sd_v1", "stable-diffusion-v1", "512x512"),
    "sd2": ("sd_v2", "stable-diffusion-v2-512", "512x512"),
    "sdxl": ("sdxl_base_v1-0", "stable-diffusion-xl-v1-base", "1024x1024"),
    # The embedded tiny base: its own name, never an SD version it is not (readers that know only SD's leave it be).
    TINY_ARCH: (TINY_LABEL, TINY_LABEL, "64x64"),
}


def _factors_4d(module: LoraModule) -> tuple[torch.Tensor, torch.Tensor]:
    """(down, up) in kohya's layout: 4-D for convs."""
    up, down = module.up, module.down
    if len(module.weight_shape) == 4:
        _, n_in, kh, kw = module.weight_shape
        return down.reshape(down.shape[0], n_in, kh, kw), up.reshape(up.shape[0], up.shape[1], 1, 1)
    return down, up


def _cast(t: torch.Tensor, dtype: Any) -> torch.Tensor:
    return (t.to(dtype) if dtype is not None else t).contiguous()


def _torch_dtype(dtype: Any) -> Any:
    if dtype is None or not isinstance(dtype, str):
        return dtype
    import torch

    names = {"fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp32": "float32", "float": "float32"}
    value = getattr(torch, names.get(dtype, dtype), None)
    if not isinstance(value, torch.dtype):
        raise UsageError(f"unknown dtype {dtype!r}; expected float32, float16 or bfloat16")
    return value


def _common(values: list[Any]) -> Any:
    return collections.Counter(values).most_common(1)[0][0]


def _alpha_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# ----- kohya ---------------------------------------------------------------------------------------------------------


def to_kohya_state_dict(lora_set: LoraSet, *, dtype: Any = None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, ``ss_*``/``modelspec.*`` metadata) in kohya's layout; pure (no hashes: they need the bytes)."""
    import torch

    dtype = _torch_dtype(dtype)
    arch = lora_set.arch
    unsupported = [k for k in lora_set.modules if k.split(".", 1)[0] not in ("unet", "text_encoder", "text_encoder_2")]
    if unsupported:
        raise IncompatibleError(f"kohya format cannot name {unsupported[0]} ({arch}); write diffusers format instead")
    keys = list(lora_set.modules)
    table = lora_set.table or packaged_table(arch)
    # kohya's SDXL naming: UNet modules by their LDM paths, lora_te1_/lora_te2_ for the two encoders. A set read
    # from kohya names without a table keeps the paths it was read with (LDM ones stay LDM).
    sdxl = arch == "sdxl" or (table is not None and table.arch == "sdxl")
    ldm = table.unet if sdxl and table is not None and table.unet and ldm_names_fit(keys, table.unet) else None
    two_te = sdxl or any(k.startswith("text_encoder_2.") or is_ldm_key(k) for k in keys)
    two_te |= table is not None and "text_encoder_2" in table.components
    # One alpha for every module (the most common scale * r): diffusers' kohya loader (0.42) maps per-module
    # alphas to alpha_pattern keys that match no module and silently falls back to one alpha, so a module
    # whose scale * r differs gets that difference folded into its up factor instead. Exact in every reader.
    common_alpha = _common([float(m.scale) * m.rank for m in lora_set.modules.values()]) if lora_set.modules else 1.0
    if common_alpha == 0:
        common_alpha = 1.0
    tensors: dict[str, torch.Tensor] = {}
    for key, module in lora_set.modules.items():
        name = to_kohya(key, ldm_unet=ldm, two_text_encoders=two_te)
        if f"{name}.alpha" in tensors:
            raise IncompatibleError(f"two modules of the adapter have the kohya name {name}")
        down, up = _factors_4d(module)
        factor = float(module.scale) * module.rank / common_alpha
        if factor != 1.0:
            up = up * factor
        tensors[f"{name}.lora_down.weight"] = _cast(down, dtype)
        tensors[f"{name}.lora_up.weight"] = _cast(up, dtype)
        # float32 so a fractional alpha survives (kohya reads it as a float).
        tensors[f"{name}.alpha"] = torch.tensor(common_alpha, dtype=torch.float32)
    return tensors, _kohya_metadata(lora_set, common_alpha)


def _kohya_metadata(lora_set: LoraSet, alpha: float) -> dict[str, str]:
    """The ``ss_*`` header describing what the tensors hold: ``alpha`` is the one alpha every module stores (see
    :func:`to_kohya_state_dict`), so a tool that trusts ``ss_network_alpha``/``conv_alpha`` gets the same scale
    as one that reads each module's alpha tensor."""
    linear = [m for m in lora_set.modules.values() if tuple(m.weight_shape[2:]) in ((), (1, 1))]
    conv = [m for m in lora_set.modules.values() if tuple(m.weight_shape[2:]) not in ((), (1, 1))]
    meta: dict[str, str] = {"ss_network_module": "networks.lora"}
    if linear:
        meta["ss_network_dim"] = str(_common([m.rank for m in linear]))
        meta["ss_network_alpha"] = _alpha_text(alpha)
    if conv:
        args = {
            "conv_dim": str(_common([m.rank for m in conv])),
            "conv_alpha": _alpha_text(alpha),
        }
        meta["ss_network_args"] = json.dumps(args)
    base = BASE_METADATA.get(lora_set.arch)
    if base:
        meta["ss_base_model_version"] = base[0]
        meta["ss_v2"] = str(lora_set.arch == "sd2")
        meta["modelspec.architecture"] = f"{base[1]}/lora"
        meta["modelspec.resolution"] = base[2]
    meta["modelspec.sai_model_spec"] = "1.0.0"
    meta["modelspec.implementation"] = "https://github.com/Stability-AI/generative-models"
    meta["modelspec.date"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    approximations = sorted({m.approximation for m in lora_set.modules.values() if m.approximation})
    if lora_set.notes or approximations:
        meta["ss_training_comment"] = "; ".join([*lora_set.notes, *approximations[:3]])
    return meta


# ----- diffusers -----------------------------------------------------------------------------------------------------


def _peft_path(key: str) -> tuple[str, str]:
    """(component, module path as written in the diffusers file) of a canonical key."""
    component, path = key.split(".", 1)
    return component, path


def _pattern_path(component: str, path: str) -> str:
    """A PEFT target/pattern for the module: text-encoder paths without ``text_model.`` (suffix-matched by PEFT,
    so it finds the module with and without that level); UNet paths anchored with ``^`` as diffusers writes them."""
    if component.startswith("text_encoder"):
        return path.removeprefix("text_model.")
    return f"^{path}"


def to_diffusers_state_dict(lora_set: LoraSet, *, dtype: Any = None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata with ``lora_adapter_metadata``) in diffusers' ``pytorch_lora_weights.safetensors`` layout."""
    if lora_set.names_only:
        raise IncompatibleError(
            "diffusers format names modules by their paths in the model, and this adapter's kohya names were not "
            "placed on one (no module table for its base)",
            hint="give the base it was made for: --base DIR|FILE|HF_ID|tiny",
        )
    dtype = _torch_dtype(dtype)
    tensors: dict[str, torch.Tensor] = {}
    per_component: dict[str, list[tuple[str, LoraModule]]] = collections.defaultdict(list)
    for key, module in lora_set.modules.items():
        component, path = _peft_path(key)
        if len(module.weight_shape) == 4:
            down, up = _factors_4d(module)
        else:
            down, up = module.down, module.up
        tensors[f"{component}.{path}.lora_A.weight"] = _cast(down, dtype)
        tensors[f"{component}.{path}.lora_B.weight"] = _cast(up, dtype)
        per_component[component].append((path, module))

    packed: dict[str, Any] = {}
    for component, items in per_component.items():
        r = _common([m.rank for _, m in items])
        alphas = [m.scale * m.rank for _, m in items]
        lora_alpha = _common(alphas)
        rank_pattern = {_pattern_path(component, p): m.rank for p, m in items if m.rank != r}
        alpha_pattern = {
            _pattern_path(component, p): m.scale * m.rank for p, m in items if m.scale * m.rank != lora_alpha
        }
        targets = sorted(_pattern_path(component, p).lstrip("^") for p, _ in items)
        config = {
            "r": r,
            "lora_alpha": lora_alpha,
            "rank_pattern": rank_pattern,
            "alpha_pattern": alpha_pattern,
            "target_modules": targets,
            "use_dora": False,
            "use_rslora": False,
            "lora_bias": False,
            "bias": "none",
            "init_lora_weights": True,
        }
        packed.update({f"{component}.{k}": v for k, v in config.items()})
    metadata = {"format": "pt", "lora_adapter_metadata": json.dumps(packed, indent=2, sort_keys=True)}
    return tensors, metadata


# ----- files -----------------------------------------------------------------------------------------------------


def safetensors_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None) -> bytes:
    """The file's bytes, the same for the same tensors and metadata: safetensors writes its header's metadata in
    hash-map order (different on each call), so the header is re-serialised with sorted keys. The data section
    does not move (offsets are relative to it); the header is padded with spaces to 8 bytes as safetensors does."""
    from safetensors.torch import save

    blob = save(tensors, metadata=metadata or None)
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + blob[8 + n :]


def _data_section(blob: bytes) -> bytes:
    n = int.from_bytes(blob[:8], "little")
    return blob[8 + n :]


def kohya_hashes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> tuple[str, str]:
    """(sshs_model_hash, sshs_legacy_hash) as kohya's ``precalculate_safetensors_hashes``: the file serialised in
    memory with only its ``ss_*`` metadata; model hash = sha256 of the data section (AutoV3), legacy = first 8 hex
    of sha256 over bytes [1 MiB, 1 MiB + 64 KiB)."""
    blob = safetensors_bytes(tensors, {k: v for k, v in metadata.items() if k.startswith("ss_")})
    model_hash = hashlib.sha256(_data_section(blob)).hexdigest()
    legacy = hashlib.sha256(blob[0x100000:0x110000]).hexdigest()[:8]
    return model_hash, legacy


def save_lora_set(
    lora_set: LoraSet,
    path: str | Path,
    *,
    fmt: str = "kohya",
    metadata: dict[str, str] | None = None,
    dtype: Any = None,
    title: str | None = None,
    merged_from: str | None = None,
) -> Path:
    """Write ``lora_set`` to ``path`` atomically (temp file in the same folder + ``os.replace``) and return the path.

    ``metadata`` entries are added to (and override) the generated ones; ``title``/``merged_from`` fill
    ``modelspec.title``/``modelspec.merged_from`` (kohya format).
    """
    path = Path(path)
    if fmt == "kohya":
        tensors, meta = to_kohya_state_dict(lora_set, dtype=dtype)
        meta["modelspec.title"] = title or path.stem
        if merged_from:
            meta["modelspec.merged_from"] = merged_from
        meta.update(metadata or {})
        meta["sshs_model_hash"], meta["sshs_legacy_hash"] = kohya_hashes(tensors, meta)
    elif fmt == "diffusers":
        tensors, meta = to_diffusers_state_dict(lora_set, dtype=dtype)
        meta.update(metadata or {})
    else:
        raise UsageError(f"unknown LoRA format {fmt!r}; expected 'kohya' or 'diffusers'")
    return write_safetensors(tensors, meta, path)


def write_safetensors(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: str | Path) -> Path:
    """Write a safetensors file atomically (temp file in the same folder + ``os.replace``); returns the path."""
    path = Path(path)
    blob = safetensors_bytes(tensors, metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    give_umask_mode(fd)  # a user's file, not a 0600 temp
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
