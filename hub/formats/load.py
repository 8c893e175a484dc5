"""Load any usable LoRA file into a :class:`LoraSet`.

Formats: kohya LoRA/LoCon (3x3 and Tucker convs), LyCORIS LoHa/LoKr (brought to exact LoRA factors,
see :mod:`hub.formats.lycoris`), diffusers attn-procs (``processor.to_q_lora.down``, with or without
``unet.``), old diffusers (``<module>.lora.down`` / ``lora_linear_layer``), PEFT ``lora_A/lora_B`` with a
component prefix, none, or ``base_model.model.``, and the "broken conversion" that prefixed a diffusers
key with ``lora_unet_``. Every key is placed or the load fails with :class:`IncompatibleError` naming it:
alphas are consumed, nothing is dropped.

Scales: kohya ``.alpha`` -> alpha/r (no alpha: 1). diffusers/PEFT -> lora_alpha/r (rank_pattern,
alpha_pattern, use_rslora honoured) from ``adapter_config.json`` beside the file or ``lora_adapter_metadata``
in the header; a file with neither has scale 1, as diffusers loads it.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from hub.errors import BadFileError, IncompatibleError, UnsupportedFormatError
from hub.formats.key_styles import DIFFUSERS_PREFIXES, KOHYA_ROLES, LYCORIS_ROLES
from hub.formats.kohya_names import from_kohya
from hub.formats.lora_set import LoraModule, LoraSet
from hub.formats.module_tables import TINY_ARCH, ModuleTable, canonical_text_encoder_key, packaged_table

_KOHYA_PREFIXES = ("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_")
# LoHa/LoKr parts are brought to LoRA factors; the other LyCORIS kinds (full diff, OFT, norms) are refused
_LYCORIS_SUFFIXES = frozenset(role for role in LYCORIS_ROLES if role.startswith(("hada_", "lokr_")))
_DORA = ("dora_scale", "lora_magnitude_vector")
_ATTN_PROC_LEAF = {"to_q": "to_q", "to_k": "to_k", "to_v": "to_v", "to_out": "to_out.0"}
_ATTN_PROC_TE_LEAF = {"to_q": "q_proj", "to_k": "k_proj", "to_v": "v_proj", "to_out": "out_proj"}


def _fail_unplaced(keys: list[str], what: str) -> IncompatibleError:
    shown = ", ".join(keys[:4]) + (f" (and {len(keys) - 4} more)" if len(keys) > 4 else "")
    return IncompatibleError(f"{len(keys)} key(s) cannot be placed as {what}: {shown}")


# ----- reading ------------------------------------------------------------------------------------------------


def read_tensors(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(tensors, safetensors ``__metadata__``) of a safetensors file or a torch pickle (through the safe loader)."""
    path = Path(path)
    if not path.is_file():
        raise BadFileError("no such file", path=str(path))
    with open(path, "rb") as f:
        head = f.read(10)
    # A store blob has no suffix: its bytes say what it is (a safetensors header's JSON starts at byte 8).
    if path.suffix == ".safetensors" or head[8:10] in (b'{"', b"{}"):
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                metadata = dict(f.metadata() or {})
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iterator)
            return tensors, metadata
        except Exception as e:
            from hub.formats.safetensors_header import read_header

            read_header(path)  # a cut-off or mislabelled file gets its own line
            raise BadFileError(f"unreadable safetensors ({str(e).splitlines()[0][:100]})", path=str(path)) from e
    from hub.formats.pickle_safe import load_pickle_tensors

    data = load_pickle_tensors(path)
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if isinstance(data, (list, tuple)):
        raise UnsupportedFormatError(
            "cloneofsimo legacy list pickle: a bare list of up/down tensors with no module names", path=str(path)
        )
    if not isinstance(data, dict):
        raise BadFileError(f"a pickle of {type(data).__name__}, not a state dict", path=str(path))
    return dict(data), {}


