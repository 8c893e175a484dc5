"""A diffusers SD1/SD2/SDXL pipeline folder rewritten as one original-layout (LDM/SGM) checkpoint, as A1111/civitai
ship bases: ``model.diffusion_model.`` (UNet), ``first_stage_model.`` (VAE), and the text encoders:
``cond_stage_model.transformer.`` (SD1's OpenAI CLIP, HF key names), ``cond_stage_model.model.`` (SD2's OpenCLIP:
q/k/v packed in ``in_proj``), or SDXL's two ``conditioner.embedders.0.transformer.`` (CLIP-L, HF names) and
``conditioner.embedders.1.model.`` (OpenCLIP bigG, its pooled ``text_projection`` stored as open_clip keeps it:
input by output, the transpose of the HF linear's weight).

For tests of single-file bases: nothing of that kind can be downloaded here. The UNet goes through the project's
one LDM map (:class:`hub.formats.unet_layout.UnetLayout`); the VAE and OpenCLIP names are those of the original
``ldm``/``open_clip`` modules. ``.ckpt`` is written as a Lightning-style pickle (``{"state_dict": ...}``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from hub.formats.unet_layout import UnetLayout

if TYPE_CHECKING:
    import torch

_VAE_TOP = {"conv_norm_out": "norm_out"}
_VAE_RESNET = {"conv_shortcut": "nin_shortcut"}
_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
_OPENCLIP_LAYER = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj",
                   "self_attn.out_proj": "attn.out_proj"}  # fmt: skip


def _load(folder: Path, component: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    (path,) = sorted((folder / component).glob("*.safetensors"))
    return load_file(str(path))


def _unet(folder: Path) -> dict[str, torch.Tensor]:
    layout = UnetLayout.from_config(json.loads((folder / "unet" / "config.json").read_text()))
    out = {}
    for key, tensor in _load(folder, "unet").items():
        ldm = layout.to_ldm(key)
        if ldm is None:
            raise ValueError(f"no LDM place for UNet key {key}")
        out[f"model.diffusion_model.{ldm}"] = tensor
    return out


def _vae_key(key: str, n_up: int) -> str:
    side, _, rest = key.partition(".")
    if side not in ("encoder", "decoder"):
        return key  # quant_conv, post_quant_conv
    m = re.fullmatch(r"(down|up)_blocks\.(\d+)\.(resnets|downsamplers|upsamplers)\.(\d+)\.(.+)", rest)
    if m:
        level = int(m[2]) if m[1] == "down" else n_up - 1 - int(m[2])  # LDM counts decoder levels from the bottom
        if m[3] == "resnets":
            layer = m[5].split(".")[0]
            return f"{side}.{m[1]}.{level}.block.{m[4]}.{m[5].replace(layer, _VAE_RESNET.get(layer, layer), 1)}"
        return f"{side}.{m[1]}.{level}.{'downsample' if m[1] == 'down' else 'upsample'}.{m[5]}"
    m = re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.+)", rest)
    if m:
        layer = m[2].split(".")[0]
        return f"{side}.mid.block_{int(m[1]) + 1}.{m[2].replace(layer, _VAE_RESNET.get(layer, layer), 1)}"
    m = re.fullmatch(r"mid_block\.attentions\.0\.(.+)\.(weight|bias)", rest)
    if m:
        return f"{side}.mid.attn_1.{_VAE_ATTENTION[m[1]]}.{m[2]}"
    name, _, param = rest.rpartition(".")
    return f"{side}.{_VAE_TOP.get(name, name)}.{param}"


def _vae(folder: Path) -> dict[str, torch.Tensor]:
    n_up = len(json.loads((folder / "vae" / "config.json").read_text())["up_block_types"])
    out = {}
    for key, tensor in _load(folder, "vae").items():
        ldm = _vae_key(key, n_up)
        if ".mid.attn_1." in ldm and tensor.ndim == 2:
            tensor = tensor[:, :, None, None]  # the original attention's q/k/v/proj_out are 1x1 convs
        out[f"first_stage_model.{ldm}"] = tensor
    return out


def _clip(folder: Path, component: str, prefix: str) -> dict[str, torch.Tensor]:
    """OpenAI CLIP under ``prefix`` with HF names; checkpoints keep CLIP's ``text_model.`` level, which
    transformers 5 no longer saves for ``CLIPTextModel``."""
    loaded = _load(folder, component)
    return {f"{prefix}{k if k.startswith('text_model.') else f'text_model.{k}'}": v for k, v in loaded.items()}


def _openclip(folder: Path, component: str, p: str) -> dict[str, torch.Tensor]:
    """OpenCLIP under ``p``: SD2's encoder (no projection saved: an identity stands in, as diffusers drops it)
    or SDXL's second (``CLIPTextModelWithProjection``: its projection, transposed)."""
    import torch

    loaded = _load(folder, component)
    projection = loaded.pop("text_projection.weight", None)
    state = {k if k.startswith("text_model.") else f"text_model.{k}": v for k, v in loaded.items()}
    out = {
        f"{p}token_embedding.weight": state.pop("text_model.embeddings.token_embedding.weight"),
        f"{p}positional_embedding": state.pop("text_model.embeddings.position_embedding.weight"),
        f"{p}ln_final.weight": state.pop("text_model.final_layer_norm.weight"),
        f"{p}ln_final.bias": state.pop("text_model.final_layer_norm.bias"),
    }
    width = out[f"{p}token_embedding.weight"].shape[1]
    # open_clip multiplies ``pooled @ text_projection``: its matrix is (width, projection), the HF weight's transpose.
    out[f"{p}text_projection"] = torch.eye(width) if projection is None else projection.T.contiguous()
    layers = sorted({int(m[1]) for k in state if (m := re.match(r"text_model\.encoder\.layers\.(\d+)\.", k))})
    for i in layers:
        src, dst = f"text_model.encoder.layers.{i}.", f"{p}transformer.resblocks.{i}."
        for part in ("weight", "bias"):
            qkv = [state.pop(f"{src}self_attn.{x}_proj.{part}") for x in "qkv"]
            out[f"{dst}attn.in_proj_{part}"] = torch.cat(qkv)
            for ours, theirs in _OPENCLIP_LAYER.items():
                out[f"{dst}{theirs}.{part}"] = state.pop(f"{src}{ours}.{part}")
    if state:
        raise ValueError(f"text encoder keys left unplaced: {sorted(state)[:3]}")
    return out


