"""SDXL single-file bases (original SGM layout, as A1111/civitai ship them: ``conditioner.embedders.0.transformer.``
CLIP-L, ``conditioner.embedders.1.model.`` OpenCLIP bigG): read as sdxl, loaded offline with a config folder's
configs and the file's own weights, refused with an SD1 folder, and trained by a real ``hub train`` process into
an SDXL LoRA diffusers loads.

The files are tiny SDXL pipelines rewritten by :mod:`hub.testing.single_file`, from another seed than the config
folder, so a loaded weight proves where it came from. Their second text encoder is wider than the first (48 vs
32), as real SDXL's are (1280 vs 768): diffusers' single-file loader tells the two apart by width.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from hub.bases.api import describe_base, load_pipeline
from hub.bases.tiny import build_tiny_pipeline
from hub.errors import IncompatibleError
from hub.testing.single_file import write_single_file
from tests.train.conftest import registered, registry_entry, run_hub

COMPONENTS = ("unet", "vae", "text_encoder", "text_encoder_2")


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``config``: a tiny SDXL folder (seed 0); ``weights``: another (seed 1) and its single files."""
    root = tmp_path_factory.mktemp("sdxl-single-file")
    config = build_tiny_pipeline(root / "config", kind="sdxl", seed=0, text_layers=1, text_hidden_2=48)
    weights = build_tiny_pipeline(root / "weights", kind="sdxl", seed=1, text_layers=1, text_hidden_2=48)
    return {"config": config, "weights": weights,
            "safetensors": write_single_file(weights, root / "model.safetensors"),
            "ckpt": write_single_file(weights, root / "model.ckpt")}  # fmt: skip


@pytest.fixture(scope="module")
def folders(bases: dict[str, Path]) -> dict[str, object]:
    """The two folders as diffusers loads them, once for the module."""
    from diffusers import StableDiffusionXLPipeline

    return {name: StableDiffusionXLPipeline.from_pretrained(str(bases[name])) for name in ("weights", "config")}


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_file_is_in_the_sgm_layout(bases: dict[str, Path]) -> None:
    keys = set(load_file(str(bases["safetensors"])))
    p = "conditioner.embedders.1.model."
    expected = ["model.diffusion_model.label_emb.0.0.weight", "model.diffusion_model.label_emb.0.2.weight",
                "first_stage_model.decoder.mid.attn_1.q.weight",
                "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight",
                f"{p}token_embedding.weight", f"{p}positional_embedding", f"{p}ln_final.weight", f"{p}text_projection",
                f"{p}transformer.resblocks.0.attn.in_proj_weight",
                f"{p}transformer.resblocks.0.mlp.c_fc.weight"]  # fmt: skip
    for key in expected:
        assert key in keys, key
    assert not any(k.startswith("cond_stage_model.") for k in keys)


@pytest.mark.parametrize("suffix", ["safetensors", "ckpt"])
def test_a_single_file_loads_its_own_weights_with_the_folders_configs(bases: dict[str, Path], folders, suffix: str):
    info = describe_base(str(bases[suffix]), config=str(bases["config"]))
    assert (info.layout, info.arch, info.prediction_type) == ("single-file", "sdxl", "epsilon")
    pipe = load_pipeline(str(bases[suffix]), config=str(bases["config"]))
    assert type(pipe).__name__ == "StableDiffusionXLPipeline"
    for component in COMPONENTS:
        assert _same_weights(getattr(pipe, component), getattr(folders["weights"], component)), component
        assert not _same_weights(getattr(pipe, component), getattr(folders["config"], component)), component


def test_an_sd1_config_folder_is_one_clear_refusal(home: Path, pictures: Path, settings, bases: dict[str, Path],
                                                   tiny_base_build: Path) -> None:  # fmt: skip
    proc = run_hub("train", "--images", str(pictures), "--token", "sks", "--class-word", "dog", "--base",
                   str(bases["safetensors"]), "--base-config", str(tiny_base_build), "--preset", "cpu-tiny",
                   "--steps", "2", home=home)  # fmt: skip
    assert proc.returncode == IncompatibleError.exit_code == 5, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[0] == f"error: --base-config {tiny_base_build} is tiny, but checkpoint model.safetensors is sdxl"
    assert lines[1:] == ["hint: give a diffusers folder of an sdxl model"], proc.stderr
    assert registered(settings) == []


def test_equal_text_widths_are_refused_not_loaded_crossed(tmp_path: Path) -> None:
    """With both encoders 32 wide diffusers reads the CLIP-L keys into the second encoder too: the projection
    it then lacks is refused, rather than a pipeline with the wrong weights returned."""
    folder = build_tiny_pipeline(tmp_path / "equal", kind="sdxl", seed=1, text_layers=1)
    single = write_single_file(folder, tmp_path / "equal.safetensors")
    with pytest.raises(IncompatibleError, match=r"lacks 1 text_encoder_2 weight\(s\) .*text_projection"):
        load_pipeline(str(single), config=str(folder))


def _render(pipe) -> torch.Tensor:
    return pipe("a photo of sks dog", num_inference_steps=2, height=64, width=64, output_type="pt",
                generator=torch.Generator().manual_seed(0)).images  # fmt: skip


def test_hub_train_on_an_sdxl_single_file(home: Path, pictures: Path, settings, bases: dict[str, Path], folders):
    proc = run_hub("train", "--images", str(pictures), "--token", "sks", "--class-word", "dog", "--base",
                   str(bases["safetensors"]), "--base-config", str(bases["config"]), "--preset", "cpu-tiny",
                   "--steps", "2", "--resolution", "64", "--sample-steps", "1", "--json", home=home)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "--base-config" in result["command"]
    detail = registry_entry(result["adapter"]["name"], settings)
    assert (detail.format, detail.base_label) == ("kohya", str(bases["safetensors"]))
    # The registry's arch is read off shapes, and an 80-wide cross-attention names no real base: the file's
    # metadata says SDXL, as kohya writes it.
    with safe_open(detail.path, "pt") as f:
        meta = f.metadata()
    assert meta["ss_base_model_version"] == "sdxl_base_v1-0"
    assert meta["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    state = load_file(detail.path)
    assert state and all(k.startswith("lora_unet_") for k in state)

    pipe = folders["weights"]
    pipe.set_progress_bar_config(disable=True)
    before = _render(pipe)
    pipe.load_lora_weights(state, adapter_name="sks")
    try:
        assert pipe.get_list_adapters() == {"unet": ["sks"]}
        assert (_render(pipe) - before).abs().mean() > 1e-5
    finally:
        pipe.unload_lora_weights()