def _sidecar_config(path: Path) -> dict[str, Any] | None:
    """PEFT's adapter_config.json beside the file (or <prefix>adapter_config.json for <prefix>adapter_model)."""
    path = Path(path)
    names = ["adapter_config.json"]
    if "adapter_model" in path.name:
        names.insert(0, path.name.split("adapter_model")[0] + "adapter_config.json")
    side = next((path.with_name(n) for n in names if path.with_name(n).is_file()), None)
    if side is None:
        return None
    try:
        return json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BadFileError(f"unreadable adapter_config.json ({e})", path=str(side)) from e


# ----- architecture -----------------------------------------------------------------------------------------


def _fits_tiny(tensors: dict[str, Any]) -> bool:
    """Every module is one of the embedded tiny base's, with its widths (:func:`hub.formats.arch_detect.fits_tiny`)."""
    from hub.formats.arch_detect import fits_tiny
    from hub.formats.key_styles import group_modules

    groups = group_modules({k: tuple(getattr(t, "shape", ())) for k, t in tensors.items()})
    return fits_tiny(list(groups.modules.values()))


def guess_arch(tensors: dict[str, Any], metadata: dict[str, str], config: dict[str, Any] | None = None) -> str:
    """sd1/sd2/sdxl/flux/tiny/unknown from the keys and the cross-attention and text widths (metadata is not trusted
    first)."""
    keys = list(tensors)
    if any(k.startswith(("transformer.", "lora_transformer_")) for k in keys):
        return "flux"
    if _fits_tiny(tensors):
        return TINY_ARCH
    dims: set[int] = set()
    for k, t in tensors.items():
        low = k.replace("_", ".")
        if ("attn2.to.k" in low or "attn2.processor.to.k" in low) and t.dim() == 2:
            downs = ("lora_down", "lora.down", "lora_A", "to_k_lora.down", "lora_linear_layer.down")
            if any(s in k for s in downs) or k.endswith(".hada_w1_b"):
                dims.add(int(t.shape[1]))
            elif k.endswith((".lokr_w1", ".lokr_w1_b")):
                name = k.rpartition(".")[0]
                w2 = tensors.get(f"{name}.lokr_w2", tensors.get(f"{name}.lokr_w2_b"))
                if w2 is not None and w2.dim() == 2:
                    dims.add(int(t.shape[1]) * int(w2.shape[1]))
    for width, arch in ((2048, "sdxl"), (1024, "sd2"), (768, "sd1")):
        if width in dims:
            return arch
    te_widths = {int(t.shape[-1]) for k, t in tensors.items() if ("q_proj" in k or "q.proj" in k) and t.dim() == 2}
    if dims or (te_widths and not te_widths & {768, 1024, 1280}):
        return "unknown"  # text widths no real base has (a small or custom model): no name rule overrides them
    if any(k.startswith(("lora_te1_", "lora_te2_", "text_encoder_2.")) for k in keys):
        return "sdxl"
    base = str((config or {}).get("base_model_name_or_path") or metadata.get("ss_base_model_version") or "").lower()
    if "xl" in base:
        return "sdxl"
    if any(k.startswith("lora_te_") for k in keys):  # SD1/SD2 kohya naming; kohya records v2 explicitly
        return "sd2" if metadata.get("ss_v2") == "True" else "sd1"
    if 1024 in te_widths:
        return "sd2"
    if 768 in te_widths or "v1" in base or "1.5" in base or "1-5" in base:
        return "sd1"
    return "unknown"


# ----- kohya and LyCORIS -------------------------------------------------------------------------------------------


def _split_kohya_key(key: str) -> tuple[str, str]:
    """``lora_unet_x.lora_down.weight`` -> (module, suffix);
    the broken conversion ``lora_unet_unet_x_lora_down.weight``
    -> (``lora_unet_x``, ``lora_down.weight``)."""
    name, _, suffix = key.partition(".")
    for broken, fixed in (("lora_unet_unet_", "lora_unet_"), ("lora_te_text_encoder_", "lora_te_")):
        if name.startswith(broken) and suffix == "weight" and name.endswith(("_lora_down", "_lora_up")):
            base, _, which = name.rpartition("_lora_")
            return fixed + base[len(broken) :], f"lora_{which}.weight"
    return name, suffix


