"""Fuse into the tiny pipeline equals diffusers' own load_lora_weights + fuse_lora; single-file LDM fuse round trip;
extract of (base, fused) recovers the LoRA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from hub.compose import ops
from hub.compose.extract import extract
from hub.compose.fuse import fuse
from hub.compose.ldm_layout import unet_key_to_ldm
from hub.compose.model_files import write_safetensors_streaming
from hub.errors import IncompatibleError
from hub.formats.lora_set import LoraModule, LoraSet
from hub.formats.module_tables import canonical_text_encoder_key
from hub.formats.unet_layout import UnetLayout
from hub.paths import Paths
from hub.testing import lora_targets, tiny_pipeline_dir

UNET_W = "unet/diffusion_pytorch_model.safetensors"
TE_W = "text_encoder/model.safetensors"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """Built once for the module in a home of its own; LORAHUB_HOME stays each test's own."""
    return tiny_pipeline_dir("sd1", paths=Paths(tmp_path_factory.mktemp("home")))


def make_lora(seed: int, rank: int, *, text: bool, alpha: float) -> LoraSet:
    g = torch.Generator().manual_seed(seed)
    modules = {}
    for key, shape in lora_targets("tiny-sd1", conv=True).items():
        key = canonical_text_encoder_key(key)
        if key.startswith("text_encoder") and not text:
            continue
        inner = int(torch.tensor(shape[1:]).prod())
        up = torch.randn(shape[0], rank, generator=g) * 0.1
        down = torch.randn(rank, inner, generator=g) * 0.1
        modules[key] = LoraModule(up=up, down=down, scale=alpha / rank, weight_shape=tuple(shape))
    return LoraSet(arch="sd1", modules=modules)


def peft_state_dict(lora_set: LoraSet) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """The diffusers (PEFT-key) form of a LoraSet, for diffusers' own loader; alphas as network_alphas."""
    sd, alphas = {}, {}
    for key, mod in lora_set.modules.items():
        shape = mod.weight_shape
        down = mod.down.reshape(mod.rank, *shape[1:]) if len(shape) == 4 else mod.down
        up = mod.up.reshape(shape[0], mod.rank, 1, 1) if len(shape) == 4 else mod.up
        key = key.replace(".text_model.", ".")  # the installed transformers' module names
        sd[f"{key}.lora_A.weight"], sd[f"{key}.lora_B.weight"] = down.contiguous(), up.contiguous()
        alphas[f"{key}.alpha"] = mod.scale * mod.rank
    return sd, alphas


def diffusers_fused(tiny: Path, adapters: list[tuple[LoraSet, float]]) -> dict[str, dict[str, torch.Tensor]]:
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(tiny)
    names = []
    for i, (lora_set, _) in enumerate(adapters):
        sd, alphas = peft_state_dict(lora_set)
        unet_sd = {k: v for k, v in sd.items() if k.startswith("unet.")}
        unet_alphas = {k: v for k, v in alphas.items() if k.startswith("unet.")}
        pipe.load_lora_into_unet(unet_sd, unet_alphas, pipe.unet, adapter_name=f"a{i}")
        te_sd = {k: v for k, v in sd.items() if k.startswith("text_encoder.")}
        if te_sd:
            te_alphas = {k: v for k, v in alphas.items() if k.startswith("text_encoder.")}
            pipe.load_lora_into_text_encoder(te_sd, te_alphas, pipe.text_encoder, adapter_name=f"a{i}")
        names.append(f"a{i}")
    pipe.set_adapters(names, [w for _, w in adapters])
    pipe.fuse_lora(components=["unet", "text_encoder"], adapter_names=names)
    pipe.unload_lora_weights()
    return {"unet": pipe.unet.state_dict(), "text_encoder": pipe.text_encoder.state_dict()}


@pytest.mark.parametrize("text", [False, True], ids=["unet-only", "unet+text-encoder"])
def test_fuse_folder_equals_diffusers_fuse_lora(tiny, tmp_path, text):
    adapters = [(make_lora(1, 4, text=text, alpha=8.0), 0.7), (make_lora(2, 2, text=text, alpha=1.0), -0.5)]
    report = fuse(tiny, adapters, tmp_path / "fused", device="cpu")
    ours = {"unet": load_file(tmp_path / "fused" / UNET_W), "text_encoder": load_file(tmp_path / "fused" / TE_W)}
    theirs = diffusers_fused(tiny, adapters)
    base_unet = load_file(tiny / UNET_W)
    for comp in ("unet", "text_encoder"):
        for key, value in theirs[comp].items():
            torch.testing.assert_close(ours[comp][key], value, rtol=1e-5, atol=1e-5, msg=f"{comp} {key}")
    changed = sum(not torch.equal(ours["unet"][k], base_unet[k]) for k in base_unet)
    assert changed == sum(k.startswith("unet.") for k in adapters[0][0].modules)
    assert report.modules_fused == sum(len(s.modules) for s, _ in adapters)
    # the rest of the folder came along and the result loads as a pipeline
    assert (tmp_path / "fused" / "model_index.json").is_file()
    assert (tmp_path / "fused" / "tokenizer" / "vocab.json").is_file()
    assert (tmp_path / "fused" / "vae" / "diffusion_pytorch_model.safetensors").is_file()


