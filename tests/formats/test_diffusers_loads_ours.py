"""The real client: diffusers' own load_lora_weights + fuse_lora on files we write must give W + scale*up@down."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hub.formats.load import load_lora_set
from hub.formats.write import save_lora_set
from hub.testing import tiny_pipeline_dir, write_lora
from hub.testing.arch_shapes import table as arch_table


def _module(root: torch.nn.Module, path: str) -> torch.nn.Module:
    return root.get_submodule(path)


def _te_path(te: torch.nn.Module, path: str) -> str:
    # transformers 5 flattened CLIPTextModel (no text_model level); our canonical keys keep it.
    return path if hasattr(te, "text_model") else path.removeprefix("text_model.")


@pytest.mark.parametrize("fmt", ["kohya", "diffusers"])
@pytest.mark.parametrize("components", [("unet",), ("unet", "text_encoder")])
def test_diffusers_fuses_exactly_what_we_wrote(tmp_path: Path, fmt: str, components: tuple[str, ...]) -> None:
    from diffusers import StableDiffusionPipeline

    source = write_lora(
        tmp_path / "src.safetensors",
        arch="tiny-sd1",
        rank=4,
        alpha=3.0,
        conv=True,
        dtype="float32",
        components=components,
        seed=7,
    )
    lora_set = load_lora_set(source, table=arch_table("tiny-sd1"))
    # make the scales differ per module, so alpha_pattern / per-module alpha must carry them
    for i, module in enumerate(lora_set.modules.values()):
        module.scale = 0.25 + 0.125 * (i % 5)
    out = save_lora_set(lora_set, tmp_path / f"ours-{fmt}.safetensors", fmt=fmt)

    pipe = StableDiffusionPipeline.from_pretrained(tiny_pipeline_dir("sd1"), safety_checker=None)
    before = {
        k: _module(getattr(pipe, k.split(".", 1)[0]), _path(pipe, k)).weight.detach().clone() for k in lora_set.modules
    }
    pipe.load_lora_weights(str(out.parent), weight_name=out.name)
    pipe.fuse_lora(components=list(components))
    assert components == tuple(sorted({k.split(".", 1)[0] for k in lora_set.modules}, key=components.index))
    for key, module in lora_set.modules.items():
        weight = _module(getattr(pipe, key.split(".", 1)[0]), _path(pipe, key)).weight.detach()
        expected = before[key] + (module.scale * module.up @ module.down).reshape(weight.shape)
        torch.testing.assert_close(weight, expected, rtol=1e-5, atol=1e-6, msg=key)


def _path(pipe, key: str) -> str:
    component, path = key.split(".", 1)
    return _te_path(pipe.text_encoder, path) if component == "text_encoder" else path
