"""Adapters of the embedded tiny base are labelled `tiny`, from their shapes alone: every key style and algorithm,
UNet or text encoder; placed on the packaged tiny table (so a kohya file converts to diffusers with no base given);
written with metadata that names the tiny base, never an SD version. Bases are told the same way: the embedded
folder and a single file made from it are `tiny`, a base of other widths is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors import safe_open

from hub.bases.api import describe_base
from hub.bases.tiny import build_tiny_pipeline
from hub.formats.convert import convert_file
from hub.formats.load import load_lora_set
from hub.formats.module_tables import TINY_LABEL, packaged_table
from hub.formats.probe import probe_file
from hub.testing.adapter_files import write_lora
from hub.testing.arch_shapes import table
from hub.testing.single_file import write_single_file

CASES = [
    ("kohya", "lora", False, None),
    ("kohya", "lora", True, None),
    ("kohya", "loha", True, None),
    ("kohya", "lokr", False, None),
    ("kohya", "lora", False, ["text_encoder"]),
    ("kohya", "lora", False, ["unet"]),
    ("diffusers", "lora", False, None),
    ("peft", "lora", False, None),
    ("diffusers-old", "lora", False, None),
]


@pytest.mark.parametrize(("style", "algo", "conv", "components"), CASES)
def test_an_adapter_of_the_tiny_base_is_tiny_in_every_style(tmp_path: Path, style, algo, conv, components) -> None:
    path = write_lora(tmp_path / "a.safetensors", arch="tiny-sd1", style=style, algo=algo, conv=conv,
                      components=components, metadata={"ss_base_model_version": "sd_v1"})  # fmt: skip
    probed = probe_file(path)
    assert probed.arch == "tiny", probed.evidence
    assert any("embedded tiny base" in e for e in probed.evidence)
    assert any("metadata says 'sd_v1' but the shapes say tiny" in e for e in probed.evidence)
    loaded = load_lora_set(path)  # no arch, no table given: the shapes say tiny, the packaged table places it
    assert loaded.arch == "tiny" and not loaded.names_only and loaded.table == packaged_table("tiny")


def test_other_bases_adapters_are_not_tiny(tmp_path: Path) -> None:
    assert probe_file(write_lora(tmp_path / "sd1.safetensors", arch="sd1")).arch == "sd1"
    assert probe_file(write_lora(tmp_path / "x.safetensors", arch="tiny-sdxl", components=["unet"])).arch == "unknown"
    # the tiny base's module names with other widths: a model of its own, not the embedded base
    wider = {k: (s[0] * 2, *s[1:]) for k, s in table("tiny-sd1").kohya_targets().items()}
    assert probe_file(write_lora(tmp_path / "w.safetensors", arch="tiny-sd1", targets=wider)).arch != "tiny"


def test_a_kohya_tiny_file_converts_to_diffusers_and_back_without_a_base(tmp_path: Path) -> None:
    src = write_lora(tmp_path / "a.safetensors", arch="tiny-sd1", conv=True, dtype="float32")
    diffusers = convert_file(src, tmp_path / "b.safetensors", to="diffusers")
    assert probe_file(diffusers).arch == "tiny" and probe_file(diffusers).format.startswith("diffusers")
    kohya = convert_file(diffusers, tmp_path / "c.safetensors", to="kohya")
    with safe_open(str(kohya), "pt") as f:
        meta = f.metadata()
    assert meta["ss_base_model_version"] == TINY_LABEL and meta["modelspec.architecture"] == f"{TINY_LABEL}/lora"
    assert meta["modelspec.resolution"] == "64x64" and "stable-diffusion" not in " ".join(meta.values())


def test_the_tiny_base_and_a_single_file_of_it_are_tiny_a_deeper_copy_is_not(tmp_path: Path) -> None:
    tiny = build_tiny_pipeline(tmp_path / "tiny", kind="sd1", seed=0)
    assert describe_base(str(tiny)).arch == "tiny"
    assert describe_base(str(write_single_file(tiny, tmp_path / "tiny.safetensors"))).arch == "tiny"
    assert describe_base(str(write_single_file(tiny, tmp_path / "tiny.ckpt"))).arch == "tiny"
    deeper = build_tiny_pipeline(tmp_path / "deeper", kind="sd1", seed=0, text_layers=4)
    assert describe_base(str(deeper)).arch == "sd1"
    assert describe_base(str(write_single_file(deeper, tmp_path / "deeper.safetensors"))).arch == "sd1"
