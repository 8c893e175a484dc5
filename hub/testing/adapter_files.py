"""Writers of real-looking adapter files: kohya/LyCORIS, diffusers (three generations), PEFT, embeddings.

Keys, shapes, dtypes and metadata follow what the real tools write (see
/work/shared/research/composition-anchors.md and /work/shared/real-adapters), so that readers,
converters and diffusers' own loaders can be tested on them without downloading anything.
Values are seeded random factors with non-zero ``up`` (a freshly initialised kohya LoRA has
``up = 0``; a trained one does not), so every file changes the weights it targets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hub.testing.arch_shapes import lora_targets, unet_layout

if TYPE_CHECKING:
    import torch

Arch = Literal["tiny-sd1", "sd1", "sd2", "sdxl", "tiny-sdxl"]
Style = Literal["kohya", "diffusers", "peft", "diffusers-old", "diffusers-attn-procs"]
Algo = Literal["lora", "locon", "loha", "lokr"]
EmbeddingStyle = Literal["a1111-pt", "safetensors-emb-params", "diffusers", "sdxl"]

_SDXL_ARCHES = ("sdxl", "tiny-sdxl")
_ATTENTION_LEAVES = ("to_q", "to_k", "to_v", "to_out.0")

# What kohya writes for each base (ss_base_model_version, modelspec.architecture, modelspec.resolution).
_BASE_METADATA = {
    "sd1": ("sd_v1", "stable-diffusion-v1", "512x512"),
    "tiny-sd1": ("sd_v1", "stable-diffusion-v1", "64x64"),
    "sd2": ("sd_v2", "stable-diffusion-v2-768-v", "768x768"),
    "sdxl": ("sdxl_base_v1-0", "stable-diffusion-xl-v1-base", "1024x1024"),
    "tiny-sdxl": ("sdxl_base_v1-0", "stable-diffusion-xl-v1-base", "64x64"),
}


# --- names -----------------------------------------------------------------------------------------------------------


def _sgm_unet_path(path: str, arch: str) -> str:
    """diffusers UNet path -> the sgm/LDM path in kohya's SDXL UNet (down_blocks.1.attentions.0: input_blocks.4.1)."""
    return unet_layout(arch).to_ldm(path) or path  # type: ignore[arg-type]


def kohya_name(canonical: str, *, arch: str | None = None) -> str:
    """The kohya module name of a canonical ``<component>.<diffusers path>``.

    SD1/SD2 (``arch`` None or not SDXL): ``lora_unet_`` / ``lora_te_`` + the diffusers path with dots made underscores.
    SDXL (``arch="sdxl"|"tiny-sdxl"``): kohya trains SDXL on the original sgm UNet, so UNet names use its paths
    (``lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q``), and the encoders are ``lora_te1_``/``lora_te2_``.
    """
    component, _, path = canonical.partition(".")
    sdxl = arch in _SDXL_ARCHES
    if component == "unet":
        prefix, path = "lora_unet", _sgm_unet_path(path, arch) if sdxl else path  # type: ignore[arg-type]
    elif component == "text_encoder":
        prefix = "lora_te1" if sdxl else "lora_te"
    elif component == "text_encoder_2":
        prefix = "lora_te2"
    else:
        raise ValueError(f"unknown component {component!r} in {canonical!r}")
    return f"{prefix}_{path.replace('.', '_')}"


# --- factors ---------------------------------------------------------------------------------------------------------


def factorization(dimension: int, factor: int = -1) -> tuple[int, int]:
    """LyCORIS' split of a dimension into (small, large) factors for LoKr's Kronecker product."""
    if factor > 0 and dimension % factor == 0:
        m, n = factor, dimension // factor
        return (n, m) if m > n else (m, n)
    factor = dimension if factor < 0 else factor
    m, n = 1, dimension
    while m < n:
        new_m = m + 1
        while dimension % new_m != 0:
            new_m += 1
        new_n = dimension // new_m
        if new_m + new_n > m + n or new_m > factor:
            break
        m, n = new_m, new_n
    return (n, m) if m > n else (m, n)