def _kohya_modules(
    tensors: dict[str, Any],
    table: ModuleTable | None,
    lycoris_rank_cap: int | None,
    notes: list[str],
    lycoris_keep: float | None = None,
) -> dict[str, LoraModule]:
    import torch

    groups: dict[str, dict[str, Any]] = defaultdict(dict)
    unplaced: list[str] = []
    broken = False
    for key, t in tensors.items():
        name, suffix = _split_kohya_key(key)
        broken |= name + "." + suffix != key
        if suffix in _DORA:
            raise UnsupportedFormatError(
                f"DoRA ({key}): its magnitude vector cannot be expressed as LoRA factors",
                hint="fuse it with a DoRA-aware tool first",
            )
        if suffix in KOHYA_ROLES or suffix in _LYCORIS_SUFFIXES:
            groups[name][KOHYA_ROLES.get(suffix, suffix)] = t
        else:
            unplaced.append(key)
    if unplaced:
        raise _fail_unplaced(unplaced, "kohya/LyCORIS tensors")
    if broken:
        notes.append("broken conversion repaired: diffusers keys flattened behind lora_unet_ (scale 1, no alpha)")

    modules: dict[str, LoraModule] = {}
    approximations: list[str] = []
    for name, parts in groups.items():
        canonical = from_kohya(name, table)
        if canonical is None:
            unplaced.append(name)
            continue
        parts = {k: (v.float() if isinstance(v, torch.Tensor) else v) for k, v in parts.items()}
        alpha = float(parts["alpha"]) if "alpha" in parts else None
        target = tuple(table.modules[canonical]) if table and canonical in table.modules else None
        if "down" in parts and "up" in parts:
            modules[canonical] = _kohya_lora(canonical, parts, alpha, target)
        elif "hada_w1_a" in parts or "lokr_w1" in parts or "lokr_w1_a" in parts:
            module = _lycoris_module(parts, alpha, target, lycoris_rank_cap, lycoris_keep)
            modules[canonical] = module
            approximations.append(module.approximation or "")
        else:
            raise IncompatibleError(f"{name}: incomplete module (has only {', '.join(sorted(parts))})")
    if unplaced:
        raise _fail_unplaced(unplaced, f"{table.name} modules" if table else "SD module names")
    if approximations:
        kind = "LoHa" if any(a.startswith("loha") for a in approximations) else "LoKr"
        capped = sum("capped" in a for a in approximations)
        how = (
            f"rank {lycoris_rank_cap}"
            if lycoris_rank_cap
            else f"{lycoris_keep:.2%} of the Frobenius norm"
            if lycoris_keep
            else "their numerical rank"
        )
        notes.append(
            f"{kind} materialised as exact LoRA factors for {len(approximations)} modules"
            + (f" ({capped} reduced to {how})" if capped else "")
        )
    return modules


def _kohya_lora(
    canonical: str, parts: dict[str, Any], alpha: float | None, target: tuple[int, ...] | None
) -> LoraModule:
    import torch

    down, up = parts["down"], parts["up"]
    r = int(down.shape[0])
    if "mid" in parts:  # Tucker LoCon: down (r, in, 1, 1), mid (r, r, k, k), up (out, r, 1, 1)
        mid = parts["mid"]
        down = torch.einsum("abhw,bi->aihw", mid, down.reshape(down.shape[0], -1))
    shape = (int(up.shape[0]), *down.shape[1:]) if down.dim() == 4 else (int(up.shape[0]), int(down.shape[1]))
    up2, down2 = up.reshape(up.shape[0], -1), down.reshape(down.shape[0], -1)
    if up2.shape[1] != down2.shape[0]:
        raise IncompatibleError(f"{canonical}: up {tuple(up.shape)} does not fit down {tuple(down.shape)}")
    if target is not None and math.prod(target) == up2.shape[0] * down2.shape[1]:
        shape = target
    scale = 1.0 if not alpha else alpha / r
    return LoraModule(up=up2.contiguous(), down=down2.contiguous(), scale=scale, weight_shape=tuple(shape))


