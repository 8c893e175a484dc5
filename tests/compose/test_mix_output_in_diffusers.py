"""The real client is the test: `hub mix` writes a file that diffusers' own `load_lora_weights()` + `fuse_lora()`
turn into exactly the weights `hub fuse` writes, for a UNet-only and a UNet + text-encoder case."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from cli.app import app
from hub.paths import Paths
from hub.testing import tiny_pipeline_dir, write_lora

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once for the module in a home of its own; LORAHUB_HOME stays each test's own."""
    return tiny_pipeline_dir("sd1", paths=Paths(tmp_path_factory.mktemp("tiny-home")))


def hub(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def diffusers_fused(base: Path, lora_file: Path) -> dict[str, dict[str, torch.Tensor]]:
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(base)
    pipe.load_lora_weights(str(lora_file.parent), weight_name=lora_file.name)
    pipe.fuse_lora()
    pipe.unload_lora_weights()
    return {"unet": pipe.unet.state_dict(), "text_encoder": pipe.text_encoder.state_dict()}


@pytest.mark.parametrize("components", [("unet",), ("unet", "text_encoder")], ids=["unet-only", "unet+te"])
@pytest.mark.parametrize("fmt", ["kohya", "diffusers"])
def test_mix_output_fused_by_diffusers_equals_hub_fuse(tiny: Path, tmp_path: Path, components, fmt) -> None:
    # Inputs in both formats, with different ranks and alphas (scale 0.5 and 2.0), conv modules included.
    a = write_lora(tmp_path / "a.safetensors", arch="tiny-sd1", style="kohya", rank=4, alpha=2, conv=True,
                   components=components, dtype="float32", seed=1)  # fmt: skip
    b = write_lora(tmp_path / "b" / "b.safetensors", arch="tiny-sd1", style="diffusers", rank=2, alpha=4,
                   components=components, dtype="float32", seed=2)  # fmt: skip
    mixed = tmp_path / f"mixed-{fmt}.safetensors"
    # kohya output combines the inputs by name; diffusers output names modules by model path: from the base's files
    base_flag = ["--base", str(tiny)] if fmt == "diffusers" else []
    hub("mix", f"{a}:0.7", f"{b}:-0.4", "--method", "concat", "--format", fmt, "--out", str(mixed), "--name", "m",
        *base_flag)  # fmt: skip
    hub("fuse", str(tiny), f"{a}:0.7", f"{b}:-0.4", "--out", str(tmp_path / "fused"))

    theirs = diffusers_fused(tiny, mixed)
    base = {"unet": load_file(tiny / "unet/diffusion_pytorch_model.safetensors"),
            "text_encoder": load_file(tiny / "text_encoder/model.safetensors")}  # fmt: skip
    ours = {"unet": load_file(tmp_path / "fused/unet/diffusion_pytorch_model.safetensors"),
            "text_encoder": load_file(tmp_path / "fused/text_encoder/model.safetensors")}  # fmt: skip
    changed = {"unet": 0, "text_encoder": 0}
    for comp in ours:
        for key, value in theirs[comp].items():
            torch.testing.assert_close(ours[comp][key], value, rtol=1e-4, atol=1e-5, msg=f"{comp}.{key}")
            changed[comp] += not torch.equal(value, base[comp][key])
    assert changed["unet"] > 0
    assert (changed["text_encoder"] > 0) == ("text_encoder" in components)