def _factors(algo: str, shape: tuple[int, ...], rank: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Seeded factors for one module. ``down`` is Kaiming-scaled; ``up`` small but non-zero."""
    import torch

    out_dim, in_dim, kernel = shape[0], shape[1], tuple(shape[2:])
    fan_in = in_dim * (kernel[0] * kernel[1] if kernel else 1)
    r = min(rank, out_dim, fan_in)

    def randn(*size: int, std: float) -> torch.Tensor:
        return torch.randn(*size, generator=gen) * std

    if algo in ("lora", "locon"):
        down = randn(r, in_dim, *kernel, std=fan_in**-0.5)
        up = randn(out_dim, r, *((1, 1) if kernel else ()), std=0.05)
        return {"lora_down.weight": down, "lora_up.weight": up}
    if algo == "loha":
        # Conv LoHa without Tucker stores flattened (r, in*k*k) factors.
        std = (0.05 * fan_in**-0.5) ** 0.5
        return {
            "hada_w1_a": randn(out_dim, r, std=std),
            "hada_w1_b": randn(r, fan_in, std=std),
            "hada_w2_a": randn(out_dim, r, std=std),
            "hada_w2_b": randn(r, fan_in, std=std),
        }
    if algo == "lokr":
        out_l, out_k = factorization(out_dim)
        in_l, in_k = factorization(in_dim)
        r2 = min(rank, out_k, in_k * (fan_in // in_dim))
        return {
            "lokr_w1": randn(out_l, in_l, std=0.5),
            "lokr_w2_a": randn(out_k, r2, std=0.1),
            "lokr_w2_b": randn(r2, in_k * (fan_in // in_dim), std=fan_in**-0.5),
        }
    raise ValueError(f"unknown algo {algo!r}; expected lora, locon, loha or lokr")


# --- hashing and metadata --------------------------------------------------------------------------------------------


def safetensors_bytes(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """A safetensors serialisation whose bytes depend only on the inputs.

    safetensors writes ``__metadata__`` from a hash map, so its key order (and the file's bytes) change from run to
    run. The tensor layout is left to safetensors; only the header is rewritten, with sorted metadata.
    """
    import safetensors.torch

    raw = safetensors.torch.save(dict(tensors))
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    header.pop("__metadata__", None)
    if metadata:
        header = {"__metadata__": dict(sorted(metadata.items())), **header}
    encoded = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    encoded += b" " * (-len(encoded) % 8)  # safetensors pads the header to 8-byte alignment
    return len(encoded).to_bytes(8, "little") + encoded + raw[8 + header_len :]


def autov3_hash(data: bytes) -> str:
    """kohya's ``sshs_model_hash`` (A1111's AutoV3): sha256 of the bytes after the 8-byte length and JSON header."""
    header_len = int.from_bytes(data[:8], "little")
    return hashlib.sha256(data[8 + header_len :]).hexdigest()


def legacy_hash(data: bytes) -> str:
    """kohya's ``sshs_legacy_hash``: first 8 hex of sha256 over bytes [1 MiB, 1 MiB + 64 KiB) of the serialisation."""
    return hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]


def _kohya_metadata(arch: str, algo: str, rank: int, alpha: float, conv: bool, name: str, seed: int) -> dict[str, str]:
    base_version, architecture, resolution = _BASE_METADATA[arch]
    side = resolution.split("x")[0]
    lycoris = algo in ("loha", "lokr")
    network_args: dict[str, str] = {}
    if conv or lycoris:
        network_args.update({"conv_dim": str(rank), "conv_alpha": f"{alpha:g}"})
    if lycoris:
        network_args["algo"] = algo
    trigger = name.replace("-", " ").replace("_", " ")
    meta = {
        "ss_session_id": str(1_000_000 + seed),
        "ss_training_started_at": str(1_700_000_000.0 + seed),
        "ss_output_name": name,
        "ss_learning_rate": "0.0001",
        "ss_text_encoder_lr": "5e-05",
        "ss_unet_lr": "0.0001",
        "ss_num_train_images": "40",
        "ss_num_epochs": "10",
        "ss_epoch": "10",
        "ss_max_train_steps": "400",
        "ss_batch_size_per_device": "2",
        "ss_resolution": f"({side}, {side})",
        "ss_clip_skip": "2" if arch in ("sd1", "tiny-sd1") else "None",
        "ss_mixed_precision": "fp16",
        "ss_optimizer": "bitsandbytes.optim.adamw.AdamW8bit",
        "ss_lr_scheduler": "cosine",
        "ss_seed": str(seed),
        "ss_v2": str(arch == "sd2"),
        "ss_base_model_version": base_version,
        "ss_sd_model_name": {"sdxl": "sd_xl_base_1.0.safetensors", "sd2": "v2-1_768-ema-pruned.safetensors"}.get(
            arch.removeprefix("tiny-"), "v1-5-pruned-emaonly.safetensors"
        ),
        "ss_network_module": "lycoris.kohya" if lycoris else "networks.lora",
        "ss_network_dim": str(rank),
        "ss_network_alpha": f"{alpha:g}",
        "ss_training_comment": f"trigger word: {trigger}",
        "ss_tag_frequency": json.dumps({f"10_{trigger}": {trigger: 40, "solo": 31, "looking at viewer": 12}}),
        "ss_dataset_dirs": json.dumps({f"10_{trigger}": {"n_repeats": 10, "img_count": 40}}),
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": f"{architecture}/{'lycoris' if lycoris else 'lora'}",
        "modelspec.implementation": "https://github.com/Stability-AI/generative-models"
        if arch in _SDXL_ARCHES
        else "diffusers",
        "modelspec.title": name,
        "modelspec.resolution": resolution,
        "modelspec.date": "2024-05-01T12:00:00",
    }
    if network_args:
        meta["ss_network_args"] = json.dumps(network_args)
    return meta


