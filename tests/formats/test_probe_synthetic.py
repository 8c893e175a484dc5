"""The prober on hand-built files with realistic shapes: every key style and arch rule, plus bad headers."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from hub.errors import BadFileError
from hub.formats.probe import probe_file
from hub.formats.safetensors_header import read_header

REPO_ROOT = Path(__file__).resolve().parents[2]
F16 = np.float16


def kohya(name: str, in_dim: int, out_dim: int, rank: int = 4, alpha: float | None = None, kernel: int = 0) -> dict:
    """One kohya module: lora_down [r, in(, k, k)], lora_up [out, r(, 1, 1)], optional scalar alpha."""
    down = (rank, in_dim, kernel, kernel) if kernel else (rank, in_dim)
    up = (out_dim, rank, 1, 1) if kernel else (out_dim, rank)
    t = {f"{name}.lora_down.weight": np.zeros(down, F16), f"{name}.lora_up.weight": np.zeros(up, F16)}
    if alpha is not None:
        t[f"{name}.alpha"] = np.array(alpha, dtype=F16)
    return t


def ab(name: str, in_dim: int, out_dim: int, rank: int = 4) -> dict:
    return {
        f"{name}.lora_A.weight": np.zeros((rank, in_dim), F16),
        f"{name}.lora_B.weight": np.zeros((out_dim, rank), F16),
    }


def te_layers(prefix: str, width: int, layers: int = 2, rank: int = 4, alpha: float | None = None, sep: str = "_"):
    t: dict = {}
    for i in range(layers):
        base = f"{prefix}text_model{sep}encoder{sep}layers{sep}{i}{sep}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t |= kohya(f"{base}self_attn{sep}{proj}", width, width, rank, alpha)
        t |= kohya(f"{base}mlp{sep}fc1", width, width * 4, rank, alpha)
    return t


def unet_attn(block: str, channels: int, context: int, rank: int = 4, alpha: float | None = None, tb: int = 0):
    base = f"lora_unet_{block}_transformer_blocks_{tb}_"
    t = {}
    for proj in ("to_q", "to_k", "to_v", "to_out_0"):
        t |= kohya(f"{base}attn1_{proj}", channels, channels, rank, alpha)
    t |= kohya(f"{base}attn2_to_q", channels, channels, rank, alpha)
    t |= kohya(f"{base}attn2_to_k", context, channels, rank, alpha)
    t |= kohya(f"{base}attn2_to_v", context, channels, rank, alpha)
    return t


def write(tmp_path: Path, name: str, tensors: dict, metadata: dict | None = None) -> Path:
    path = tmp_path / name
    save_file(tensors, str(path), metadata=metadata)
    return path


# ------------------------------------------------------------------------------------------- kohya


def test_kohya_sd1_with_alpha(tmp_path: Path) -> None:
    t = te_layers("lora_te_", 768, alpha=8.0, rank=16)
    t |= unet_attn("down_blocks_0_attentions_0", 320, 768, rank=16, alpha=8.0)
    t |= kohya("lora_unet_down_blocks_0_attentions_0_proj_in", 320, 320, 16, 8.0, kernel=1)
    r = probe_file(write(tmp_path, "sd1.safetensors", t, {"ss_network_module": "networks.lora"}))
    assert (r.kind, r.format, r.arch) == ("lora", "kohya", "sd1")
    assert (r.rank, r.ranks, r.alpha, r.scale) == (16, [16], 8.0, 0.5)
    assert r.modules == {"unet": 8, "text_encoder": 10}
    assert r.dtype == "float16" and r.tensor_count == len(t) and r.metadata == {"ss_network_module": "networks.lora"}
    assert r.header_size == read_header(tmp_path / "sd1.safetensors").header_size and not r.truncated


def test_kohya_sd2(tmp_path: Path) -> None:
    t = te_layers("lora_te_", 1024) | unet_attn("down_blocks_1_attentions_0", 640, 1024)
    r = probe_file(write(tmp_path, "sd2.safetensors", t))
    assert (r.format, r.arch, r.alpha, r.scale) == ("kohya", "sd2", 4.0, 1.0)  # no .alpha: alpha = rank
    assert any("alpha = rank" in e for e in r.evidence)


def test_kohya_sdxl_two_text_encoders(tmp_path: Path) -> None:
    t = te_layers("lora_te1_", 768) | te_layers("lora_te2_", 1280)
    t |= unet_attn("input_blocks_4_1", 640, 2048, tb=1)
    r = probe_file(write(tmp_path, "sdxl.safetensors", t))
    assert r.arch == "sdxl" and r.modules == {"unet": 7, "text_encoder": 10, "text_encoder_2": 10}


def test_sdxl_unet_only_by_cross_attention_and_by_layout(tmp_path: Path) -> None:
    cross = unet_attn("down_blocks_2_attentions_0", 1280, 2048)
    assert probe_file(write(tmp_path, "x.safetensors", cross)).arch == "sdxl"
    # No attn2 k/v at all (an attn1-only slider): SDXL's 10 transformer blocks per deep attention give it away.
    attn1 = {}
    for tb in range(10):
        attn1 |= kohya(f"lora_unet_down_blocks_2_attentions_0_transformer_blocks_{tb}_attn1_to_q", 1280, 1280)
    r = probe_file(write(tmp_path, "slider.safetensors", attn1))
    assert r.arch == "sdxl" and any("transformer_blocks index 9" in e for e in r.evidence)
    only_deep = kohya("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q", 640, 640)
    only_deep |= kohya("lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_q", 1280, 1280)
    assert probe_file(write(tmp_path, "deep.safetensors", only_deep)).arch == "sdxl"


def test_sd1_and_sd2_unet_only_by_proj_in(tmp_path: Path) -> None:
    base = kohya("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", 320, 320)
    sd1 = base | kohya("lora_unet_down_blocks_0_attentions_0_proj_in", 320, 320, kernel=1)
    sd2 = base | kohya("lora_unet_down_blocks_0_attentions_0_proj_in", 320, 320)
    assert probe_file(write(tmp_path, "a.safetensors", sd1)).arch == "sd1"
    assert probe_file(write(tmp_path, "b.safetensors", sd2)).arch == "sd2"
    r = probe_file(write(tmp_path, "c.safetensors", base))
    assert r.arch == "unknown" and any("SD1 or SD2" in e for e in r.evidence)


@pytest.mark.parametrize(("width", "arch"), [(768, "sd1"), (1024, "sd2")])
def test_text_encoder_only(tmp_path: Path, width: int, arch: str) -> None:
    r = probe_file(write(tmp_path, "te.safetensors", te_layers("lora_te_", width)))
    assert r.arch == arch and r.modules == {"text_encoder": 10}


def test_kohya_locon_3x3_convs(tmp_path: Path) -> None:
    t = unet_attn("down_blocks_0_attentions_0", 320, 768, alpha=4.0)
    t |= kohya("lora_unet_down_blocks_0_resnets_0_conv1", 320, 320, rank=8, alpha=1.0, kernel=3)
    locon = probe_file(write(tmp_path, "locon.safetensors", t, {"ss_network_module": "lycoris.kohya"}))
    assert (locon.format, locon.arch, locon.rank, locon.ranks) == ("lycoris-locon", "sd1", 4, [4, 8])
    assert locon.alpha == 4.0 and locon.scale is None  # conv alpha/rank differs: no single scale
    plain = probe_file(write(tmp_path, "kohya_conv.safetensors", t, {"ss_network_module": "networks.lora"}))
    assert plain.format == "kohya"


def test_lycoris_loha(tmp_path: Path) -> None:
    t = {}
    for name, (i, o) in {"attn2_to_k": (768, 320), "attn2_to_v": (768, 320), "attn1_to_q": (320, 320)}.items():
        m = f"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_{name}"
        for w in ("w1", "w2"):
            t[f"{m}.hada_{w}_a"] = np.zeros((o, 8), F16)
            t[f"{m}.hada_{w}_b"] = np.zeros((8, i), F16)
        t[f"{m}.alpha"] = np.array(8.0, F16)
    r = probe_file(write(tmp_path, "loha.safetensors", t))
    assert (r.kind, r.format, r.arch, r.rank, r.alpha, r.scale) == ("lora", "lycoris-loha", "sd1", 8, 8.0, 1.0)


@pytest.mark.parametrize(("w2_in", "arch"), [(96, "sd1"), (256, "sdxl")])
def test_lycoris_lokr_full_w1_decomposed_w2(tmp_path: Path, w2_in: int, arch: str) -> None:
    m = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    t = {
        f"{m}.lokr_w1": np.zeros((8, 8), F16),  # Kronecker factor 1: [out_a, in_a]
        f"{m}.lokr_w2_a": np.zeros((80, 4), F16),  # factor 2 = w2_a @ w2_b: [out_b, r] @ [r, in_b]
        f"{m}.lokr_w2_b": np.zeros((4, w2_in), F16),
        f"{m}.alpha": np.array(2.0, F16),
    }
    r = probe_file(write(tmp_path, "lokr.safetensors", t))
    assert (r.kind, r.format, r.arch, r.rank, r.alpha, r.scale) == ("lora", "lycoris-lokr", arch, 4, 2.0, 0.5)
    assert any(f"in-dim {8 * w2_in}" in e for e in r.evidence)


def test_dora_scale_is_noted(tmp_path: Path) -> None:
    t = unet_attn("down_blocks_0_attentions_0", 320, 768)
    t["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.dora_scale"] = np.zeros((1, 768), F16)
    r = probe_file(write(tmp_path, "dora.safetensors", t))
    assert r.format == "kohya" and any("DoRA" in e for e in r.evidence)


# -------------------------------------------------------------------------------------------- FLUX


def test_flux_kohya_ignores_lying_metadata(tmp_path: Path) -> None:
    t = kohya("lora_unet_double_blocks_0_img_attn_qkv", 3072, 9216, 16, 16.0)
    t |= kohya("lora_unet_double_blocks_0_txt_mlp_0", 3072, 12288, 16, 16.0)
    t |= kohya("lora_unet_single_blocks_0_linear1", 3072, 21504, 16, 16.0)
    t |= kohya("lora_unet_single_blocks_0_linear2", 15360, 3072, 16, 16.0)
    r = probe_file(write(tmp_path, "flux.safetensors", t, {"ss_base_model_version": "sd_v1"}))
    assert (r.format, r.arch, r.rank, r.alpha, r.scale) == ("kohya", "flux", 16, 16.0, 1.0)
    assert r.modules == {"transformer": 4}
    assert any("metadata says 'sd_v1'" in e for e in r.evidence)


def test_flux_diffusers(tmp_path: Path) -> None:
    t = ab("transformer.transformer_blocks.0.attn.to_q", 3072, 3072, 8)
    t |= ab("transformer.transformer_blocks.0.attn.add_k_proj", 3072, 3072, 8)
    t |= ab("transformer.single_transformer_blocks.3.proj_out", 15360, 3072, 8)
    r = probe_file(write(tmp_path, "flux_d.safetensors", t))
    assert (r.format, r.arch, r.rank, r.alpha) == ("diffusers-peft", "flux", 8, 8.0)
    assert r.modules == {"transformer": 3}


# ------------------------------------------------------------------------------- diffusers / PEFT


def test_diffusers_peft_sdxl_with_prefixes(tmp_path: Path) -> None:
    t = ab("unet.down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k", 2048, 640)
    t |= ab("text_encoder.text_model.encoder.layers.0.self_attn.q_proj", 768, 768)
    t |= ab("text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj", 1280, 1280)
    r = probe_file(write(tmp_path, "pytorch_lora_weights.safetensors", t))
    assert (r.format, r.arch) == ("diffusers-peft", "sdxl")
    assert r.modules == {"unet": 1, "text_encoder": 1, "text_encoder_2": 1}


def test_peft_alpha_from_metadata_and_from_sidecar(tmp_path: Path) -> None:
    t = ab("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k", 768, 320, 4)
    meta = {"lora_adapter_metadata": json.dumps({"r": 4, "lora_alpha": 16})}
    r = probe_file(write(tmp_path, "m.safetensors", t, meta))
    assert (r.format, r.alpha, r.scale) == ("diffusers-peft", 16.0, 4.0)

    peft_dir = tmp_path / "peft"
    peft_dir.mkdir()
    wrapped = {f"base_model.model.{k}": v for k, v in t.items()}
    path = write(peft_dir, "adapter_model.safetensors", wrapped)
    (peft_dir / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8, "peft_type": "LORA"}))
    r = probe_file(path)
    assert (r.format, r.arch, r.alpha, r.scale) == ("peft", "sd1", 8.0, 2.0)
    assert any("adapter_config.json beside the file" in e for e in r.evidence)
    # rsLoRA scales by sqrt(r)
    r = probe_file(path, adapter_config={"r": 4, "lora_alpha": 8, "use_rslora": True})
    assert r.scale == 4.0


def test_peft_text_encoder_tie_break_and_text_encoder_2(tmp_path: Path) -> None:
    t = {f"base_model.model.{k}": v for k, v in ab("text_model.encoder.layers.0.self_attn.q_proj", 768, 768).items()}
    path = write(tmp_path, "adapter_model.safetensors", t)
    assert probe_file(path).arch == "sd1"
    xl = probe_file(path, adapter_config={"r": 4, "lora_alpha": 4, "base_model_name_or_path": "stabilityai/sdxl-base"})
    assert xl.arch == "sdxl" and xl.modules == {"text_encoder": 1}
    te2 = {
        f"base_model.model.{k}": v for k, v in ab("text_model.encoder.layers.0.self_attn.q_proj", 1280, 1280).items()
    }
    cfg = {"r": 4, "lora_alpha": 4, "auto_mapping": {"base_model_class": "CLIPTextModelWithProjection"}}
    r = probe_file(write(tmp_path, "te2.safetensors", te2), adapter_config=cfg)
    assert r.arch == "sdxl" and r.modules == {"text_encoder_2": 1}


def test_attn_procs_and_old_diffusers_keys(tmp_path: Path) -> None:
    procs = {
        "unet.mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.down.weight": np.zeros(
            (4, 1024), F16
        ),
        "unet.mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.up.weight": np.zeros(
            (1280, 4), F16
        ),
    }
    assert probe_file(write(tmp_path, "p.safetensors", procs)).format == "diffusers-attn-procs"
    old = {
        "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora.down.weight": np.zeros((4, 1024), F16),
        "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora.up.weight": np.zeros((1280, 4), F16),
        "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.down.weight": np.zeros(
            (4, 1024), F16
        ),
        "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.up.weight": np.zeros(
            (1024, 4), F16
        ),
    }
    r = probe_file(write(tmp_path, "o.safetensors", old))
    assert (r.format, r.arch, r.modules) == ("diffusers-old", "sd2", {"unet": 1, "text_encoder": 1})


# -------------------------------------------------------------------------------------- embeddings


def test_sdxl_embedding(tmp_path: Path) -> None:
    t = {"clip_l": np.zeros((3, 768), F16), "clip_g": np.zeros((3, 1280), F16)}
    r = probe_file(write(tmp_path, "neg.safetensors", t))
    assert (r.kind, r.format, r.arch, r.vectors, r.tokens) == ("embedding", "ti-sdxl", "sdxl", 3, ["neg"])


def test_kohya_bundled_embedding_is_lora_plus_embedding(tmp_path: Path) -> None:
    t = unet_attn("down_blocks_0_attentions_0", 320, 768)
    t["bundle_emb.sks.string_to_param.*"] = np.zeros((2, 768), F16)
    r = probe_file(write(tmp_path, "bundle.safetensors", t))
    assert (r.kind, r.tokens, r.vectors) == ("lora+embedding", ["sks"], 2)


def test_plain_state_dict_is_not_an_adapter(tmp_path: Path) -> None:
    t = {"conv1.weight": np.zeros((32, 3, 3, 3), F16), "fc.bias": np.zeros((10,), F16)}
    with pytest.raises(BadFileError, match="not an adapter"):
        probe_file(write(tmp_path, "cnn.safetensors", t))


def test_kohya_prefix_with_foreign_names_is_not_sd(tmp_path: Path) -> None:
    t = kohya("lora_unet_encoder_block_0_layer_0_SelfAttention_q", 768, 768)
    r = probe_file(write(tmp_path, "odd.safetensors", t))
    assert r.kind == "not-sd" and r.arch == "unknown"


# ------------------------------------------------------------------------------ headers and speed


def test_bad_headers_give_one_clear_line(tmp_path: Path) -> None:
    cases = {
        "placeholder.safetensors": (b"\r\n", "placeholder"),
        "text.safetensors": (b'{\n  "lora_te1_x.alpha": {"shape": []}\n}\n', "text/JSON file"),
        "huge.safetensors": (struct.pack("<Q", 10**12) + b"{}", "announce"),
        "empty.safetensors": (struct.pack("<Q", 2) + b"{}", "holds no tensors"),
        "garbage.safetensors": (struct.pack("<Q", 4) + b"\xff\xfe\x00\x01", "not valid JSON"),
    }
    for name, (content, phrase) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(BadFileError) as info:
            read_header(path)
        assert phrase in str(info.value) and "\n" not in str(info.value) and info.value.path == str(path), name
        with pytest.raises(BadFileError):
            probe_file(path)


def test_header_length_starting_with_brace_byte_is_still_safetensors(tmp_path: Path) -> None:
    # Writers that do not pad the header to 8 bytes can produce N = 0x17b, whose first byte is "{" (0x7b):
    # that must not be mistaken for a JSON text file.
    header = {
        "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": {
            "dtype": "F16",
            "shape": [4, 768],
            "data_offsets": [0, 6144],
        }
    }
    raw = json.dumps(header).encode()
    raw += b" " * (0x17B - len(raw))
    path = tmp_path / "brace.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(6144))
    assert path.read_bytes()[0] == 0x7B
    assert read_header(path).header_size == 8 + 0x17B
    assert probe_file(path).arch == "sd1"


def test_a_sparse_300mb_file_and_its_truncation_probe(tmp_path: Path) -> None:
    # A 300 MB kohya file, sparse on disk: only the header may be read.
    entries, offset = {}, 0
    for i in range(400):
        for part, shape in (("lora_down.weight", [32, 3072]), ("lora_up.weight", [3072, 32])):
            n = shape[0] * shape[1] * 2
            entries[f"lora_unet_double_blocks_{i % 19}_img_mlp_{i}.{part}"] = {
                "dtype": "F16",
                "shape": shape,
                "data_offsets": [offset, offset + n],
            }
            offset += n
    raw = json.dumps(entries).encode()
    raw += b" " * (-len(raw) % 8)
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    assert os.path.getsize(path) > 150_000_000
    r = probe_file(path)  # its speed: benchmarks/bench_probe_and_shapes.py
    assert (r.arch, r.rank, r.truncated) == ("flux", 32, False)
    with open(path, "r+b") as f:
        f.truncate(1_000_000)
    assert probe_file(path).truncated


def test_probe_never_imports_torch(tmp_path: Path) -> None:
    st = write(tmp_path, "a.safetensors", te_layers("lora_te_", 768))
    code = (
        "import sys; from hub.formats.probe import probe_file; "
        f"r = probe_file({str(st)!r}); print(r.arch, 'torch' in sys.modules, 'diffusers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["sd1", "False", "False"]
