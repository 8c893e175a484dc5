"""Composition refuses what it cannot use with one clear line naming the adapter, not its store path."""

from pathlib import Path

import pytest

import hub
from hub.errors import IncompatibleError, UnsupportedFormatError
from hub.testing import write_embedding, write_lora


def test_an_embedding_is_not_mixed(tmp_path: Path) -> None:
    hub.add_one(write_embedding(tmp_path / "neg.safetensors", style="safetensors-emb-params"))
    hub.add_one(write_lora(tmp_path / "style.safetensors", seed=1))
    with pytest.raises(IncompatibleError, match="'neg' is a textual-inversion embedding"):
        hub.mix(["neg", "style"])


def test_a_recognised_but_unusable_format_says_why(real_adapters: Path) -> None:
    kiriko = hub.add_one(real_adapters / "lora" / "cloneofsimo__lora__lora_kiriko.pt")
    with pytest.raises(UnsupportedFormatError, match="no module names"):
        hub.resize(kiriko.name, rank=2)


def test_load_errors_name_the_adapter_not_the_blob(tmp_path: Path) -> None:
    # an SD1 LoRA (cross-attention in-dim 768) with a module SD1 does not have: it cannot be placed
    targets = {
        "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k": (320, 768),
        "unet.down_blocks.7.attentions.0.proj_in": (320, 320),
    }
    a = hub.add_one(write_lora(tmp_path / "odd.safetensors", arch="sd1", targets=targets, seed=2))
    assert a.arch == "sd1"
    with pytest.raises(IncompatibleError, match="down_blocks_7") as e:
        hub.resize(a.name, rank=2)
    assert str(e.value).startswith("'odd'") and a.sha256 not in str(e.value)


@pytest.mark.parametrize("style", ["diffusers", "diffusers-old", "peft"])
def test_diffusers_style_keys_must_exist_in_the_base(tmp_path: Path, style: str) -> None:
    from hub.formats.load import load_lora_set

    targets = {
        "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k": (320, 768),
        "unet.down_blocks.7.attentions.0.proj_in": (320, 320),
    }
    f = write_lora(tmp_path / style / "odd.safetensors", arch="sd1", style=style, targets=targets,
                   components=("unet",))  # fmt: skip
    with pytest.raises(IncompatibleError, match=r"cannot be placed as sd1 modules: unet\.down_blocks\.7"):
        load_lora_set(f, arch="sd1")