# --- write_lora ------------------------------------------------------------------------------------------------------


def _select_targets(
    arch: str, style: str, algo: str, conv: bool, components: Iterable[str], targets: Mapping | None
) -> dict[str, tuple[int, ...]]:
    chosen = dict(targets) if targets is not None else lora_targets(arch, conv=conv or algo == "locon")  # type: ignore[arg-type]
    wanted = tuple(components)
    chosen = {name: tuple(shape) for name, shape in chosen.items() if name.split(".", 1)[0] in wanted}
    if style == "diffusers-attn-procs":
        # Attention processors only ever covered the UNet's attention projections.
        chosen = {n: s for n, s in chosen.items() if n.startswith("unet.") and n.endswith(_ATTENTION_LEAVES)}
    if not chosen:
        raise ValueError(f"no target modules for arch={arch!r}, style={style!r}, components={wanted!r}")
    return chosen


def _diffusers_key(style: str, name: str, factor: str) -> str:
    component, _, path = name.partition(".")
    if style == "diffusers":
        return f"{name}.{'lora_A' if factor == 'down' else 'lora_B'}.weight"
    if style == "peft":
        return f"base_model.model.{path}.{'lora_A' if factor == 'down' else 'lora_B'}.weight"
    if style == "diffusers-old":
        middle = "lora" if component == "unet" else "lora_linear_layer"
        return f"{name}.{middle}.{factor}.weight"
    # diffusers-attn-procs: unet.<attention>.processor.to_q_lora.down.weight
    attention, _, leaf = path.rpartition(".to_")
    leaf = "to_" + leaf.removesuffix(".0")
    return f"unet.{attention}.processor.{leaf}_lora.{factor}.weight"


def _lora_config(rank: int, alpha: float, modules: list[str]) -> dict[str, Any]:
    return {
        "r": rank,
        "lora_alpha": alpha,
        "target_modules": sorted(modules),
        "lora_dropout": 0.0,
        "bias": "none",
        "use_dora": False,
        "use_rslora": False,
        "init_lora_weights": True,
        "fan_in_fan_out": False,
        "peft_type": "LORA",
    }