def _lycoris_module(
    parts: dict[str, Any], alpha: float | None, target: tuple[int, ...] | None, cap: int | None, keep: float | None
) -> LoraModule:
    from hub.formats.lycoris import loha_factors, lokr_factors, reduce_factors

    if "hada_w1_a" in parts:
        up, down, shape4, r = loha_factors(parts)
        kind = "loha"
        scale = alpha / r if alpha else 1.0
    else:
        up, down, shape4, rank = lokr_factors(parts)
        kind = "lokr"
        # LyCORIS forces alpha = r when both Kronecker sides are full matrices (scale 1).
        scale = alpha / rank if (alpha and rank) else 1.0
    new_up, new_down, kept = reduce_factors(up, down, cap=cap, keep=keep)
    n_out, n_in = new_up.shape[0], new_down.shape[1]
    if shape4 is not None and math.prod(shape4) == n_out * n_in:
        shape: tuple[int, ...] = shape4
    elif target is not None and math.prod(target) == n_out * n_in:
        shape = target
    else:
        shape = (n_out, n_in)
    note = f"{kind} materialised, svd rank {new_up.shape[1]}"
    note += " (exact)" if kept > 1 - 1e-6 else f" (capped, {kept:.4%} of the Frobenius norm kept)"
    return LoraModule(up=new_up, down=new_down, scale=float(scale), weight_shape=shape, approximation=note, kept=kept)


# ----- diffusers and PEFT --------------------------------------------------------------------------------------------

_PEFT = re.compile(r"^(?P<m>.+)\.lora_(?P<w>A|B)(?:\.[A-Za-z_]\w*)?\.weight$")
_OLD = re.compile(r"^(?P<m>.+)\.(?:lora|lora_linear_layer)\.(?P<w>down|up)\.weight$")
_PROC = re.compile(r"^(?P<m>.+?)(?:\.processor)?\.(?P<leaf>to_q|to_k|to_v|to_out)_lora\.(?P<w>down|up)\.weight$")
_ALPHA = re.compile(r"^(?P<m>.+)\.alpha$")


def _component_of(path: str, default: str) -> tuple[str, str]:
    head, _, rest = path.partition(".")
    if head in DIFFUSERS_PREFIXES and rest:
        return head, rest
    if path.startswith(("text_model.", "encoder.layers.")):
        return ("text_encoder" if default == "unet" else default), path
    return default, path


def _diffusers_modules(
    tensors: dict[str, Any], metadata: dict[str, str], config: dict[str, Any] | None, notes: list[str]
) -> tuple[dict[str, LoraModule], str]:
    peft_component = "unet"
    if config:
        base_class = str((config.get("auto_mapping") or {}).get("base_model_class") or "")
        if base_class.startswith("CLIPTextModel"):
            peft_component = "text_encoder_2" if base_class == "CLIPTextModelWithProjection" else "text_encoder"
    factors: dict[str, dict[str, Any]] = defaultdict(dict)
    style = "diffusers"
    unplaced: list[str] = []
    for key, t in tensors.items():
        rest, default = key, "unet"
        if rest.startswith("base_model.model."):
            rest, default, style = rest[len("base_model.model.") :], peft_component, "peft"
        if any(d in rest for d in _DORA):
            raise UnsupportedFormatError(
                f"DoRA ({key}): its magnitude vector cannot be expressed as LoRA factors",
                hint="fuse it with a DoRA-aware tool first",
            )
        if m := _PEFT.match(rest):
            path, which = m["m"], "down" if m["w"] == "A" else "up"
        elif m := _PROC.match(rest):
            style = "diffusers-attn-procs"
            comp, _ = _component_of(m["m"], default)
            leaf = (_ATTN_PROC_TE_LEAF if comp.startswith("text_encoder") else _ATTN_PROC_LEAF)[m["leaf"]]
            path, which = f"{m['m']}.{leaf}", m["w"]
        elif m := _OLD.match(rest):
            path, which, style = m["m"], m["w"], "diffusers-old"
        elif m := _ALPHA.match(rest):
            path, which = m["m"], "alpha"
        else:
            unplaced.append(key)
            continue
        comp, path = _component_of(path, default)
        canonical = canonical_text_encoder_key(f"{comp}.{path}")
        factors[canonical][which] = t
    if unplaced:
        raise _fail_unplaced(unplaced, "diffusers/PEFT LoRA tensors")

    configs = _adapter_configs(metadata, config)
    if configs:
        notes.append("scale from " + ("adapter_config.json" if config else "lora_adapter_metadata"))
    modules: dict[str, LoraModule] = {}
    for canonical, parts in factors.items():
        if "down" not in parts or "up" not in parts:
            raise IncompatibleError(f"{canonical}: incomplete module (has only {', '.join(sorted(parts))})")
        down, up = parts["down"].float(), parts["up"].float()
        r = int(down.shape[0])
        shape = (int(up.shape[0]), *down.shape[1:]) if down.dim() == 4 else (int(up.shape[0]), int(down.shape[1]))
        scale = float(parts["alpha"]) / r if "alpha" in parts else _config_scale(configs, canonical, r)
        modules[canonical] = LoraModule(
            up=up.reshape(up.shape[0], -1).contiguous(),
            down=down.reshape(r, -1).contiguous(),
            scale=scale,
            weight_shape=tuple(int(s) for s in shape),
        )
    return modules, style