def ldm_state_dict(folder: str | Path) -> dict[str, torch.Tensor]:
    """Every weight of the SD1/SD2/SDXL pipeline ``folder`` under its original single-file key."""
    folder = Path(folder)
    index = json.loads((folder / "model_index.json").read_text())
    if "text_encoder_2" in index:
        text = {**_clip(folder, "text_encoder", "conditioner.embedders.0.transformer."),
                **_openclip(folder, "text_encoder_2", "conditioner.embedders.1.model.")}  # fmt: skip
    elif json.loads((folder / "text_encoder" / "config.json").read_text()).get("hidden_act") == "gelu":
        text = _openclip(folder, "text_encoder", "cond_stage_model.model.")
    else:
        text = _clip(folder, "text_encoder", "cond_stage_model.transformer.")
    return {**_unet(folder), **_vae(folder), **text}


def write_single_file(folder: str | Path, dest: str | Path) -> Path:
    """``folder``'s weights as one checkpoint: ``.safetensors``, or a ``.ckpt`` pickle as Lightning saved them."""
    dest = Path(dest)
    state = ldm_state_dict(folder)
    if dest.suffix == ".ckpt":
        import torch

        torch.save({"state_dict": state, "global_step": 0, "epoch": 0}, dest)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(dest))
    return dest
