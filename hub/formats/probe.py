"""What an adapter file is, from its header alone: kind, key format, base arch, rank, alpha, modules.

Safetensors files are read through their header (plus the bytes of scalar ``.alpha`` tensors);
pickles through the restricted unpickler with tensor stubs. Nothing here imports torch, so the
registry's ``hub ls``/``hub show`` stay light. Arch comes from shapes (:mod:`hub.formats.arch_detect`);
metadata and ``adapter_config.json`` only break ties and are quoted in ``evidence``.
"""

from __future__ import annotations

import math
import os
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.errors import BadFileError, NotFoundError
from hub.formats.arch_detect import (
    EMBEDDING_DIMS,
    arch_from_base_name,
    arch_from_dims,
    detect_arch,
    module_in_dim,
    module_out_dim,
    module_rank,
)
from hub.formats.key_styles import KeyGroups, ModuleEntry, Shape, group_modules
from hub.formats.peft_config import find_peft_config, names_text_encoder_2, probe_sidecar
from hub.formats.pickle_safe import PickledTensor, read_pickle_scalars, read_pickle_structure
from hub.formats.safetensors_header import MAX_HEADER_BYTES, read_header, read_scalars
from hub.models import COMPONENTS, ProbeResult

LEGACY_LIST_NOTE = (
    "cloneofsimo's nameless list format: tensors have no module names, so they cannot be placed; "
    "convert it with cloneofsimo's lora tools first"
)
# Formats whose tools never store alpha: their convention is alpha = rank (scale 1.0).
ALPHA_IS_RANK = {"diffusers-attn-procs", "diffusers-old", "diffusers-peft", "peft", "cloneofsimo", "broken-conversion"}
PEFT_FORMATS = {"peft", "diffusers-peft"}
# Keys of whole-model checkpoints (LDM single files, SDXL's conditioner, FLUX's transformer) people misfile as LoRAs.
FULL_CHECKPOINT_PREFIXES = ("model.diffusion_model.", "first_stage_model.", "conditioner.embedders.", "double_blocks.")
_FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2"}


@dataclass
class _Tensors:
    """What the prober knows of one file's tensors, whatever the container."""

    container: str
    shapes: dict[str, Shape]
    dtypes: dict[str, str]
    read_scalars: Callable[[list[str]], dict[str, float]]
    metadata: dict[str, str] = field(default_factory=dict)
    header_size: int | None = None
    truncated: bool = False