def to_ldm_checkpoint(tiny: Path, dest: Path) -> None:
    """The tiny pipeline in the original single-file layout (UNet via our map, CLIP under cond_stage_model)."""
    layout = UnetLayout.from_config(json.loads((tiny / "unet" / "config.json").read_text()))
    sd = {unet_key_to_ldm(layout, k): v for k, v in load_file(tiny / UNET_W).items()}
    assert None not in sd
    sd.update({f"cond_stage_model.transformer.{k}": v for k, v in load_file(tiny / TE_W).items()})
    sd.update(
        {f"first_stage_model.{k}": v for k, v in load_file(tiny / "vae/diffusion_pytorch_model.safetensors").items()}
    )
    save_file(sd, dest)


def test_single_file_fuse_round_trip(tiny, tmp_path):
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    ckpt = tmp_path / "tiny.safetensors"
    to_ldm_checkpoint(tiny, ckpt)
    config = json.loads((tiny / "unet" / "config.json").read_text())
    # diffusers' own LDM -> diffusers converter agrees with our map on every UNet tensor
    back = convert_ldm_unet_checkpoint(load_file(ckpt), config)
    base_unet = load_file(tiny / UNET_W)
    assert set(back) == set(base_unet)
    assert all(torch.equal(back[k], base_unet[k]) for k in base_unet)

    adapters = [(make_lora(3, 4, text=True, alpha=4.0), 0.8)]
    fuse(ckpt, adapters, tmp_path / "fused.safetensors", device="cpu")
    fuse(tiny, adapters, tmp_path / "fused_dir", device="cpu")
    fused_ldm = load_file(tmp_path / "fused.safetensors")
    fused_unet = convert_ldm_unet_checkpoint(fused_ldm, config)
    expect_unet = load_file(tmp_path / "fused_dir" / UNET_W)
    for k, v in expect_unet.items():
        torch.testing.assert_close(fused_unet[k], v, rtol=0, atol=0)
    expect_te = load_file(tmp_path / "fused_dir" / TE_W)
    for k, v in expect_te.items():
        torch.testing.assert_close(fused_ldm[f"cond_stage_model.transformer.{k}"], v, rtol=0, atol=0)
    assert set(fused_ldm) == set(load_file(ckpt))  # same layout, nothing dropped or added


def test_fuse_refuses_modules_it_cannot_place(tiny, tmp_path):
    bad = make_lora(4, 2, text=False, alpha=2.0)
    bad.modules["unet.no_such_block.to_q"] = LoraModule(torch.ones(3, 1), torch.ones(1, 3), 1.0, (3, 3))
    with pytest.raises(IncompatibleError, match="no_such_block"):
        fuse(tiny, [(bad, 1.0)], tmp_path / "out", device="cpu")


def test_openclip_packed_qkv_placement():
    from hub.compose.ldm_layout import place_module

    keys = {"conditioner.embedders.1.model.transformer.resblocks.3.attn.in_proj_weight"}
    place, _ = place_module("text_encoder_2.text_model.encoder.layers.3.self_attn.k_proj", 1280, keys, None)
    assert place.rows == (1280, 2560)


def test_extract_recovers_the_lora(tiny, tmp_path):
    lora = make_lora(5, 3, text=True, alpha=3.0)
    fuse(tiny, [(lora, 1.0)], tmp_path / "tuned", device="cpu")
    red = extract(tiny, tmp_path / "tuned", rank=3, conv_rank=3, device="cpu", min_diff=0.0)
    assert set(red.lora_set.modules) == set(lora.modules)
    for key, mod in lora.modules.items():
        want = ops.module_delta(mod)
        got = ops.module_delta(red.lora_set.modules[key])
        # the fused model is float32: the delta comes back to float32 rounding of W + ΔW
        torch.testing.assert_close(got, want, rtol=1e-3, atol=2e-5, msg=key)


def test_streaming_writer_matches_safetensors(tmp_path):
    tensors = {"a": torch.randn(3, 4), "b": torch.arange(5, dtype=torch.int64), "c": torch.randn(2).to(torch.bfloat16)}
    specs = [(k, v.dtype, tuple(v.shape)) for k, v in tensors.items()]
    write_safetensors_streaming(tmp_path / "x.safetensors", specs, tensors.__getitem__, {"k": "v"})
    back = load_file(tmp_path / "x.safetensors")
    assert all(torch.equal(back[k], v) for k, v in tensors.items())
