"""Base models on disk: a diffusers folder or a single-file LDM checkpoint, read and written tensor by tensor.

:class:`ModelFiles` answers "which file and tensor key hold this LoRA module's weight" for both layouts, and
:func:`write_safetensors_streaming` writes a safetensors file one tensor at a time (the header first, from
shapes and dtypes), so fusing or converting a model never holds more than one tensor of it in memory.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.compose.ldm_layout import (
    TEXT_ENCODER_PREFIXES,
    Placement,
    openclip_modules,
    place_module,
    unet_key_from_ldm,
)
from hub.errors import BadFileError, NotFoundError, UnsupportedFormatError
from hub.formats.module_tables import (
    TINY_ARCH,
    ModuleTable,
    canonical_text_encoder_key,
    is_tiny_config,
    tiny_text_layers,
    tiny_text_width,
)
from hub.formats.unet_layout import UnetLayout
from hub.paths import give_umask_mode

if TYPE_CHECKING:
    import torch

COMPONENTS = ("unet", "text_encoder", "text_encoder_2")
_WEIGHT_NAMES = ("diffusion_pytorch_model", "model")

_ST_DTYPES = {
    "float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64", "int64": "I64", "int32": "I32",
    "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
}  # fmt: skip


@dataclass
class WeightFile:
    path: Path  # absolute
    rel: str  # relative to the model root ("unet/diffusion_pytorch_model.safetensors" or the file name)
    component: str | None  # diffusers component; None for a single-file checkpoint
    keys: list[str] = field(default_factory=list)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)  # from the header


@dataclass
class ModelFiles:
    """A base model on disk and the weight files the fuser/extractor rewrites or reads."""

    root: Path
    layout: str  # "diffusers" | "single-file"
    files: list[WeightFile]
    unet: UnetLayout | None = None  # the UNet's LDM layout (a single file's is read off its keys)

    def locate(self, module_key: str, out_features: int) -> tuple[WeightFile, Placement] | None:
        if self.layout == "single-file":
            f = self.files[0]
            place, _ = place_module(module_key, out_features, set(f.keys), self.unet)
            return (f, place) if place else None
        component, _, path = module_key.partition(".")
        # transformers 5 dropped CLIP's ``text_model.`` level from saved keys; canonical names keep it
        paths = [path, path.removeprefix("text_model."), "text_model." + path] if component != "unet" else [path]
        for f in self.files:
            for candidate in paths:
                if f.component == component and candidate + ".weight" in f.keys:
                    return f, Placement(candidate + ".weight")
        return None

    def module_keys(self) -> dict[str, tuple[WeightFile, Placement]]:
        """Every canonical module with a weight (2-D or 4-D tensors named ``*.weight``), for extraction."""
        out: dict[str, tuple[WeightFile, Placement]] = {}
        if self.layout == "diffusers":
            for f in self.files:
                for key in f.keys:
                    if key.endswith(".weight"):
                        path = key.removesuffix(".weight")
                        if f.component != "unet" and path.startswith("encoder."):
                            path = "text_model." + path  # canonical CLIP names, whatever transformers wrote
                        out[f"{f.component}.{path}"] = (f, Placement(key))
            return out
        f = self.files[0]
        for key in f.keys:
            if self.unet is not None and key.endswith(".weight"):
                hf = unet_key_from_ldm(self.unet, key)
                if hf:
                    out["unet." + hf.removesuffix(".weight")] = (f, Placement(key))
            for prefix, comp in (("cond_stage_model.transformer.", "text_encoder"),
                                 ("conditioner.embedders.0.transformer.", "text_encoder")):  # fmt: skip
                if key.startswith(prefix) and key.endswith(".weight"):
                    path = key[len(prefix) :].removesuffix(".weight")
                    path = path if path.startswith("text_model.") else "text_model." + path
                    out[f"{comp}.{path}"] = (f, Placement(key))
        return out

    def module_table(self, name: str | None = None) -> ModuleTable:
        """Every Linear/Conv2d-shaped weight (2-D or 4-D ``*.weight``) by canonical module name, read from the
        safetensors headers alone, with the UNet layout: what a LoRA for this base is placed on."""
        modules: dict[str, tuple[int, ...]] = {}
        for f in self.files:
            for key in f.keys:
                shape = f.shapes.get(key, ())
                if not key.endswith(".weight") or len(shape) not in (2, 4):
                    continue
                path = key.removesuffix(".weight")
                if f.component is not None:
                    modules[canonical_text_encoder_key(f"{f.component}.{path}")] = shape
                    continue
                if self.unet is not None and (hf := unet_key_from_ldm(self.unet, key)):
                    modules["unet." + hf.removesuffix(".weight")] = shape
                for prefix, component, openclip in TEXT_ENCODER_PREFIXES:
                    if not key.startswith(prefix):
                        continue
                    if openclip:
                        for module, part in openclip_modules(key[len(prefix) :], shape):
                            modules[f"{component}.{module}"] = part
                    else:
                        modules[canonical_text_encoder_key(f"{component}.{path[len(prefix) :]}")] = shape
        return ModuleTable(name or str(self.root), detect_arch(self), modules, self.unet)


def _header(path: Path) -> tuple[list[str], dict[str, tuple[int, ...]]]:
    """Tensor names and shapes from the safetensors header (no torch, no tensor data)."""
    from hub.formats.safetensors_header import read_header

    header = read_header(path)
    return list(header.tensors), {k: tuple(t.shape) for k, t in header.tensors.items()}


def _component_files(folder: Path) -> list[Path]:
    """The weights diffusers would load: sharded index, else the plain file, else a single variant."""
    for stem in _WEIGHT_NAMES:
        index = folder / f"{stem}.safetensors.index.json"
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return [folder / s for s in shards]
        if (folder / f"{stem}.safetensors").is_file():
            return [folder / f"{stem}.safetensors"]
    variants = sorted(folder.glob("*.safetensors"))
    if len(variants) == 1:
        return variants
    if (folder / "config.json").is_file() and list(folder.glob("*.bin")):
        raise UnsupportedFormatError(
            "component weights are pickled (.bin) only", path=str(folder), hint="convert it to safetensors first"
        )
    return []


def open_base(path: str | os.PathLike[str]) -> ModelFiles:
    """A local diffusers folder (``model_index.json``) or single-file ``.safetensors`` checkpoint."""
    root = Path(path).expanduser()
    if root.is_dir():
        if not (root / "model_index.json").is_file():
            raise BadFileError("not a diffusers model folder (no model_index.json)", path=str(root))
        files = []
        for comp in COMPONENTS:
            for p in _component_files(root / comp):
                files.append(WeightFile(p, p.relative_to(root).as_posix(), comp, *_header(p)))
        if not files:
            raise BadFileError("no safetensors weights for unet/text_encoder", path=str(root))
        unet_config = root / "unet" / "config.json"
        unet = UnetLayout.from_config(json.loads(unet_config.read_text())) if unet_config.is_file() else None
        return ModelFiles(root, "diffusers", files, unet)
    if root.is_file():
        if root.suffix != ".safetensors":
            raise UnsupportedFormatError(
                "single-file bases must be .safetensors", path=str(root), hint="pickled .ckpt files are not read"
            )
        keys, shapes = _header(root)
        unet = UnetLayout.from_ldm_keys(keys)
        if unet is None and not any(k.startswith(("cond_stage_model.", "conditioner.")) for k in keys):
            raise BadFileError("not a Stable Diffusion checkpoint in the original layout", path=str(root))
        return ModelFiles(root.parent, "single-file", [WeightFile(root, root.name, None, keys, shapes)], unet)
    raise NotFoundError(f"no such base model: {path}")


def st_dtype(dtype: torch.dtype) -> str:
    name = str(dtype).removeprefix("torch.")
    if name not in _ST_DTYPES:
        raise UnsupportedFormatError(f"cannot write tensors of dtype {name}")
    return _ST_DTYPES[name]


def write_safetensors_streaming(
    dest: Path,
    specs: Iterable[tuple[str, torch.dtype, tuple[int, ...]]],
    produce: Callable[[str], torch.Tensor],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write ``dest`` atomically: the header from ``specs`` (name, dtype, shape), then ``produce(name)`` one by one.

    Each produced tensor must have the promised dtype and shape; it is written and dropped before the next.
    """
    import torch

    specs = list(specs)
    header: dict[str, object] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for name, dtype, shape in specs:
        n = torch.empty((), dtype=dtype).element_size()
        for d in shape:
            n *= int(d)
        header[name] = {"dtype": st_dtype(dtype), "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors aligns the data start to 8 bytes
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    give_umask_mode(fd)  # a user's file, not a 0600 temp
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(len(raw).to_bytes(8, "little"))
            out.write(raw)
            for name, dtype, shape in specs:
                t = produce(name)
                if t.dtype != dtype or tuple(t.shape) != tuple(shape):
                    raise RuntimeError(f"tensor {name}: produced {t.dtype} {tuple(t.shape)}, promised {dtype} {shape}")
                out.write(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def detect_arch(model: ModelFiles) -> str:
    """sd1 / sd2 / sdxl / tiny from the UNet's config (cross-attention width; the embedded tiny base's shapes) or
    the checkpoint's text-encoder layout and width."""
    if model.layout == "single-file":
        f = model.files[0]
        if any(k.startswith("conditioner.embedders.1.") for k in f.keys):
            return "sdxl"
        if any(k.startswith("cond_stage_model.model.") for k in f.keys):
            return "sd2"
        if not any(k.startswith("cond_stage_model.transformer.") for k in f.keys):
            return "unknown"
        # An SD1 layout whose CLIP is as wide and deep as the tiny base's (no real SD1 has a 32-wide text encoder).
        width = f.shapes.get(_SD1_TOKEN_EMBEDDING, (0, 0))[-1]
        deeper = any(k.startswith(f"{_SD1_TEXT_LAYERS}{tiny_text_layers()}.") for k in f.keys)
        return TINY_ARCH if width == tiny_text_width() and not deeper else "sd1"
    unet = _config(model.root / "unet")
    if unet and is_tiny_config(unet, _config(model.root / "text_encoder")):
        return TINY_ARCH
    cross = unet.get("cross_attention_dim")
    return {768: "sd1", 1024: "sd2", 2048: "sdxl"}.get(cross if isinstance(cross, int) else -1, "unknown")


_SD1_TOKEN_EMBEDDING = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"
_SD1_TEXT_LAYERS = "cond_stage_model.transformer.text_model.encoder.layers."


def _config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}