def _adapter_configs(metadata: dict[str, str], config: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Per component (``"*"`` = any) LoraConfig fields: r, lora_alpha, rank_pattern, alpha_pattern, use_rslora."""
    if config:
        return {"*": config}
    raw = metadata.get("lora_adapter_metadata")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise BadFileError(f"lora_adapter_metadata is not JSON ({e})") from e
    per: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, value in data.items():
        head, _, field = key.partition(".")
        if head in DIFFUSERS_PREFIXES and field:
            per[head][field] = value
        else:
            per["*"][key] = value
    return dict(per)


def _pattern_value(patterns: dict[str, Any], path: str) -> Any:
    """PEFT's ``get_pattern_key``: the first pattern p with ``(.*\\.)?(p)$`` matching the module path."""
    for key, value in (patterns or {}).items():
        if re.match(rf"(.*\.)?({key})$", path):
            return value
    return None


def _config_scale(configs: dict[str, dict[str, Any]], canonical: str, r: int) -> float:
    component, _, path = canonical.partition(".")
    cfg = configs.get(component) or configs.get("*")
    if not cfg:
        return 1.0
    candidates = [path, path.removeprefix("text_model.")]
    alpha = next((a for p in candidates if (a := _pattern_value(cfg.get("alpha_pattern") or {}, p)) is not None), None)
    if alpha is None:
        alpha = cfg.get("lora_alpha", cfg.get("r", r))
    if cfg.get("use_rslora"):
        return float(alpha) / (r**0.5)
    return float(alpha) / r


# ----- entry point ------------------------------------------------------------------------------------------------


def lora_set_from_tensors(
    tensors: dict[str, Any],
    metadata: dict[str, str] | None = None,
    *,
    arch: str | None = None,
    adapter_config: dict[str, Any] | None = None,
    lycoris_rank_cap: int | None = None,
    table: ModuleTable | None = None,
    lycoris_keep: float | None = None,
) -> LoraSet:
    """The pure part of :func:`load_lora_set`: a state dict (+ header metadata, + PEFT config) -> LoraSet.

    ``table``: the modules of the base the adapter is for (read from the user's base); default: the packaged
    table of the arch when it is a real base's, else none (kohya names are then only parsed, see
    :func:`hub.formats.kohya_names.from_kohya`)."""
    metadata = dict(metadata or {})
    if not tensors:
        raise BadFileError("no tensors: not a LoRA")
    keys = list(tensors)
    if any(":" in k and k.split(":", 1)[0] in ("unet", "text_encoder") for k in keys):
        raise UnsupportedFormatError(
            "cloneofsimo format (modules named by index only, unet:N:up/down): the index-to-module order depends on "
            "the diffusers version that trained it and cannot be placed reliably",
            hint="re-export it with a named format (kohya or diffusers)",
        )
    arch = arch or (table.arch if table and table.arch != "unknown" else None)
    arch = arch or guess_arch(tensors, metadata, adapter_config)
    table = table or packaged_table(arch)
    notes: list[str] = []
    kohya = [k for k in keys if k.startswith(_KOHYA_PREFIXES)]
    if kohya and len(kohya) != len(keys):
        raise _fail_unplaced([k for k in keys if not k.startswith(_KOHYA_PREFIXES)], "part of a kohya file")
    if kohya:
        modules = _kohya_modules(tensors, table, lycoris_rank_cap, notes, lycoris_keep)
        lycoris = any(k.rpartition(".")[2].startswith(("hada_", "lokr_")) for k in keys)
        source = (
            "lycoris"
            if lycoris
            else ("kohya-locon" if any(m.weight_shape[2:] not in ((), (1, 1)) for m in modules.values()) else "kohya")
        )
        if any(n.startswith("broken conversion") for n in notes):
            source = "broken-conversion"
    else:
        modules, source = _diffusers_modules(tensors, metadata, adapter_config, notes)
        _check_placed(modules, table)
    return LoraSet(arch=arch, modules=modules, metadata=metadata, source_format=source, notes=notes, table=table,
                   names_only=bool(kohya) and table is None)  # fmt: skip


def _check_placed(modules: dict[str, LoraModule], table: ModuleTable | None) -> None:
    """Diffusers-style keys name their module outright; on a base we know, it must exist with that shape."""
    if table is None:
        return
    missing = [k for k in modules if k not in table.modules]
    if missing:
        raise _fail_unplaced(missing, f"{table.name} modules")
    for key, module in modules.items():
        if tuple(table.modules[key])[:2] != tuple(module.weight_shape)[:2]:
            raise IncompatibleError(
                f"{key}: the adapter's shape {tuple(module.weight_shape)} does not fit the {table.name} module "
                f"{tuple(table.modules[key])}",
                hint="is this adapter for another base model?",
            )


def load_lora_set(
    path: str | Path,
    *,
    probe: Any = None,
    adapter_config: dict[str, Any] | None = None,
    arch: str | None = None,
    lycoris_rank_cap: int | None = None,
    label: str | None = None,
    table: ModuleTable | None = None,
    lycoris_keep: float | None = None,
) -> LoraSet:
    """Load ``path`` (safetensors or pickle) into a LoraSet; see the module docstring for formats and scales.

    ``probe``: a :class:`hub.models.ProbeResult` whose ``arch`` is trusted when known; ``adapter_config``: the PEFT
    config (default: ``adapter_config.json`` beside the file); ``lycoris_rank_cap``: cap the rank LoHa/LoKr
    modules are brought to (default: their exact rank); ``lycoris_keep``: bring each to the
    smallest rank keeping this Frobenius fraction; ``label``: how errors name the file (default: its
    path), e.g. a registry name for a store blob whose file name is a hash; ``table``: the base's modules (see
    :func:`lora_set_from_tensors`).
    """
    path = Path(path)
    tensors, metadata = read_tensors(path)
    if arch is None and probe is not None and getattr(probe, "arch", None) not in (None, "", "unknown"):
        arch = str(probe.arch)
    config = adapter_config
    if config is None and "lora_adapter_metadata" not in metadata:
        config = _sidecar_config(path)
    try:
        return lora_set_from_tensors(
            tensors,
            metadata,
            arch=arch,
            adapter_config=config,
            lycoris_rank_cap=lycoris_rank_cap,
            table=table,
            lycoris_keep=lycoris_keep,
        )
    except BadFileError as e:
        if e.path is None:
            raise type(e)(e.message, path=label or str(path), hint=e.hint) from e
        raise
    except IncompatibleError as e:
        raise IncompatibleError(f"{label or path.name}: {e.message}", hint=e.hint) from e
