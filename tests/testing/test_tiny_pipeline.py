"""The tiny offline pipelines: they build from configs, save, reload offline, run, and are deterministic."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from hub.bases.tiny import CACHE_VERSION, TRAINED_SD1, tokenizer_files
from hub.testing import build_tiny_pipeline, module_shapes, tiny_pipeline_dir
from hub.testing.arch_shapes import canonical_name


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-pipelines")
    return {kind: build_tiny_pipeline(root / kind, kind=kind, seed=0) for kind in ("sd1", "sdxl")}


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """No network at all: huggingface_hub's offline switch on (its constant: the variable is read only at
    import, so setting HF_HUB_OFFLINE now would change nothing) and every socket connection refused."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    attempts: list[object] = []

    def refuse(sock: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError(f"offline test: connection to {address} refused")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def _run(pipe, seed: int = 0):
    return pipe(
        "a photo of a tok cat",
        num_inference_steps=2,
        height=64,
        width=64,
        generator=torch.Generator().manual_seed(seed),
        output_type="np",
    ).images


def test_sd1_saves_reloads_offline_and_runs_two_steps(tiny_dirs: dict[str, Path], offline: list[object]) -> None:
    from diffusers import StableDiffusionPipeline

    folder = tiny_dirs["sd1"]
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert (folder / "tokenizer" / "vocab.json").is_file()
    assert (folder / "tokenizer" / "merges.txt").read_text().startswith("#version")

    pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    images = _run(pipe)
    assert images.shape == (1, 64, 64, 3)
    assert torch.isfinite(torch.from_numpy(images)).all()
    assert images.std() > 0.0
    # Same seed, same pixels.
    assert (_run(pipe) == images).all()
    assert offline == []  # nothing even tried the network


def test_sdxl_saves_reloads_offline_and_runs_two_steps(tiny_dirs: dict[str, Path], offline: list[object]) -> None:
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_dirs["sdxl"], local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.text_encoder_2.config.hidden_size + pipe.text_encoder.config.hidden_size == (
        pipe.unet.config.cross_attention_dim
    )
    images = _run(pipe)
    assert images.shape == (1, 64, 64, 3)
    assert torch.isfinite(torch.from_numpy(images)).all()
    assert offline == []


def test_sd1_unet_has_lora_and_locon_targets(tiny_dirs: dict[str, Path]) -> None:
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(tiny_dirs["sd1"], subfolder="unet")
    assert len(unet.down_blocks) >= 2
    assert all(len(getattr(block, "attentions", ())) > 0 for block in unet.down_blocks)
    convs = [m for n, m in unet.named_modules() if n.endswith("resnets.0.conv1")]
    assert convs and all(m.kernel_size == (3, 3) for m in convs)


def test_build_is_deterministic_in_the_seed(tmp_path: Path, tiny_dirs: dict[str, Path]) -> None:
    again = build_tiny_pipeline(tmp_path / "again", kind="sd1", seed=0)
    other = build_tiny_pipeline(tmp_path / "other", kind="sd1", seed=1)
    for part in ("unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"):
        assert (again / part).read_bytes() == (tiny_dirs["sd1"] / part).read_bytes()
        assert (other / part).read_bytes() != (tiny_dirs["sd1"] / part).read_bytes()


@pytest.mark.parametrize("kind", ["sd1", "sdxl"])
def test_module_shapes_of_tiny_arch_match_the_built_pipeline(tiny_dirs: dict[str, Path], kind: str) -> None:
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(tiny_dirs[kind], local_files_only=True)
    actual = {}
    for component in ("unet", "text_encoder", "text_encoder_2"):
        model = getattr(pipe, component, None)
        if model is None:
            continue
        for path, module in model.named_modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                actual[canonical_name(component, model, path)] = tuple(module.weight.shape)
    assert module_shapes(f"tiny-{kind}") == actual


def test_tokenizer_knows_prompt_words_and_falls_back_to_bytes(tiny_dirs: dict[str, Path]) -> None:
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(tiny_dirs["sd1"], subfolder="tokenizer")
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("A photo of tok, qzx!").input_ids)
    assert tokens[:5] == ["<|startoftext|>", "a</w>", "photo</w>", "of</w>", "tok</w>"]
    assert tokens[-1] == "<|endoftext|>"
    assert "q" in tokens  # unknown words still tokenize, byte by byte
    vocab, merges = tokenizer_files()
    assert len(tokenizer) == len(vocab)
    assert all(a + b in vocab for a, b in (m.split() for m in merges))


def test_tiny_pipeline_dir_builds_once_under_lorahub_home(lorahub_home: Path) -> None:
    first = tiny_pipeline_dir("sd1")
    assert first == lorahub_home / "cache" / f"tiny-sd1-{CACHE_VERSION}"
    _assert_holds_the_shipped_weights(first)
    marker = first / "model_index.json"
    stamp = marker.stat().st_mtime_ns
    assert tiny_pipeline_dir("sd1") == first
    assert marker.stat().st_mtime_ns == stamp
    assert [p.name for p in first.parent.iterdir()] == [f"tiny-sd1-{CACHE_VERSION}"]  # no staging folder left behind


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown tiny pipeline kind"):
        build_tiny_pipeline(tmp_path, kind="sd3")  # type: ignore[arg-type]


def test_building_the_tiny_base_in_a_fresh_process_prints_nothing(tmp_path: Path) -> None:
    """`make demo` builds it first: transformers' torchvision notes and its "Writing model shards" bar stay out."""
    import os
    import subprocess
    import sys

    code = "from hub.bases.tiny import tiny_pipeline_dir; tiny_pipeline_dir('sd1')"
    env = {**os.environ, "LORAHUB_HOME": str(tmp_path / "home")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (r.stdout, r.stderr) == ("", "")
    assert (tmp_path / "home" / "cache" / f"tiny-sd1-{CACHE_VERSION}" / "model_index.json").is_file()


def _assert_holds_the_shipped_weights(folder: Path) -> None:
    """Every UNet, VAE and text encoder tensor of the cached pipeline is the shipped (fp16) one, none random."""
    from safetensors.torch import load_file

    shipped = load_file(str(TRAINED_SD1))
    files = {"unet": "unet/diffusion_pytorch_model.safetensors", "vae": "vae/diffusion_pytorch_model.safetensors",
             "text_encoder": "text_encoder/model.safetensors"}  # fmt: skip
    for part, name in files.items():
        saved = load_file(str(folder / name))
        ours = {k[len(part) + 1 :]: v for k, v in shipped.items() if k.startswith(part + ".")}
        assert ours and set(ours) <= set(saved), part
        for key, value in ours.items():
            assert torch.equal(saved[key], value.float()), f"{part}.{key}"


def test_the_shipped_weights_record_their_build(tiny_dirs: dict[str, Path]) -> None:
    """The file says how it was made; its VAE scaling factor is the one the SD1 kind's VAE config carries."""
    from hub.bases.tiny import trained_sd1_metadata

    record = trained_sd1_metadata()
    assert record["command"].startswith("tools/build_tiny_base.py")
    assert {"seed", "vae_steps", "unet_steps", "vae_seconds", "unet_seconds"} <= set(record)
    vae_config = json.loads((tiny_dirs["sd1"] / "vae" / "config.json").read_text())
    assert vae_config["scaling_factor"] == record["vae_scaling_factor"]
    assert TRAINED_SD1.stat().st_size < 8_000_000
