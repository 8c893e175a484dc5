"""`hub gen --lora X` with an adapter made for another base is refused in one `error:` line before the base's
weights load: fresh processes of the installed script, on base folders whose weights are unreadable (any load
would fail with a bad-file error instead), so a refusal there can only come from the configs and the header."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hub_process import hub

from hub.formats.module_tables import table_configs
from hub.testing import write_lora

NOT_WEIGHTS = b"these bytes are no safetensors file"


def _unreadable(folder: Path) -> Path:
    for weights in folder.rglob("*.safetensors"):
        weights.write_bytes(NOT_WEIGHTS)
    return folder


@pytest.fixture(scope="module")
def bases(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny base's copy, and folders with the real SD1 and SDXL configs: weights unreadable in all three."""
    root = tmp_path_factory.mktemp("unreadable-bases")
    out = {"tiny": _unreadable(Path(shutil.copytree(tiny_base, root / "tiny")))}
    for arch, pipeline in (("sd1", "StableDiffusionPipeline"), ("sdxl", "StableDiffusionXLPipeline")):
        folder = root / arch
        configs = table_configs(arch)
        (folder / "unet").mkdir(parents=True)
        index = {"_class_name": pipeline, **{c: ["transformers", "CLIPTextModel"] for c in configs if c != "unet"}}
        (folder / "model_index.json").write_text(json.dumps({**index, "unet": ["diffusers", "UNet2DConditionModel"]}))
        for component, config in configs.items():
            (folder / component).mkdir(exist_ok=True)
            (folder / component / "config.json").write_text(json.dumps(config))
            (folder / component / "model.safetensors").write_bytes(NOT_WEIGHTS)
        out[arch] = folder
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    home = root / "home"
    for name, arch in (("sd15", "sd1"), ("xl", "sdxl"), ("small", "tiny-sd1"), ("small-xl", "tiny-sdxl")):
        path = write_lora(root / f"{name}.safetensors", arch=arch, rank=1, seed=7)
        assert hub(home, "add", str(path), "--name", name).returncode == 0
    return home


@pytest.mark.parametrize(
    ("lora", "base", "said"),
    [
        ("sd15", "tiny", "'sd15' is a sd1 adapter and the base"),  # an SD1.5-shaped adapter on the tiny base
        ("xl", "tiny", "'xl' is a sdxl adapter and the base"),  # an SDXL-shaped one
        ("small", "sd1", "'small' is a tiny adapter and the base"),  # a tiny adapter on an SD1 base
        # the same label (sdxl) and other widths: only the module table tells them apart
        ("small-xl", "sdxl", "'small-xl' does not fit the base"),
    ],
)
def test_an_adapter_of_another_shape_is_refused_before_the_base_loads(
    home: Path, bases: dict[str, Path], lora: str, base: str, said: str
) -> None:
    r = hub(home, "gen", "a dog", "--lora", lora, "--base", str(bases[base]), "--steps", "1")
    assert r.returncode == 5, r.stderr
    assert said in r.stderr and r.stderr.count("error:") == 1 and "hint:" in r.stderr, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 2, r.stderr


def test_the_widths_are_named(home: Path, bases: dict[str, Path]) -> None:
    r = hub(home, "gen", "a dog", "--lora", "small-xl", "--base", str(bases["sdxl"]), "--steps", "1")
    assert (
        "modules have other widths than the base's" in r.stderr and "adapter 32 -> 128, base 768 -> 3072" in r.stderr
    )
    assert "pass --base with that model" in r.stderr, r.stderr


def test_a_fitting_adapter_gets_as_far_as_the_unreadable_weights(home: Path, bases: dict[str, Path]) -> None:
    """The control: the same folder refuses a fitting adapter only when it opens the weights."""
    r = hub(home, "gen", "a dog", "--lora", "small", "--base", str(bases["tiny"]), "--steps", "1")
    assert r.returncode != 0 and r.stderr.count("error:") == 1, r.stderr
    assert "adapter" not in r.stderr.splitlines()[0] and "fit" not in r.stderr, r.stderr
