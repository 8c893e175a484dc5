"""Two kohya LoRAs for a small diffusers pipeline hub has no table of (its CLIP has 4 layers, the embedded tiny base's
has 2) mix by name and shape, and diffusers' own ``load_lora_weights`` + ``fuse_lora`` on that pipeline give exactly
W0 + 0.7·ΔA + 0.5·ΔB, with ΔA and ΔB computed here from the raw files."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from cli.app import app
from hub.formats.module_tables import is_kohya_target
from hub.testing import write_lora
from hub.testing.adapter_files import kohya_name

runner = CliRunner()
CLIP_LAYERS = 4  # the embedded tiny base has 2: nothing in hub knows this pipeline's modules


def _build_pipeline(out: Path) -> Path:
    """A small SD1-layout pipeline from diffusers'/transformers' own classes (hub.bases.tiny's builders, with a
    deeper text encoder), saved as a user would have it on disk."""
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTextModel

    from hub.bases import tiny

    with tempfile.TemporaryDirectory() as tmp:
        tiny._write_tokenizer(Path(tmp))
        tokenizer = tiny._load_tokenizer(Path(tmp))
    torch.manual_seed(0)
    config = tiny._text_config()
    config.num_hidden_layers = CLIP_LAYERS
    pipe = StableDiffusionPipeline(vae=tiny._vae("sd1"), text_encoder=CLIPTextModel(config), tokenizer=tokenizer,
                                   unet=tiny._unet("sd1"), scheduler=tiny._scheduler(), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)  # fmt: skip
    pipe.save_pretrained(out, safe_serialization=True)
    return out


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[int, ...]]]:
    """The pipeline folder and its kohya-targetable modules (canonical name -> weight shape)."""
    from diffusers import StableDiffusionPipeline

    folder = _build_pipeline(tmp_path_factory.mktemp("clip4") / "pipe")
    pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None)
    targets: dict[str, tuple[int, ...]] = {}
    for component in ("unet", "text_encoder"):
        model = getattr(pipe, component)
        nested = component == "text_encoder" and not hasattr(model, "text_model")  # transformers 5 flattened CLIP
        for path, module in model.named_modules():
            name = f"{component}.{'text_model.' if nested else ''}{path}"
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)) and is_kohya_target(name):
                targets[name] = tuple(module.weight.shape)
    assert any(".layers.3." in k for k in targets)
    return folder, targets


def _raw_deltas(path: Path, targets: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """canonical name -> alpha/r · up @ down, straight from the kohya file's tensors."""
    t = load_file(path)
    out = {}
    for name, shape in targets.items():
        k = kohya_name(name, arch="tiny-sd1")
        down, up = t[f"{k}.lora_down.weight"].double(), t[f"{k}.lora_up.weight"].double()
        scale = float(t[f"{k}.alpha"]) / down.shape[0]
        out[name] = (up.flatten(1) @ down.flatten(1) * scale).reshape(shape)
    return out


@pytest.mark.parametrize("method", ["concat", "svd"])
def test_two_kohya_loras_of_a_4_layer_clip_pipeline_mix_and_fuse_exactly_in_diffusers(
    custom: tuple[Path, dict[str, tuple[int, ...]]], tmp_path: Path, method: str
) -> None:
    from diffusers import StableDiffusionPipeline

    folder, targets = custom
    a = write_lora(tmp_path / "a.safetensors", targets=targets, rank=4, alpha=2, dtype="float32", seed=1)
    b = write_lora(tmp_path / "b.safetensors", targets=targets, rank=4, alpha=8, dtype="float32", seed=2)
    mixed = tmp_path / f"mixed-{method}.safetensors"
    args = ["mix", f"{a}:0.7", f"{b}:0.5", "--method", method, "--out", str(mixed), "--name", "m"]
    args += ["--rank", "8"] if method == "svd" else []  # rank 4 + 4: the SVD is exact at 8
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output

    pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None)
    before = {c: {k: v.clone() for k, v in getattr(pipe, c).state_dict().items()} for c in ("unet", "text_encoder")}
    pipe.load_lora_weights(str(mixed.parent), weight_name=mixed.name)
    pipe.fuse_lora(components=["unet", "text_encoder"])
    pipe.unload_lora_weights()
    after = {c: getattr(pipe, c).state_dict() for c in ("unet", "text_encoder")}

    da, db = _raw_deltas(a, targets), _raw_deltas(b, targets)
    for name in targets:
        component, path = name.split(".", 1)
        key = f"{path}.weight"
        key = key if key in after[component] else key.removeprefix("text_model.")
        expected = before[component][key].double() + 0.7 * da[name] + 0.5 * db[name]
        torch.testing.assert_close(after[component][key].double(), expected, rtol=1e-5, atol=1e-6, msg=name)
    # every other weight is untouched
    for component in after:
        touched = {f"{n.split('.', 1)[1]}.weight" for n in targets if n.startswith(component)}
        touched |= {k.removeprefix("text_model.") for k in touched}
        for key, value in after[component].items():
            if key not in touched:
                assert torch.equal(value, before[component][key]), key


def test_diffusers_output_needs_the_base_and_gets_it_from_its_files(
    custom: tuple[Path, dict[str, tuple[int, ...]]], tmp_path: Path
) -> None:
    folder, targets = custom
    a = write_lora(tmp_path / "a.safetensors", targets=targets, rank=4, dtype="float32", seed=1)
    r = _hub("convert", str(a), "--to", "diffusers", "--name", "d")
    assert r.returncode == 5 and "hint: give the base" in r.stderr and "Traceback" not in r.stderr, r.stderr
    out = tmp_path / "d.safetensors"
    r = _hub("convert", str(a), "--to", "diffusers", "--base", str(folder), "--out", str(out))
    assert r.returncode == 0, r.stderr
    keys = set(load_file(out))
    assert "text_encoder.text_model.encoder.layers.3.mlp.fc2.lora_A.weight" in keys
    # an adapter with a module the base lacks is refused by name, not guessed into place
    bad = {**targets, "text_encoder.text_model.encoder.layers.7.mlp.fc2": (32, 128)}
    c = write_lora(tmp_path / "c.safetensors", targets=bad, rank=4, dtype="float32", seed=3)
    r = _hub("mix", f"{a}:1", f"{c}:1", "--base", str(folder), "--name", "x")
    assert r.returncode == 5, r.stderr
    assert "lora_te_text_model_encoder_layers_7_mlp_fc2" in r.stderr


def _hub(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=300)
