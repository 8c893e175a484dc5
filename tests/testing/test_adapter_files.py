"""Adapter files written by hub.testing: real shapes and counts, real metadata, and diffusers' own loader agrees."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from hub.testing import (
    build_tiny_pipeline,
    kohya_name,
    lora_targets,
    module_shapes,
    write_embedding,
    write_lora,
    write_sample_library,
)
from hub.testing.adapter_files import factorization
from hub.testing.arch_shapes import canonical_name, table


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-pipelines-adapters")
    return {kind: build_tiny_pipeline(root / kind, kind=kind, seed=0) for kind in ("sd1", "sdxl")}


def _load_pipe(folder: Path):
    from diffusers import DiffusionPipeline

    return DiffusionPipeline.from_pretrained(folder, local_files_only=True)


def _metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), "pt") as f:
        return f.metadata() or {}


# --- shapes and counts of the real bases --------------------------------------------------------------------------


def _count(targets: dict[str, tuple[int, ...]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in targets:
        component = name.split(".", 1)[0]
        counts[component] = counts.get(component, 0) + 1
    return counts


def test_lora_target_counts_match_kohya() -> None:
    # kohya SD1.5 LoRA: 264 modules (528 factor keys + 264 alphas), 350 with conv_dim (LoCon).
    assert _count(lora_targets("sd1")) == {"unet": 192, "text_encoder": 72}
    assert len(lora_targets("sd1", conv=True)) == 350
    # SD2.1: same UNet layout, OpenCLIP-H's 23 layers.
    assert _count(lora_targets("sd2")) == {"unet": 192, "text_encoder": 138}
    # kohya SDXL LoRA: 722 UNet (70 transformer blocks x 10 + 11 x proj_in/out) + 72 te1 + 192 te2.
    assert _count(lora_targets("sdxl")) == {"unet": 722, "text_encoder": 72, "text_encoder_2": 192}
    assert len(lora_targets("sdxl", conv=True)) == 1052


def test_real_base_shapes() -> None:
    sd1, sd2, sdxl = module_shapes("sd1"), module_shapes("sd2"), module_shapes("sdxl")
    # SD1 projects with 1x1 convs, SD2/SDXL with linears.
    assert sd1["unet.down_blocks.0.attentions.0.proj_in"] == (320, 320, 1, 1)
    assert sd2["unet.down_blocks.0.attentions.0.proj_in"] == (320, 320)
    assert sd1["unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k"] == (320, 768)
    assert sd2["unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k"] == (320, 1024)
    assert sdxl["unet.down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_k"] == (1280, 2048)
    assert sd1["unet.mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj"] == (10240, 1280)
    assert sd1["text_encoder.text_model.encoder.layers.11.mlp.fc1"] == (3072, 768)
    assert sd2["text_encoder.text_model.encoder.layers.22.self_attn.q_proj"] == (1024, 1024)
    assert "text_encoder.text_model.encoder.layers.23.self_attn.q_proj" not in sd2
    assert sdxl["text_encoder_2.text_model.encoder.layers.31.mlp.fc2"] == (1280, 5120)
    assert sdxl["unet.add_embedding.linear_1"] == (1280, 2816)
    assert lora_targets("sd1", conv=True)["unet.up_blocks.3.resnets.0.conv1"] == (320, 960, 3, 3)


def test_shapes_are_built_once_and_copied_out() -> None:
    # their speed: benchmarks/bench_probe_and_shapes.py
    for arch in ("sd1", "sd2", "sdxl", "tiny-sd1", "tiny-sdxl"):
        assert table(arch) is table(arch)  # cached: the tiny ones are built on the meta device once
        shapes = module_shapes(arch)  # type: ignore[arg-type]
        shapes.clear()  # a caller's copy: the cached table is untouched
        assert module_shapes(arch) and lora_targets(arch, conv=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown arch"):
        module_shapes("sd3")  # type: ignore[arg-type]


# --- names --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("canonical", "arch", "expected"),
    [
        (
            "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
            None,
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
        ),
        (
            "text_encoder.text_model.encoder.layers.0.self_attn.q_proj",
            "sd1",
            "lora_te_text_model_encoder_layers_0_self_attn_q_proj",
        ),
        ("unet.up_blocks.3.attentions.2.proj_out", "sd1", "lora_unet_up_blocks_3_attentions_2_proj_out"),
        # kohya's SDXL UNet is the sgm one: names as in real SDXL LoRAs.
        (
            "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
            "sdxl",
            "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q",
        ),
        (
            "unet.mid_block.attentions.0.transformer_blocks.9.ff.net.2",
            "sdxl",
            "lora_unet_middle_block_1_transformer_blocks_9_ff_net_2",
        ),
        ("unet.up_blocks.1.attentions.2.proj_in", "sdxl", "lora_unet_output_blocks_5_1_proj_in"),
        ("unet.down_blocks.0.resnets.1.conv1", "sdxl", "lora_unet_input_blocks_2_0_in_layers_2"),
        ("unet.down_blocks.1.downsamplers.0.conv", "sdxl", "lora_unet_input_blocks_6_0_op"),
        ("unet.up_blocks.0.upsamplers.0.conv", "sdxl", "lora_unet_output_blocks_2_2_conv"),
        ("unet.mid_block.resnets.1.time_emb_proj", "sdxl", "lora_unet_middle_block_2_emb_layers_1"),
        (
            "text_encoder.text_model.encoder.layers.0.mlp.fc1",
            "sdxl",
            "lora_te1_text_model_encoder_layers_0_mlp_fc1",
        ),
        (
            "text_encoder_2.text_model.encoder.layers.31.self_attn.out_proj",
            "sdxl",
            "lora_te2_text_model_encoder_layers_31_self_attn_out_proj",
        ),
    ],
)
def test_kohya_name(canonical: str, arch: str | None, expected: str) -> None:
    assert kohya_name(canonical, arch=arch) == expected


# --- diffusers loads our files onto exactly the right modules -------------------------------------------------------


def _factor_keys(style: str, name: str, arch: str) -> tuple[str, str, str | None]:
    """(down key, up key, alpha key) of canonical module ``name`` in a file of ``style``."""
    component, _, path = name.partition(".")
    if style == "kohya":
        k = kohya_name(name, arch=arch)
        return f"{k}.lora_down.weight", f"{k}.lora_up.weight", f"{k}.alpha"
    if style == "diffusers":
        return f"{name}.lora_A.weight", f"{name}.lora_B.weight", None
    if style == "diffusers-old":
        mid = "lora" if component == "unet" else "lora_linear_layer"
        return f"{name}.{mid}.down.weight", f"{name}.{mid}.up.weight", None
    attention, _, leaf = path.rpartition(".to_")
    proc = f"unet.{attention}.processor.to_{leaf.removesuffix('.0')}_lora"
    return f"{proc}.down.weight", f"{proc}.up.weight", None


def _expected_delta(tensors: dict, style: str, name: str, arch: str, rank: int, alpha: float) -> torch.Tensor:
    down_key, up_key, alpha_key = _factor_keys(style, name, arch)
    down, up = tensors[down_key].float(), tensors[up_key].float()
    if style == "kohya":
        scale = tensors[alpha_key].item() / down.shape[0]
    elif style == "diffusers":
        scale = alpha / rank
    else:
        scale = 1.0  # the old formats carry no alpha
    delta = up.flatten(1) @ down.flatten(1)
    return scale * delta.reshape(up.shape[0], *down.shape[1:])


CASES = [
    # (kind, style, components, conv)
    ("sd1", "kohya", ("unet",), False),
    ("sd1", "kohya", ("unet", "text_encoder"), False),
    ("sd1", "kohya", ("unet", "text_encoder"), True),
    ("sd1", "diffusers", ("unet",), False),
    ("sd1", "diffusers", ("unet", "text_encoder"), False),
    ("sd1", "diffusers-old", ("unet", "text_encoder"), False),
    ("sd1", "diffusers-attn-procs", ("unet",), False),
    ("sdxl", "kohya", ("unet", "text_encoder", "text_encoder_2"), True),
    ("sdxl", "diffusers", ("unet", "text_encoder", "text_encoder_2"), False),
]


@pytest.mark.parametrize(("kind", "style", "components", "conv"), CASES)
def test_diffusers_loads_and_fuses_exactly_the_expected_deltas(
    tiny_dirs: dict[str, Path], tmp_path: Path, kind: str, style: str, components: tuple[str, ...], conv: bool
) -> None:
    arch, rank, alpha, lora_scale = f"tiny-{kind}", 4, 2.0, 0.7
    path = write_lora(
        tmp_path / "a.safetensors",
        arch=arch,  # type: ignore[arg-type]
        style=style,  # type: ignore[arg-type]
        rank=rank,
        alpha=alpha,
        components=components,
        conv=conv,
        seed=3,
    )
    tensors = load_file(str(path))
    pipe = _load_pipe(tiny_dirs[kind])
    models = {c: getattr(pipe, c) for c in ("unet", "text_encoder", "text_encoder_2") if hasattr(pipe, c)}
    before = {canonical_name(c, m, k): v.clone() for c, m in models.items() for k, v in m.state_dict().items()}
    before_vae = {k: v.clone() for k, v in pipe.vae.state_dict().items()}

    pipe.load_lora_weights(str(path))
    pipe.fuse_lora(components=list(models), lora_scale=lora_scale)
    pipe.unload_lora_weights()  # drops the LoRA layers, keeps the fused weights

    targets = lora_targets(arch, conv=conv)  # type: ignore[arg-type]
    targets = {n: s for n, s in targets.items() if n.split(".", 1)[0] in components}
    if style == "diffusers-attn-procs":
        targets = {n: s for n, s in targets.items() if n.endswith(("to_q", "to_k", "to_v", "to_out.0"))}
    assert len(targets) * 2 == sum(1 for k in tensors if not k.endswith(".alpha"))

    after = {canonical_name(c, m, k): v for c, m in models.items() for k, v in m.state_dict().items()}
    assert after.keys() == before.keys()
    changed = {k.removesuffix(".weight") for k in after if not torch.equal(after[k], before[k])}
    assert changed == set(targets)  # every target moved, nothing else did
    for name in targets:
        expected = lora_scale * _expected_delta(tensors, style, name, arch, rank, alpha)
        got = after[f"{name}.weight"] - before[f"{name}.weight"]
        torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-6, msg=name)
    assert all(torch.equal(v, pipe.vae.state_dict()[k]) for k, v in before_vae.items())


# --- file contents ---------------------------------------------------------------------------------------------------


def test_kohya_file_has_kohya_metadata_and_a_true_autov3_hash(tmp_path: Path) -> None:
    path = write_lora(tmp_path / "my-style.safetensors", arch="sd1", rank=2, alpha=1, seed=1)
    meta = _metadata(path)
    assert meta["ss_network_module"] == "networks.lora"
    assert (meta["ss_network_dim"], meta["ss_network_alpha"]) == ("2", "1")
    assert meta["ss_base_model_version"] == "sd_v1"
    assert meta["ss_output_name"] == "my-style"
    assert isinstance(json.loads(meta["ss_tag_frequency"]), dict)
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    assert meta["sshs_model_hash"] == hashlib.sha256(data[8 + header_len :]).hexdigest()
    tensors = load_file(str(path))
    assert len(tensors) == 264 * 3
    assert tensors["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"].shape == (2, 320, 1, 1)
    assert tensors["lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight"].shape == (3072, 2)
    assert tensors["lora_te_text_model_encoder_layers_0_mlp_fc1.alpha"].item() == 1.0
    assert all(t.dtype == torch.float16 for t in tensors.values())
    assert all(t.abs().sum() > 0 for k, t in tensors.items() if "lora_up" in k)  # trained, not freshly initialised


def test_sdxl_kohya_file_uses_sgm_names_and_two_encoders(tmp_path: Path) -> None:
    path = write_lora(tmp_path / "xl.safetensors", arch="tiny-sdxl", rank=4)
    keys = load_file(str(path)).keys()
    assert {k.split("_")[1] for k in keys} == {"unet", "te1", "te2"}
    assert any(k.startswith("lora_unet_input_blocks_") for k in keys)
    assert not any("down_blocks" in k for k in keys)
    assert _metadata(path)["ss_base_model_version"] == "sdxl_base_v1-0"


def test_diffusers_file_carries_peft_config_in_metadata(tmp_path: Path) -> None:
    path = write_lora(tmp_path / "d.safetensors", arch="tiny-sd1", style="diffusers", rank=4, alpha=8)
    config = json.loads(_metadata(path)["lora_adapter_metadata"])
    assert (config["unet.r"], config["unet.lora_alpha"], config["text_encoder.r"]) == (4, 8.0, 4)
    assert "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q" in config["unet.target_modules"]


def test_peft_file_has_base_model_keys_and_config_beside(tmp_path: Path) -> None:
    path = write_lora(tmp_path / "adapter_model.safetensors", arch="tiny-sd1", style="peft", rank=4, alpha=4)
    keys = load_file(str(path)).keys()
    assert all(k.startswith("base_model.model.") and ".lora_" in k for k in keys)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["peft_type"]) == (4, 4.0, "LORA")
    with pytest.raises(ValueError, match="one model"):
        write_lora(tmp_path / "x.safetensors", style="peft", components=("unet", "text_encoder"))


@pytest.mark.parametrize("conv", [False, True])
def test_loha_and_lokr_factors_rebuild_each_module_shape(tmp_path: Path, conv: bool) -> None:
    targets = lora_targets("tiny-sd1", conv=conv)
    loha = load_file(str(write_lora(tmp_path / "h.safetensors", algo="loha", conv=conv)))
    lokr = load_file(str(write_lora(tmp_path / "k.safetensors", algo="lokr", conv=conv)))
    assert _metadata(tmp_path / "h.safetensors")["ss_network_module"] == "lycoris.kohya"
    assert json.loads(_metadata(tmp_path / "k.safetensors")["ss_network_args"])["algo"] == "lokr"
    for name, shape in targets.items():
        k = kohya_name(name, arch="tiny-sd1")
        flat = (shape[0], int(torch.tensor(shape[1:]).prod()))
        w1 = loha[f"{k}.hada_w1_a"].float() @ loha[f"{k}.hada_w1_b"].float()
        w2 = loha[f"{k}.hada_w2_a"].float() @ loha[f"{k}.hada_w2_b"].float()
        assert (w1 * w2).shape == flat
        kron = torch.kron(
            lokr[f"{k}.lokr_w1"].float(), lokr[f"{k}.lokr_w2_a"].float() @ lokr[f"{k}.lokr_w2_b"].float()
        )
        assert kron.shape == flat
        assert f"{k}.alpha" in loha and f"{k}.alpha" in lokr
    assert factorization(320) == (16, 20)
    assert factorization(768) == (24, 32)


def test_dtypes(tmp_path: Path) -> None:
    bf16 = load_file(str(write_lora(tmp_path / "b.safetensors", dtype="bf16", components=("unet",))))
    fp32 = load_file(str(write_lora(tmp_path / "f.safetensors", dtype="float32", components=("unet",))))
    assert {t.dtype for t in bf16.values()} == {torch.bfloat16}
    assert {t.dtype for t in fp32.values()} == {torch.float32}


def test_writes_are_deterministic_in_the_seed(tmp_path: Path) -> None:
    a = write_lora(tmp_path / "a" / "x.safetensors", seed=5).read_bytes()
    b = write_lora(tmp_path / "b" / "x.safetensors", seed=5).read_bytes()
    c = write_lora(tmp_path / "c" / "x.safetensors", seed=6).read_bytes()
    assert a == b
    assert a != c


# --- embeddings --------------------------------------------------------------------------------------------------


def test_embedding_styles(tmp_path: Path) -> None:
    pt = torch.load(write_embedding(tmp_path / "a.pt", vectors=3, token="neg"), weights_only=True)
    assert pt["string_to_param"]["*"].shape == (3, 768)
    assert pt["name"] == "neg"
    emb = load_file(str(write_embedding(tmp_path / "b.safetensors", style="safetensors-emb-params", dim=1024)))
    assert emb["emb_params"].shape == (2, 1024)
    diff = load_file(str(write_embedding(tmp_path / "c.safetensors", style="diffusers", token="tok", vectors=1)))
    assert diff["<tok>"].shape == (1, 768)
    xl = load_file(str(write_embedding(tmp_path / "d.safetensors", style="sdxl")))
    assert (xl["clip_l"].shape, xl["clip_g"].shape) == ((2, 768), (2, 1280))


def test_embedding_loads_into_the_tiny_pipeline(tiny_dirs: dict[str, Path], tmp_path: Path) -> None:
    pipe = _load_pipe(tiny_dirs["sd1"])
    size = len(pipe.tokenizer)
    path = write_embedding(tmp_path / "e.safetensors", style="diffusers", dim=32, vectors=1, token="my-tok")
    pipe.load_textual_inversion(str(path))
    assert len(pipe.tokenizer) == size + 1
    token_id = pipe.tokenizer.convert_tokens_to_ids("<my-tok>")
    got = pipe.text_encoder.get_input_embeddings().weight[token_id]
    torch.testing.assert_close(got, load_file(str(path))["<my-tok>"][0])


# --- the sample library ------------------------------------------------------------------------------------------


def test_sample_library(tiny_dirs: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "Lora"
    files = write_sample_library(folder, base=tiny_dirs["sd1"])
    assert len(files) == 9  # 8 adapters + one duplicate
    assert all(f.is_file() and f.is_relative_to(folder) for f in files)
    assert files[-1].read_bytes() == files[0].read_bytes() and files[-1] != files[0]
    assert {f.parent.name for f in files} >= {"Lora", "lycoris", "sdxl", "diffusers", "embeddings", "characters"}

    a1111 = json.loads((folder / "anime-style.json").read_text())
    assert {"activation text", "preferred weight", "notes", "description", "sd version"} <= a1111.keys()
    assert a1111["sd version"] == "SD1"
    info = json.loads((folder / "anime-style.civitai.info").read_text())
    assert info["baseModel"] == "SD 1.5" and info["model"]["type"] == "LORA" and info["trainedWords"]
    assert info["files"][0]["hashes"]["SHA256"] == hashlib.sha256(files[0].read_bytes()).hexdigest().upper()
    assert info["images"][0]["url"].startswith("https://")
    from PIL import Image

    with Image.open(folder / "anime-style.preview.png") as image:
        assert image.size == (64, 64)

    # The files for the base load into it with diffusers.
    for rel in ("anime-style", "watercolor_v2", "characters/tok-character", "lycoris/pixel-art-locon"):
        pipe = _load_pipe(tiny_dirs["sd1"])
        pipe.load_lora_weights(str(folder / f"{rel}.safetensors"))
    sdxl_keys = load_file(str(folder / "sdxl" / "cinematic-xl.safetensors")).keys()
    assert any(k.startswith("lora_te2_") for k in sdxl_keys)

    fewer = write_sample_library(tmp_path / "few", count=3)
    more = write_sample_library(tmp_path / "more", count=10)
    assert (len(fewer), len(more)) == (4, 11)
