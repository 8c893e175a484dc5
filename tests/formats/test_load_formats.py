"""Every real fixture with a usable LoRA format loads with finite deltas; scales, LyCORIS and bad keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from hub.errors import IncompatibleError, UnsupportedFormatError
from hub.formats.load import load_lora_set, read_tensors
from hub.formats.lycoris import tucker_weight
from hub.testing import write_lora

UNSUPPORTED = {"cloneofsimo", "cloneofsimo-legacy-list"}


def _manifest(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "MANIFEST.jsonl").read_text().splitlines() if line.strip()]


def _delta(m) -> torch.Tensor:
    return (m.scale * m.up.double() @ m.down.double()).reshape(m.weight_shape)


def test_every_usable_real_lora_loads(real_adapters: Path) -> None:
    seen = 0
    for row in _manifest(real_adapters):
        exp = row["expected"]
        if exp["kind"] not in ("lora", "lora+embedding") or exp.get("truncated"):
            continue
        path = real_adapters / row["file"]
        if exp["format"] in UNSUPPORTED:
            with pytest.raises(UnsupportedFormatError):
                load_lora_set(path)
            continue
        config = None
        if "adapter_model" in path.name:
            config = json.loads(
                path.with_name(path.name.replace("adapter_model.safetensors", "adapter_config.json")).read_text()
            )
        s = load_lora_set(path, adapter_config=config)
        assert s.arch == exp["arch"], row["file"]
        assert s.modules, row["file"]
        for key, m in s.modules.items():
            assert torch.isfinite(m.up).all() and torch.isfinite(m.down).all(), key
        if exp["format"] != "lycoris-lokr":
            assert {m.rank for m in s.modules.values()} == {exp["rank"]}, row["file"]
        seen += 1
    assert seen >= 17


def test_faithsang_pair_equal_deltas_scale_4(real_adapters: Path) -> None:
    folder = real_adapters / "lora"
    diffusers = load_lora_set(folder / "FaithSang__anime-lora-gnerator__model__pytorch_lora_weights.safetensors")
    peft = load_lora_set(folder / "FaithSang__anime-lora-gnerator__model__adapter_model.safetensors")  # sidecar found
    assert diffusers.source_format == "diffusers" and peft.source_format == "peft"
    assert set(diffusers.modules) == set(peft.modules) and len(peft.modules) == 96
    for key in peft.modules:
        assert peft.modules[key].scale == diffusers.modules[key].scale == 4.0
        torch.testing.assert_close(_delta(peft.modules[key]), _delta(diffusers.modules[key]), rtol=0, atol=0)


def test_real_lokr_materialises_exactly(real_adapters: Path) -> None:
    path = real_adapters / "lycoris" / "KohakuBlueleaf__LyCORIS__result__smart_falcon_4_lokr.safetensors"
    s = load_lora_set(path)
    tensors, _ = read_tensors(path)
    assert s.arch == "sd1" and len(s.modules) == 350
    for kohya, key in (
        ("lora_unet_down_blocks_0_resnets_1_conv1", "unet.down_blocks.0.resnets.1.conv1"),
        ("lora_te_text_model_encoder_layers_0_mlp_fc1", "text_encoder.text_model.encoder.layers.0.mlp.fc1"),
    ):
        t = {k.rpartition(".")[2]: v.double() for k, v in tensors.items() if k.startswith(kohya + ".")}
        w1, w2 = t["lokr_w1_a"] @ t["lokr_w1_b"], t["lokr_w2_a"] @ t["lokr_w2_b"]
        expected = torch.kron(w1, w2) * (float(t["alpha"]) / t["lokr_w1_b"].shape[0])
        module = s.modules[key]
        assert module.approximation and "exact" in module.approximation
        torch.testing.assert_close(_delta(module).reshape(expected.shape), expected, rtol=1e-4, atol=1e-6)
    assert s.modules["unet.down_blocks.0.resnets.1.conv1"].weight_shape == (320, 320, 3, 3)


@pytest.mark.parametrize("algo", ["loha", "lokr"])
def test_synthetic_lycoris_materialises_exactly(tmp_path: Path, algo: str) -> None:
    path = write_lora(
        tmp_path / "a.safetensors", arch="tiny-sd1", algo=algo, rank=4, alpha=3.0, conv=True, dtype="float32"
    )
    tensors, _ = read_tensors(path)
    s = load_lora_set(path)
    assert any("materialised" in n for n in s.notes)
    for key, module in s.modules.items():
        prefix = next(k for k in tensors if k.endswith(".alpha") and _same_module(k, key)).rpartition(".")[0]
        t = {k.rpartition(".")[2]: v.double() for k, v in tensors.items() if k.rpartition(".")[0] == prefix}
        if algo == "loha":
            r = t["hada_w1_b"].shape[0]
            dense = (t["hada_w1_a"] @ t["hada_w1_b"]) * (t["hada_w2_a"] @ t["hada_w2_b"]) * float(t["alpha"]) / r
        else:
            r = t["lokr_w2_b"].shape[0]
            dense = torch.kron(t["lokr_w1"], t["lokr_w2_a"] @ t["lokr_w2_b"]) * float(t["alpha"]) / r
        torch.testing.assert_close(_delta(module).reshape(dense.shape), dense, rtol=1e-5, atol=1e-7, msg=key)


def _same_module(kohya_key: str, canonical: str) -> bool:
    from hub.formats.kohya_names import to_kohya

    return kohya_key.rpartition(".")[0] == to_kohya(canonical)


def test_tucker_weight_matches_lycoris_einsum() -> None:
    t, wa, wb = torch.randn(2, 2, 3, 3), torch.randn(2, 5), torch.randn(2, 4)
    w = tucker_weight(t, wa, wb)
    assert w.shape == (5, 4, 3, 3)
    torch.testing.assert_close(w[1, 2], sum(wa[i, 1] * wb[j, 2] * t[i, j] for i in range(2) for j in range(2)))


def test_unknown_key_fails_loudly(tmp_path: Path) -> None:
    path = write_lora(tmp_path / "a.safetensors", arch="tiny-sd1", rank=2, dtype="float32")
    tensors, meta = read_tensors(path)
    tensors["lora_unet_down_blocks_0_attentions_0_proj_in.lora_weird.weight"] = torch.zeros(2)
    save_file(tensors, tmp_path / "bad.safetensors", metadata=meta)
    with pytest.raises(IncompatibleError, match="lora_weird"):
        load_lora_set(tmp_path / "bad.safetensors")
    # a module name that is no module of the model
    tensors.pop("lora_unet_down_blocks_0_attentions_0_proj_in.lora_weird.weight")
    tensors["lora_unet_nowhere_block_7.lora_down.weight"] = torch.zeros(2, 4)
    tensors["lora_unet_nowhere_block_7.lora_up.weight"] = torch.zeros(4, 2)
    save_file(tensors, tmp_path / "bad2.safetensors", metadata=meta)
    with pytest.raises(IncompatibleError, match="nowhere_block_7"):
        load_lora_set(tmp_path / "bad2.safetensors")
    save_file({"unet.down_blocks.0.attentions.0.proj_in.lora_B.bias": torch.zeros(4)}, tmp_path / "bad3.safetensors")
    with pytest.raises(IncompatibleError, match=r"lora_B\.bias"):
        load_lora_set(tmp_path / "bad3.safetensors")


@pytest.mark.parametrize("style", ["diffusers", "peft", "diffusers-old", "diffusers-attn-procs"])
def test_diffusers_styles_match_kohya(tmp_path: Path, style: str) -> None:
    from hub.testing import lora_targets

    # attention projections only: the one target set every style can hold, so both files get the same factors
    targets = {k: v for k, v in lora_targets("tiny-sd1").items() if k.startswith("unet.") and ".attn" in k}
    common = {"arch": "tiny-sd1", "rank": 4, "alpha": 2.0, "seed": 3, "dtype": "float32", "targets": targets}
    kohya = load_lora_set(write_lora(tmp_path / "k.safetensors", components=["unet"], **common))
    other = load_lora_set(write_lora(tmp_path / style / "d.safetensors", style=style, components=["unet"], **common))
    assert other.source_format == style
    assert len(kohya.modules) == len(targets) > 0  # the same attention modules in both files, none dropped
    assert set(other.modules) == set(kohya.modules)
    expected_scale = 1.0 if style in ("diffusers-old", "diffusers-attn-procs") else 0.5
    for key, m in other.modules.items():
        assert m.scale == expected_scale
        torch.testing.assert_close(m.up @ m.down, kohya.modules[key].up @ kohya.modules[key].down, msg=key)