def write_lora(
    path: Path,
    *,
    arch: Arch = "tiny-sd1",
    style: Style = "kohya",
    algo: Algo = "lora",
    rank: int = 4,
    alpha: float | None = None,
    components: Iterable[str] | None = None,
    conv: bool = False,
    dtype: str = "float16",
    seed: int = 0,
    metadata: dict[str, str] | None = None,
    targets: Mapping[str, tuple[int, ...]] | None = None,
) -> Path:
    """Write a realistic adapter file for ``arch`` and return its path.

    ``targets`` (canonical name -> weight shape) defaults to :func:`lora_targets` (with convs when ``conv`` or
    ``algo="locon"``); ``components`` filters them (default: unet + text encoder(s); unet only for the
    ``peft`` and ``diffusers-attn-procs`` styles, which hold one model). ``alpha`` defaults to ``rank / 2``
    (scale 0.5, so that a reader ignoring alpha is caught). LoHa/LoKr exist in kohya style only.

    Styles: ``kohya`` (lora_down/lora_up/alpha + ss_* metadata and sshs hashes), ``diffusers`` (``unet.<path>.lora_A``
    + ``lora_adapter_metadata``), ``peft`` (``base_model.model.<path>.lora_A`` + ``adapter_config.json`` beside),
    ``diffusers-old`` (``unet.<path>.lora.down``, no alpha), ``diffusers-attn-procs`` (``processor.to_q_lora.down``).
    """
    import torch

    path = Path(path)
    if algo in ("loha", "lokr") and style != "kohya":
        raise ValueError(f"{algo} files exist only in kohya/LyCORIS style, not {style!r}")
    if components is None:
        one_model = style in ("peft", "diffusers-attn-procs")
        components = ("unet",) if one_model else ("unet", "text_encoder", "text_encoder_2")
    components = tuple(components)
    if style == "peft" and len(components) != 1:
        raise ValueError("a PEFT adapter_model.safetensors holds one model; pass a single component")
    alpha = rank / 2 if alpha is None else float(alpha)
    torch_dtype = getattr(torch, {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}.get(dtype, dtype))
    chosen = _select_targets(arch, style, algo, conv, components, targets)

    gen = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for name, shape in chosen.items():
        factors = _factors(algo, shape, rank, gen)
        if style == "kohya":
            prefix = kohya_name(name, arch=arch)
            for key, value in factors.items():
                tensors[f"{prefix}.{key}"] = value.to(torch_dtype).contiguous()
            tensors[f"{prefix}.alpha"] = torch.tensor(alpha, dtype=torch_dtype)
        else:
            tensors[_diffusers_key(style, name, "down")] = factors["lora_down.weight"].to(torch_dtype).contiguous()
            tensors[_diffusers_key(style, name, "up")] = factors["lora_up.weight"].to(torch_dtype).contiguous()

    header: dict[str, str]
    if style == "kohya":
        header = _kohya_metadata(arch, algo, rank, alpha, conv or algo == "locon", path.stem, seed)
        header.update(metadata or {})
        # kohya hashes the file as serialised with its ss_* metadata only, then adds the hashes.
        draft = safetensors_bytes(tensors, {k: v for k, v in header.items() if k.startswith("ss_")})
        header["sshs_model_hash"] = autov3_hash(draft)
        header["sshs_legacy_hash"] = legacy_hash(draft)
    else:
        header = {"format": "pt"}
        if style == "diffusers":
            packed: dict[str, Any] = {}
            for component in components:
                # Without "text_model.": PEFT matches by suffix, so this finds the encoder's modules whether
                # transformers nests them under text_model (4.x) or not (5.x, flattened CLIPTextModel).
                modules = [
                    n.partition(".")[2].removeprefix("text_model.") for n in chosen if n.startswith(component + ".")
                ]
                if modules:
                    packed.update({f"{component}.{k}": v for k, v in _lora_config(rank, alpha, modules).items()})
            header["lora_adapter_metadata"] = json.dumps(packed, indent=2, sort_keys=True)
        header.update(metadata or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(safetensors_bytes(tensors, header))
    if style == "peft":
        config = _lora_config(rank, alpha, [n.partition(".")[2] for n in chosen])
        config.update({"base_model_name_or_path": None, "task_type": None, "inference_mode": True})
        (path.parent / "adapter_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


# --- embeddings ------------------------------------------------------------------------------------------------------


def write_embedding(
    path: Path,
    *,
    style: EmbeddingStyle = "a1111-pt",
    dim: int = 768,
    vectors: int = 2,
    token: str = "tok",
    seed: int = 0,
) -> Path:
    """Write a textual-inversion embedding of ``vectors`` x ``dim`` (SDXL: ``clip_l`` 768 + ``clip_g`` 1280).

    ``a1111-pt``: a torch pickle ``{"string_to_token", "string_to_param": {"*": T}, "name", "step", ...}``;
    ``safetensors-emb-params``: ``{"emb_params": T}``; ``diffusers``: ``{"<token>": T}`` (learned_embeds);
    ``sdxl``: ``{"clip_l": ..., "clip_g": ...}`` (``dim`` is ignored: the widths are CLIP-L's and bigG's).
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)

    def vecs(width: int) -> torch.Tensor:
        # Real embeddings sit near the token-embedding scale (~0.01-0.02 std).
        return (torch.randn(vectors, width, generator=gen) * 0.015).contiguous()

    if style == "a1111-pt":
        data = {
            "string_to_token": {"*": 265},
            "string_to_param": {"*": vecs(dim)},
            "name": token,
            "step": 3000,
            "sd_checkpoint": "cc6cb27103",
            "sd_checkpoint_name": "v1-5-pruned-emaonly",
        }
        torch.save(data, path)
    elif style == "safetensors-emb-params":
        path.write_bytes(safetensors_bytes({"emb_params": vecs(dim)}))
    elif style == "diffusers":
        name = token if token.startswith("<") else f"<{token}>"
        path.write_bytes(safetensors_bytes({name: vecs(dim)}, {"format": "pt"}))
    elif style == "sdxl":
        path.write_bytes(safetensors_bytes({"clip_g": vecs(1280), "clip_l": vecs(768)}))
    else:
        raise ValueError(f"unknown embedding style {style!r}")
    return path


def write_sample_library(folder: Path, *, base: Path | None = None, count: int = 8) -> list[Path]:
    """A folder of sample adapters with A1111/Civitai sidecars and previews; see :mod:`hub.testing.sample_library`."""
    from hub.testing.sample_library import write_sample_library as write

    return write(folder, base=base, count=count)
