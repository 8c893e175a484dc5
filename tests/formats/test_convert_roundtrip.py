"""kohya -> LoraSet -> diffusers -> LoraSet -> kohya keeps every module's dense delta (convs included)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hub.formats.convert import convert_file
from hub.formats.kohya_names import from_kohya, to_kohya
from hub.formats.load import load_lora_set
from hub.formats.lora_set import LoraSet
from hub.formats.module_tables import packaged_table
from hub.formats.write import kohya_hashes, save_lora_set
from hub.testing import write_lora
from hub.testing.arch_shapes import table as arch_table


def _deltas(s: LoraSet) -> dict[str, torch.Tensor]:
    return {k: (m.scale * m.up.double() @ m.down.double()).reshape(m.weight_shape) for k, m in s.modules.items()}


def _assert_same(a: LoraSet, b: LoraSet) -> None:
    da, db = _deltas(a), _deltas(b)
    assert set(da) == set(db)
    for k in da:
        assert da[k].shape == db[k].shape, k
        torch.testing.assert_close(da[k], db[k], rtol=1e-6, atol=1e-7, msg=k)


@pytest.mark.parametrize("arch", ["tiny-sd1", "tiny-sdxl"])
@pytest.mark.parametrize("algo", ["lora", "locon", "loha", "lokr"])
def test_roundtrip_keeps_deltas(tmp_path: Path, arch: str, algo: str) -> None:
    src = write_lora(tmp_path / "a.safetensors", arch=arch, algo=algo, rank=4, alpha=3.0, conv=True, dtype="float32")
    first = load_lora_set(src, table=arch_table(arch))
    # placed on the tiny base's modules: the SD1 kind is the embedded base (arch tiny), the SDXL kind no known base
    assert first.arch == ("tiny" if arch == "tiny-sd1" else "unknown") and not first.names_only
    assert any(len(m.weight_shape) == 4 and m.weight_shape[2] == 3 for m in first.modules.values())
    # keep=None: LoHa/LoKr expanded to their exact factors (the default keeps 99% of the energy, bounded in size).
    exact = {"keep": None, "growth_limit": float("inf")}
    diffusers = convert_file(src, tmp_path / "b.safetensors", to="diffusers", table=arch_table(arch), **exact)
    second = load_lora_set(diffusers)
    kohya = convert_file(diffusers, tmp_path / "c.safetensors", to="kohya")
    third = load_lora_set(kohya)
    _assert_same(first, second)
    _assert_same(first, third)


def test_mixed_scales_and_ranks_survive_both_formats(tmp_path: Path) -> None:
    src = write_lora(tmp_path / "a.safetensors", arch="tiny-sd1", rank=4, alpha=2.0, conv=True, dtype="float32")
    lora_set = load_lora_set(src, table=arch_table("tiny-sd1"))
    for i, m in enumerate(lora_set.modules.values()):
        m.scale = -0.5 + 0.3 * (i % 4)
        if i % 3 == 0:
            m.up, m.down = m.up[:, :2].clone(), m.down[:2].clone()
    for fmt in ("kohya", "diffusers"):
        _assert_same(lora_set, load_lora_set(save_lora_set(lora_set, tmp_path / f"{fmt}.safetensors", fmt=fmt)))


def test_kohya_metadata_and_hashes(tmp_path: Path) -> None:
    from safetensors import safe_open

    src = write_lora(
        tmp_path / "a.safetensors", arch="sd1", rank=2, alpha=1.0, dtype="float32", components=["text_encoder"]
    )
    out = save_lora_set(load_lora_set(src), tmp_path / "k.safetensors", merged_from="a, b", title="mix")
    with safe_open(str(out), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    assert meta["ss_network_module"] == "networks.lora"
    assert meta["ss_network_dim"] == "2" and meta["ss_network_alpha"] == "1"
    assert meta["ss_base_model_version"] == "sd_v1"
    assert meta["modelspec.architecture"] == "stable-diffusion-v1/lora"
    assert meta["modelspec.sai_model_spec"] == "1.0.0"
    assert meta["modelspec.title"] == "mix" and meta["modelspec.merged_from"] == "a, b"
    assert (meta["sshs_model_hash"], meta["sshs_legacy_hash"]) == kohya_hashes(tensors, meta)
    # AutoV3 is the hash of the written file's data section (the data does not depend on the header).
    import hashlib

    blob = out.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    assert meta["sshs_model_hash"] == hashlib.sha256(blob[8 + n :]).hexdigest()
    assert all(k.startswith("lora_te_text_model_encoder_layers_") for k in tensors)


@pytest.mark.parametrize("arch", ["sd1", "sd2", "sdxl"])
def test_kohya_names_round_trip_for_every_real_module(arch: str) -> None:
    table = packaged_table(arch)
    assert table is not None and table.unet is not None
    two = arch == "sdxl"
    for key in (k for k in table.modules if k.startswith("unet.") or ".text_model.encoder." in k):
        assert from_kohya(to_kohya(key, two_text_encoders=two), table) == key
        if key.startswith("unet.") and table.unet.to_ldm(key[5:]) is not None:
            assert from_kohya(to_kohya(key, ldm_unet=table.unet, two_text_encoders=two), table) == key


def test_sdxl_names_both_styles() -> None:
    sdxl = packaged_table("sdxl")
    assert sdxl is not None
    key = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q"
    assert to_kohya(key, ldm_unet=sdxl.unet) == "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q"
    assert from_kohya("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", sdxl) == key
    assert from_kohya("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q", sdxl) == key
    assert from_kohya("lora_te2_text_model_encoder_layers_31_mlp_fc2", sdxl) == (
        "text_encoder_2.text_model.encoder.layers.31.mlp.fc2"
    )
    assert to_kohya("text_encoder.encoder.layers.0.self_attn.q_proj") == (
        "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
    )
    # without a table a name is only parsed: LDM paths stay LDM paths, and write back to the same name
    ldm = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q"
    parsed = from_kohya(ldm)
    assert parsed == "unet.input_blocks.4.1.transformer_blocks.0.attn1.to_q"
    assert to_kohya(parsed) == ldm
