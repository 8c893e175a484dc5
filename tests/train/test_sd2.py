"""An SD2.x 768-v shaped base (linear projections, OpenCLIP-style text encoder, v-prediction scheduler) given as a
folder to a real ``hub train`` process: read as SD2 with v-prediction, registered as an SD2 LoRA whose metadata says
v as kohya writes it, and diffusers' own loader changes that pipeline's output with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from hub.bases.api import describe_base
from hub.bases.tiny import build_tiny_pipeline
from tests.train.conftest import registry_entry, run_hub


@pytest.fixture(scope="session")
def sd2_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pipeline(tmp_path_factory.mktemp("sd2") / "tiny-sd2-v", kind="sd2", seed=0, text_layers=1)


def _render(pipe) -> torch.Tensor:
    return pipe("a photo of sks dog", num_inference_steps=3, height=64, width=64, output_type="pt",
                generator=torch.Generator().manual_seed(0)).images  # fmt: skip


def test_the_base_is_read_as_sd2_with_v_prediction(sd2_base: Path) -> None:
    info = describe_base(str(sd2_base))
    assert (info.layout, info.arch, info.prediction_type) == ("diffusers", "sd2", "v_prediction")


@pytest.mark.parametrize(
    ("linear", "act", "arch"),
    [(True, "gelu", "sd2"), (False, "gelu", "sd2"), (True, "quick_gelu", "sd2"), (False, "quick_gelu", "sd1")],
)
def test_a_narrow_base_is_told_by_its_structure(tmp_path: Path, linear: bool, act: str, arch: str) -> None:
    """No real width (768/1024) to go by: linear projections or an OpenCLIP (gelu) text encoder mean SD2."""
    (tmp_path / "unet").mkdir()
    (tmp_path / "text_encoder").mkdir()
    (tmp_path / "model_index.json").write_text(
        json.dumps({"_class_name": "StableDiffusionPipeline", "text_encoder": ["transformers", "CLIPTextModel"]})
    )
    (tmp_path / "unet" / "config.json").write_text(
        json.dumps({"cross_attention_dim": 64, "use_linear_projection": linear})
    )
    (tmp_path / "text_encoder" / "config.json").write_text(json.dumps({"hidden_act": act}))
    assert describe_base(str(tmp_path)).arch == arch


def test_hub_train_on_an_sd2_v_base_registers_a_v_lora_diffusers_loads(home: Path, pictures: Path, settings,
                                                                       sd2_base: Path) -> None:  # fmt: skip
    proc = run_hub("train", "--images", str(pictures), "--token", "sks", "--class-word", "dog", "--base",
                   str(sd2_base), "--preset", "cpu-tiny", "--steps", "4", "--sample-steps", "2", "--json",
                   home=home)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    detail = registry_entry(result["adapter"]["name"], settings)
    assert detail.arch == "sd2" and detail.format == "kohya"
    with safe_open(detail.path, "pt") as f:
        meta = f.metadata()
    assert meta["ss_v2"] == "True" and meta["ss_v_parameterization"] == "True"
    assert meta["ss_base_model_version"] == "sd_v2_v" and meta["modelspec.prediction_type"] == "v"
    assert meta["modelspec.architecture"] == "stable-diffusion-v2-768-v/lora"
    assert meta["modelspec.resolution"] == "64x64"

    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(sd2_base), safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    before = _render(pipe)
    pipe.load_lora_weights(load_file(detail.path), adapter_name="sks")
    assert pipe.get_list_adapters() == {"unet": ["sks"]}
    assert (_render(pipe) - before).abs().mean() > 1e-4


def test_an_sd2_single_file_is_sd2_v_with_its_configs(sd2_base: Path, tmp_path: Path) -> None:
    """OpenCLIP keys (q/k/v packed in in_proj) say SD2; the config folder's scheduler says v."""
    from hub.bases.api import load_pipeline
    from hub.testing.single_file import write_single_file

    single = write_single_file(sd2_base, tmp_path / "sd2-768-v.safetensors")
    info = describe_base(str(single), config=str(sd2_base))
    assert (info.layout, info.arch, info.prediction_type) == ("single-file", "sd2", "v_prediction")
    pipe = load_pipeline(str(single), config=str(sd2_base))
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    own = load_pipeline(str(sd2_base))
    for component in ("unet", "text_encoder"):
        ours, theirs = getattr(pipe, component).state_dict(), getattr(own, component).state_dict()
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours), component
