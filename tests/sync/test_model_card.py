"""Model cards: built deterministically, read back losslessly, and other people's cards read sensibly."""

from __future__ import annotations

from hub.sync.model_card import CardImage, CardLineage, CardSpec, base_model_for, build_card, parse_card, split_card
from hub.sync.pull import is_safe_repo_path, parse_spec


def _spec(**kw: object) -> CardSpec:
    values: dict[str, object] = dict(
        name="ink cats",
        repo="alice/ink-cats",
        arch="sdxl",
        base_model="stabilityai/stable-diffusion-xl-base-1.0",
        base_label="SDXL 1.0",
        triggers=["c4t, style", "ink"],
        tags=["cats", "style"],
        description="Cats in ink. <!-- not the end --> Really.",
        kohya_file="ink-cats.safetensors",
        images=[CardImage(path="images/ink-cats-1.png", prompt="a c4t")],
        lineage=[CardLineage(operation="mixed-from", parent="cats-v1", weight=0.7)],
        source_sha256="ab" * 32,
        file_sha256={"ink-cats.safetensors": "ab" * 32, "pytorch_lora_weights.safetensors": "cd" * 32},
        rank=8,
        alpha=4.0,
    )
    values.update(kw)
    return CardSpec(**values)  # type: ignore[arg-type]


def test_our_card_round_trips_exactly():
    text = build_card(_spec())
    assert text == build_card(_spec())  # deterministic: a re-push with nothing changed is a no-op
    card = parse_card(text)
    assert card.ours and card.name == "ink cats" and card.primary_file == "ink-cats.safetensors"
    assert card.triggers == ["c4t, style", "ink"]  # a comma inside a trigger survives
    assert card.tags == ["cats", "style"] and card.base_label == "SDXL 1.0"
    assert card.description == "Cats in ink. <!-- not the end --> Really."
    assert card.lineage == [CardLineage(operation="mixed-from", parent="cats-v1", weight=0.7)]
    assert card.images == [CardImage(path="images/ink-cats-1.png", prompt="a c4t")]
    assert card.file_sha256["pytorch_lora_weights.safetensors"] == "cd" * 32
    data, body = split_card(text)
    assert data["license"] == "openrail++" and "stable-diffusion-xl" in data["tags"]
    assert "<lora:ink-cats:0.8>" in body and "| mixed-from | `cats-v1` | 0.7 |" in body
    assert "`ABABABABAB`" in body  # AutoV2 of the files


def test_a_diffusers_training_script_card():
    text = """---
base_model: runwayml/stable-diffusion-v1-5
library_name: diffusers
license: creativeml-openrail-m
inference: true
instance_prompt: a photo of sks dog
tags:
- text-to-image
- diffusers
- lora
- diffusers-training
- stable-diffusion
- stable-diffusion-diffusers
widget:
- text: a photo of sks dog in a bucket
  output:
    url: image_0.png
---

# LoRA DreamBooth - someone/dog-lora

These are LoRA adaption weights for runwayml/stable-diffusion-v1-5.
"""
    card = parse_card(text)
    assert not card.ours and card.primary_file is None
    assert card.triggers == ["a photo of sks dog"] and card.tags == []
    assert card.base_model == card.base_label == "runwayml/stable-diffusion-v1-5"
    assert card.license == "creativeml-openrail-m"
    assert card.images == [CardImage(path="image_0.png", prompt="a photo of sks dog in a bucket")]
    assert card.description == "These are LoRA adaption weights for runwayml/stable-diffusion-v1-5."


def test_cards_without_front_matter_or_with_broken_yaml():
    card = parse_card("# Just a title\n\n## Trigger words\n\nUse `zzz style` and `qqq`.\n")
    assert card.triggers == ["zzz style", "qqq"] and card.name == "Just a title"
    broken = parse_card("---\ntags: [unclosed\n---\n# T\n")
    assert broken.tags == [] and broken.name == "T"


def test_base_model_and_specs():
    assert base_model_for("sd1", None) == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert base_model_for("sdxl", "my-org/my-base") == "my-org/my-base"
    assert base_model_for("unknown", "SD 1.5") is None
    assert parse_spec("alice/cats") == ("alice/cats", "main", None)
    assert parse_spec("hf://alice/cats@dev:sub/x.safetensors") == ("alice/cats", "dev", "sub/x.safetensors")
    for bad in ("../x", "/etc/x", "a/../../x", "C:evil", "a\\b", ""):
        assert not is_safe_repo_path(bad), bad
    assert is_safe_repo_path("images/a.png")
