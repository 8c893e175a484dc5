"""Single-file base checkpoints (original LDM layout, as A1111/civitai ship them): ``hub train --base model.safetensors
--base-config FOLDER`` trains offline; ``.ckpt`` is read through the restricted unpickler (a pickle that would run
code is refused before diffusers sees it); without configs the run stops with one line saying what to give.

The checkpoints are the tiny pipelines' weights rewritten in the original layout (:mod:`hub.testing.single_file`),
from another seed than the config folder, so a loaded weight proves where it came from.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hub.bases.api import describe_base, load_pipeline
from hub.bases.tiny import build_tiny_pipeline
from hub.testing.single_file import write_single_file
from tests.train.conftest import registered, run_hub


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``config``: a tiny SD1 folder (seed 0); ``weights``: another (seed 1) and its single files."""
    root = tmp_path_factory.mktemp("single-file")
    config = build_tiny_pipeline(root / "config", kind="sd1", seed=0)
    weights = build_tiny_pipeline(root / "weights", kind="sd1", seed=1)
    return {"config": config, "weights": weights,
            "safetensors": write_single_file(weights, root / "model.safetensors"),
            "ckpt": write_single_file(weights, root / "model.ckpt")}  # fmt: skip


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("suffix", ["safetensors", "ckpt"])
def test_a_single_file_loads_its_own_weights_with_the_folders_configs(bases: dict[str, Path], suffix: str) -> None:
    from diffusers import StableDiffusionPipeline

    info = describe_base(str(bases[suffix]), config=str(bases["config"]))
    # the tiny SD1 kind's widths: the embedded base's arch, read from the keys and shapes of either container
    assert (info.layout, info.arch, info.prediction_type) == ("single-file", "tiny", "epsilon")
    pipe = load_pipeline(str(bases[suffix]), config=str(bases["config"]))
    own = StableDiffusionPipeline.from_pretrained(str(bases["weights"]), safety_checker=None)
    other = StableDiffusionPipeline.from_pretrained(str(bases["config"]), safety_checker=None)
    for component in ("unet", "vae", "text_encoder"):
        assert _same_weights(getattr(pipe, component), getattr(own, component)), component
        assert not _same_weights(getattr(pipe, component), getattr(other, component)), component


def test_configs_that_do_not_fit_the_file_are_one_clear_refusal(bases: dict[str, Path], tmp_path: Path) -> None:
    from hub.errors import IncompatibleError

    one_layer = build_tiny_pipeline(tmp_path / "one-layer", kind="sd1", seed=1, text_layers=1)
    short = write_single_file(one_layer, tmp_path / "short.safetensors")
    with pytest.raises(IncompatibleError, match=r"lacks 16 text_encoder weight\(s\) its configs ask for"):
        load_pipeline(str(short), config=str(bases["config"]))  # a 2-layer text encoder config, a 1-layer file
    sd2_configs = tmp_path / "sd2-configs"
    shutil.copytree(bases["config"], sd2_configs)
    unet_config = sd2_configs / "unet" / "config.json"
    unet_config.write_text(json.dumps({**json.loads(unet_config.read_text()), "cross_attention_dim": 1024}))
    with pytest.raises(IncompatibleError, match=r"is sd2, but checkpoint model\.safetensors is tiny"):
        load_pipeline(str(bases["safetensors"]), config=str(sd2_configs))


def test_hub_train_on_a_single_file_base(home: Path, pictures: Path, settings, bases: dict[str, Path]) -> None:
    proc = run_hub("train", "--images", str(pictures), "--token", "sks", "--class-word", "dog", "--base",
                   str(bases["safetensors"]), "--base-config", str(bases["config"]), "--preset", "cpu-tiny",
                   "--steps", "3", "--sample-steps", "2", "--json", home=home)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "--base-config" in result["command"]
    (entry,) = registered(settings)
    assert entry.base_label == str(bases["safetensors"])
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(bases["weights"]), safety_checker=None)
    pipe.load_lora_weights(load_file(result["path"]), adapter_name="sks")
    assert pipe.get_list_adapters() == {"unet": ["sks"]}


def test_without_configs_offline_it_is_one_line_naming_base_config(home: Path, pictures: Path, settings,
                                                                    bases: dict[str, Path]) -> None:  # fmt: skip
    proc = run_hub("train", "--images", str(pictures), "--token", "sks", "--class-word", "dog", "--base",
                   str(bases["safetensors"]), "--preset", "cpu-tiny", "--steps", "2", home=home)  # fmt: skip
    assert proc.returncode == 7, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: cannot load single-file checkpoint model.safetensors (tiny)"), proc.stderr
    assert any(line.startswith("hint:") and "--base-config" in line for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr and registered(settings) == []


class _RunsCode:
    """What a hostile checkpoint pickles: unpickling it would call ``Path.touch`` on the marker."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_ckpt_that_would_run_code_is_refused_and_runs_nothing(home: Path, pictures: Path, tmp_path: Path,
                                                                  settings) -> None:  # fmt: skip
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"model.diffusion_model.x": torch.zeros(1)}, "payload": _RunsCode(marker)}, evil,
               pickle_protocol=pickle.HIGHEST_PROTOCOL)  # fmt: skip
    proc = run_hub("train", "--images", str(pictures), "--token", "sks", "--class-word", "dog", "--base", str(evil),
                   "--preset", "cpu-tiny", "--steps", "2", home=home)  # fmt: skip
    assert proc.returncode == 6, proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("error: ") and "refused to unpickle" in first and "Path.touch" in first, proc.stderr
    assert not marker.exists() and not os.path.exists(marker) and registered(settings) == []