def probe_file(path: str | os.PathLike[str], *, adapter_config: dict[str, Any] | None = None) -> ProbeResult:
    """Probe one file. Raises :class:`BadFileError` (one line) for files that are not usable adapters."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"no such file: {p}")
    container = _sniff(p)
    if container == "json":
        return probe_sidecar(p)
    if container == "safetensors":
        header = read_header(p)
        tensors = _Tensors(
            "safetensors",
            {k: t.shape for k, t in header.tensors.items()},
            {k: t.dtype_name for k, t in header.tensors.items()},
            lambda names: read_scalars(header, names),
            header.metadata,
            header.header_size,
            header.truncated,
        )
        return _probe_tensors(p, tensors, adapter_config)
    return _probe_pickle(p, read_pickle_structure(p), adapter_config)


def _sniff(p: Path) -> str:
    """Container by content, not by extension (files get renamed)."""
    with open(p, "rb") as f:
        head = f.read(9)
    # safetensors first: a header length whose low byte is 0x80 looks like a pickle's PROTO opcode.
    if len(head) == 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] <= MAX_HEADER_BYTES:
        return "safetensors"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80"):
        return "pickle"
    if p.suffix.lower() == ".json":
        return "json"
    if p.suffix.lower() in (".pt", ".bin", ".ckpt", ".pth", ".pkl") and len(head) >= 8:
        return "pickle"  # protocol 0/1 pickles have no magic; the restricted unpickler says what is wrong
    return "safetensors"  # read_header explains what is wrong (placeholder, JSON text, corrupt length)


# ------------------------------------------------------------------------------------------ pickles


def _probe_pickle(p: Path, obj: Any, adapter_config: dict[str, Any] | None) -> ProbeResult:
    path = str(p)
    if isinstance(obj, PickledTensor):
        raise BadFileError(f"a bare tensor of shape {list(obj.shape)}, not an adapter (no names)", path=path)
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(t, PickledTensor) for t in obj):
        return _probe_legacy_list(list(obj))
    if not isinstance(obj, dict):
        raise BadFileError(f"a pickle of a {type(obj).__name__}, not an adapter", path=path)
    if not obj:
        raise BadFileError("an empty pickle: it holds no tensors", path=path)
    if isinstance(obj.get("string_to_param"), dict):
        return _probe_a1111(p, obj)
    if isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    flat = {k: v for k, v in _flatten(obj).items() if isinstance(v, PickledTensor)}
    if not flat:
        raise BadFileError("a pickle without tensors: not an adapter", path=path)
    tensors = _Tensors(
        "pickle",
        {k: t.shape for k, t in flat.items()},
        {k: t.dtype for k, t in flat.items()},
        lambda names: read_pickle_scalars(p, {n: flat[n] for n in names}),
    )
    return _probe_tensors(p, tensors, adapter_config)


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and not isinstance(v, PickledTensor):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _probe_legacy_list(tensors: list[PickledTensor]) -> ProbeResult:
    arch, why = arch_from_dims({d for t in tensors for d in t.shape})
    ranks = Counter(min(t.shape) for t in tensors if len(t.shape) == 2)
    rank = ranks.most_common(1)[0][0] if ranks else None
    return ProbeResult(
        kind="lora",
        format="cloneofsimo-legacy-list",
        arch=arch,  # type: ignore[arg-type]
        container="pickle",
        rank=rank,
        ranks=sorted(ranks),
        dtype=_dtype_summary(t.dtype for t in tensors),
        tensor_count=len(tensors),
        usable=False,
        note=LEGACY_LIST_NOTE,
        evidence=[f"a bare pickled list of {len(tensors)} tensors ({len(tensors) // 2} up/down pairs)", why],
    )


def _probe_a1111(p: Path, obj: dict[str, Any]) -> ProbeResult:
    params = [t for t in obj["string_to_param"].values() if isinstance(t, PickledTensor)]
    if not params:
        raise BadFileError("an A1111 embedding without vectors (string_to_param is empty)", path=str(p))
    t = params[0]
    vectors, dim = (t.shape[0], t.shape[-1]) if len(t.shape) == 2 else (1, t.shape[-1])
    arch = EMBEDDING_DIMS.get(dim, "unknown")
    evidence = [f"A1111 textual inversion (string_to_param), width {dim} -> {arch}"]
    if obj.get("sd_checkpoint_name"):
        evidence.append(f"trained on {obj['sd_checkpoint_name']!r} (step {obj.get('step')})")
    # A1111 types an embedding by its file's stem and ignores the `name` saved inside (badhandv4.pt says
    # "badhandv3"): the stem is the token; the saved name stays as metadata.
    metadata = {"a1111.name": obj["name"]} if isinstance(obj.get("name"), str) else {}
    if metadata and obj["name"] != p.stem:
        evidence.append(f"saved name {obj['name']!r}: A1111 ignores it, the trigger is the file's stem")
    return ProbeResult(
        kind="embedding",
        format="ti-a1111",
        arch=arch,  # type: ignore[arg-type]
        container="pickle",
        dtype=t.dtype,
        tensor_count=len(params),
        vectors=vectors,
        tokens=[p.stem],
        metadata=metadata,
        evidence=evidence,
    )


# ------------------------------------------------------------------------------- named tensor files


def _probe_tensors(p: Path, t: _Tensors, adapter_config: dict[str, Any] | None) -> ProbeResult:
    embedding = _embedding_format(t.shapes)
    if embedding:
        return _probe_embedding(p, t, *embedding)
    groups = group_modules(t.shapes)
    if not groups.modules:
        if any(k.startswith(FULL_CHECKPOINT_PREFIXES) for k in t.shapes):
            raise BadFileError(
                "a full Stable Diffusion checkpoint, not an adapter",
                path=str(p),
                hint="use it as the base of `hub fuse` or `hub extract`; hub catalogs adapters",
            )
        first = next(iter(t.shapes))
        raise BadFileError(f"no LoRA, LyCORIS or embedding keys (first key {first!r}): not an adapter", path=str(p))
    fmt = _lora_format(groups, t.metadata)
    evidence = [_format_evidence(fmt, groups)]
    config, config_why = find_peft_config(p, t.metadata, adapter_config) if fmt in PEFT_FORMATS else (None, None)
    if config_why:
        evidence.append(config_why)
    modules = list(groups.modules.values())
    if config and names_text_encoder_2(config):
        for m in modules:
            if m.component == "text_encoder":
                m.component = "text_encoder_2"
        evidence.append("adapter_config.json names the second text encoder")

    known = [m for m in modules if m.known or fmt == "cloneofsimo"]
    ranks = [r for m in modules if (r := module_rank(m))]
    if not ranks and t.metadata.get("ss_network_dim", "").isdigit():
        ranks = [int(t.metadata["ss_network_dim"])]
    rank = Counter(ranks).most_common(1)[0][0] if ranks else None
    common = {
        "format": fmt,
        "container": t.container,
        "rank": rank,
        "ranks": sorted(set(ranks)),
        "dtype": _dtype_summary(t.dtypes.values()),
        "tensor_count": len(t.shapes),
        "metadata": dict(t.metadata),
        "header_size": t.header_size,
        "truncated": t.truncated,
    }
    if not known:
        sample = modules[0].name
        return ProbeResult(
            kind="not-sd",
            evidence=[*evidence, f"no Stable Diffusion module names (e.g. {sample!r}): not an SD adapter"],
            **common,
        )

    arch, arch_why = _arch(fmt, known, t.metadata, config)
    evidence += arch_why
    alpha, scale, alpha_why = _alpha(fmt, modules, t, config, rank)
    evidence += alpha_why
    tokens, vectors = _bundled_tokens(fmt, groups, t.metadata)
    if len(known) < len(modules):
        evidence.append(f"{len(modules) - len(known)} modules with names outside SD were ignored")
    if any("dora_scale" in m.parts for m in modules):
        evidence.append("DoRA: weight-decomposed LoRA (dora_scale / lora_magnitude_vector)")
    usable, note = _usability(fmt)
    return ProbeResult(
        kind="lora+embedding" if tokens else "lora",
        arch=arch,  # type: ignore[arg-type]
        alpha=alpha,
        scale=scale,
        modules=_component_counts(known),
        tokens=tokens,
        vectors=vectors,
        usable=usable,
        note=note,
        evidence=evidence,
        **common,
    )


def _lora_format(groups: KeyGroups, metadata: dict[str, str]) -> str:
    style = groups.styles.most_common(1)[0][0]
    if style == "cloneofsimo":
        return "cloneofsimo"
    if style == "broken":
        return "broken-conversion"
    if style == "attn-procs":
        return "diffusers-attn-procs"
    if style == "diffusers-old":
        return "diffusers-old"
    if style == "lora-ab":
        return "peft" if groups.peft_wrapped else "diffusers-peft"
    roles = Counter(role for m in groups.modules.values() for role in m.parts)
    if roles["hada_w1_a"]:
        return "lycoris-loha"
    if roles["lokr_w1"] or roles["lokr_w1_a"]:
        return "lycoris-lokr"
    if roles["oft_blocks"] or roles["oft_diag"]:
        return "lycoris-oft"
    if roles["diff"] and not roles["down"]:
        return "lycoris-full"
    if metadata.get("ss_network_module", "").startswith("lycoris"):
        return "lycoris-locon"
    return "kohya"


def _format_evidence(fmt: str, groups: KeyGroups) -> str:
    sample = next(iter(groups.modules.values()))
    key = next(iter(sample.keys.values()))
    others = [s for s in groups.styles if s != groups.styles.most_common(1)[0][0]]
    extra = f" (also {', '.join(others)} keys)" if others else ""
    return f"{fmt} keys, e.g. {key!r}{extra}"


def _usability(fmt: str) -> tuple[bool, str | None]:
    if fmt in ("lycoris-oft", "lycoris-full"):
        return False, f"{fmt}: recognised, but there is no loader for this LyCORIS algorithm yet"
    if fmt == "broken-conversion":
        return True, "diffusers keys mangled by a bad kohya conversion (lora_unet_unet_...); read back as diffusers"
    return True, None


def _component_counts(modules: list[ModuleEntry]) -> dict[str, int]:
    counts = Counter(m.component for m in modules if m.component in COMPONENTS)
    return {c: counts[c] for c in COMPONENTS if counts[c]}


def _dtype_summary(dtypes: Any) -> str | None:
    floats = {d for d in dtypes if d in _FLOAT_DTYPES}
    if not floats:
        return None
    return floats.pop() if len(floats) == 1 else "mixed"


# --------------------------------------------------------------------------------------------- arch


def _arch(
    fmt: str, known: list[ModuleEntry], metadata: dict[str, str], config: dict[str, Any] | None
) -> tuple[str, list[str]]:
    hint = _base_hint(metadata, config)
    if fmt == "cloneofsimo":
        arch, why = arch_from_dims({d for m in known for d in (module_in_dim(m), module_out_dim(m)) if d})
        evidence = [f"modules named by index only; {why}"]
    else:
        arch, evidence = detect_arch(known, tie_breaker=hint)
    label = metadata.get("ss_base_model_version") or metadata.get("modelspec.architecture")
    meta_arch = arch_from_base_name(label)
    if label and meta_arch and arch != "unknown" and meta_arch != arch:
        evidence.append(f"metadata says {label!r} but the shapes say {arch}: trusting the shapes")
    return arch, evidence


def _base_hint(metadata: dict[str, str], config: dict[str, Any] | None) -> tuple[str, str] | None:
    base = (config or {}).get("base_model_name_or_path")
    arch = arch_from_base_name(base) if isinstance(base, str) else None
    if arch:
        short = str(base).replace("\\", "/").split("models--")[-1].split("/snapshots/")[0]
        return arch, f"adapter_config.json base_model_name_or_path {short!r} -> {arch}"
    for key in ("ss_base_model_version", "modelspec.architecture"):
        arch = arch_from_base_name(metadata.get(key))
        if arch:
            return arch, f"metadata {key}={metadata[key]!r} -> {arch}"
    return None


# -------------------------------------------------------------------------------------------- alpha


def _alpha(
    fmt: str, modules: list[ModuleEntry], t: _Tensors, config: dict[str, Any] | None, rank: int | None
) -> tuple[float | None, float | None, list[str]]:
    """``(alpha, scale, evidence)``: alpha is the most common value, scale only when alpha/rank is uniform."""
    alpha_keys = {m.keys["alpha"]: m for m in modules if "alpha" in m.parts}
    if alpha_keys:
        values = t.read_scalars(list(alpha_keys))
        if not values:
            return None, None, ["alpha tensors present but their bytes are missing (truncated file)"]
        alphas = [round(v, 6) for v in values.values()]
        alpha = Counter(alphas).most_common(1)[0][0]
        ratios = {round(v / r, 6) for k, v in values.items() if (r := module_rank(alpha_keys[k]) or rank)}
        scale = ratios.pop() if len(ratios) == 1 else None
        why = f"alpha {alpha:g} from {len(values)} .alpha tensors"
        if len(values) < len(alpha_keys):
            why += f" ({len(alpha_keys) - len(values)} more lie past the end of the truncated file)"
        if len(set(alphas)) > 1:
            why += f" (values vary: {sorted(set(alphas))[:4]})"
        return alpha, scale, [why]
    if config and isinstance(config.get("lora_alpha"), (int, float)):
        alpha = float(config["lora_alpha"])
        r = config.get("r") if isinstance(config.get("r"), int) else rank
        why = [f"alpha {alpha:g} from the PEFT config (r={r})"]
        if config.get("alpha_pattern") or config.get("rank_pattern"):
            why.append("PEFT config has per-module alpha/rank patterns: scale varies")
            return alpha, None, why
        if not r:
            return alpha, None, why
        if config.get("use_rslora"):
            why.append("rsLoRA: scale = alpha / sqrt(r)")
            return alpha, alpha / math.sqrt(r), why
        return alpha, alpha / r, why
    if rank is not None and (fmt in ALPHA_IS_RANK or fmt.startswith(("kohya", "lycoris"))):
        return float(rank), 1.0, ["no alpha stored anywhere: alpha = rank by convention (scale 1.0)"]
    return None, None, []


# ---------------------------------------------------------------------------------------- embeddings


def _embedding_format(shapes: dict[str, Shape]) -> tuple[str, list[str]] | None:
    """``(format, token keys)`` for pure embedding files, else None."""
    keys = set(shapes)
    if keys == {"emb_params"}:
        return "ti-emb-params", []
    if keys and keys <= {"clip_l", "clip_g"}:
        return "ti-sdxl", []
    if 0 < len(keys) <= 64 and all(
        1 <= len(s) <= 2 and s[-1] in EMBEDDING_DIMS and not k.endswith((".weight", ".bias", ".alpha"))
        for k, s in shapes.items()
    ):
        return "ti-diffusers", sorted(keys)
    return None


def _probe_embedding(p: Path, t: _Tensors, fmt: str, tokens: list[str]) -> ProbeResult:
    shapes = t.shapes
    if fmt == "ti-sdxl":
        arch, dim = "sdxl", shapes.get("clip_l", (0,))[-1]
        why = "clip_l/clip_g vectors: SDXL embedding"
    else:
        dim = next(iter(shapes.values()))[-1]
        arch = EMBEDDING_DIMS.get(dim, "unknown")
        why = f"embedding width {dim} -> {arch}"
    main = shapes["clip_l"] if fmt == "ti-sdxl" else None
    vectors = (main[0] if len(main) == 2 else 1) if main else sum(s[0] if len(s) == 2 else 1 for s in shapes.values())
    return ProbeResult(
        kind="embedding",
        format=fmt,
        arch=arch,  # type: ignore[arg-type]
        container=t.container,  # type: ignore[arg-type]
        dtype=_dtype_summary(t.dtypes.values()),
        tensor_count=len(shapes),
        vectors=vectors,
        tokens=tokens or [p.stem],
        metadata=dict(t.metadata),
        header_size=t.header_size,
        truncated=t.truncated,
        evidence=[f"{fmt} keys: {sorted(shapes)[:3]}", why],
    )


def _bundled_tokens(fmt: str, groups: KeyGroups, metadata: dict[str, str]) -> tuple[list[str], int | None]:
    """``(tokens, vectors)`` of embeddings shipped with a LoRA (cloneofsimo pivotal tuning, kohya ``bundle_emb``)."""
    if fmt == "cloneofsimo":
        marked = [k for k, v in metadata.items() if v == "<embed>" and k in groups.rest]
        keys = marked or [k for k, s in groups.rest.items() if 1 <= len(s) <= 2 and s[-1] in EMBEDDING_DIMS]
    else:
        keys = [k for k in groups.rest if k.startswith("bundle_emb.") and k.count(".") >= 2]
    if not keys:
        return [], None
    vectors = sum(groups.rest[k][0] if len(groups.rest[k]) == 2 else 1 for k in keys)
    tokens = sorted(keys) if fmt == "cloneofsimo" else sorted({k.split(".")[1] for k in keys})
    return tokens, vectors
