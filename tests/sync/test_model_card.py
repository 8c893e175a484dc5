"""Model cards: built deterministically, read back losslessly, and other people's cards read sensibly."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from hub.sync.model_card import (
    CardFile,
    CardImage,
    CardLineage,
    CardSpec,
    base_model_for,
    build_card,
    parse_card,
    split_card,
)
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
        files=[
            CardFile(path="ink-cats.safetensors", role="original", format="kohya", sha256="ab" * 32),
            CardFile(
                path="pytorch_lora_weights.safetensors",
                role="diffusers copy",
                format="diffusers-peft",
                sha256="cd" * 32,
            ),
        ],
        images=[CardImage(path="images/ink-cats-1.png", prompt="a c4t")],
        lineage=[CardLineage(operation="mixed-from", parent="cats-v1", weight=0.7)],
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
    assert card.files == _spec().files and card.original_file == "ink-cats.safetensors"
    data, body = split_card(text)
    assert data["license"] == "openrail++" and "stable-diffusion-xl" in data["tags"]
    assert "<lora:ink-cats:0.8>" in body and "| mixed-from | `cats-v1` | 0.7 |" in body
    assert "`ABABABABAB`" in body  # AutoV2 of the files


def test_the_front_matter_lists_each_weight_file_with_its_role_and_sha256():
    spec = _spec(
        files=[
            CardFile(path="ink-cats.safetensors", role="original", format="diffusers-peft", sha256="ab" * 32),
            CardFile(path="kohya/ink-cats.safetensors", role="kohya copy", format="kohya", sha256="ef" * 32),
            CardFile(
                path="pytorch_lora_weights.safetensors",
                role="diffusers copy",
                format="diffusers-peft",
                sha256="ab" * 32,
            ),
        ]
    )
    data, body = split_card(build_card(spec))
    assert data["sd_lora_hub"] == {
        "primary": "ink-cats.safetensors",
        "files": [f.model_dump() for f in spec.files],
    }
    assert "| `ink-cats.safetensors` | the adapter as registered, byte for byte (diffusers-peft) |" in body
    assert "| `kohya/ink-cats.safetensors` | a conversion to kohya for A1111/Forge/ComfyUI |" in body
    assert "the same bytes as `ink-cats.safetensors`, under the name diffusers looks for" in body
    # A1111 users get the kohya copy, whose file name keeps the adapter's name; diffusers users the diffusers copy
    assert "Download [`kohya/ink-cats.safetensors`](./kohya/ink-cats.safetensors) (kohya format)" in body
    assert "<lora:ink-cats:0.8>" in body and 'weight_name="pytorch_lora_weights.safetensors"' in body
    with pytest.raises(ValidationError, match="exactly one original"):
        _spec(files=[f.model_copy(update={"role": "kohya copy"}) for f in spec.files])


def test_a_card_from_before_the_files_block_names_the_original_by_its_sha256():
    """hub once made the kohya conversion the primary file and uploaded a diffusers original as the diffusers copy;
    the marker's source_sha256 still tells which file holds the pusher's bytes."""
    marker = {
        "name": "peft cats",
        "primary": "peft-cats.safetensors",
        "source_sha256": "ab" * 32,
        "files": {"peft-cats.safetensors": "ef" * 32, "pytorch_lora_weights.safetensors": "ab" * 32},
    }
    old = parse_card(f"---\nlicense: mit\n---\n# peft cats\n\n<!-- sd-lora-hub {json.dumps(marker)} -->\n")
    assert old.ours and old.files == [] and old.primary_file == "peft-cats.safetensors"
    assert old.original_file == "pytorch_lora_weights.safetensors"
    marker["files"] = {"peft-cats.safetensors": "ab" * 32, "pytorch_lora_weights.safetensors": "cd" * 32}
    kohya = parse_card(f"---\nlicense: mit\n---\n# k\n\n<!-- sd-lora-hub {json.dumps(marker)} -->\n")
    assert kohya.original_file == "peft-cats.safetensors"  # a kohya original was the primary already


def test_a_hostile_files_block_is_read_without_errors():
    text = (
        "---\nsd_lora_hub:\n  primary: [1]\n  files:\n  - {path: a.safetensors, role: boss, sha256: 3}\n  - x\n---\n"
    )
    card = parse_card(text)
    assert card.files == [] and card.primary_file is None and not card.ours
    assert parse_card("---\nsd_lora_hub: 7\n---\n").files == []


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


def test_licences_become_hub_identifiers():
    from hub.sync.licenses import card_license

    assert card_license("CreativeML Open RAIL-M", "sd1") == {"license": "creativeml-openrail-m"}
    assert card_license("creativeml-openrail-m", "sdxl") == {"license": "creativeml-openrail-m"}
    assert card_license("CreativeML Open RAIL++-M License", "sdxl") == {"license": "openrail++"}
    assert card_license("Apache License 2.0", "sd1") == {"license": "apache-2.0"}
    assert card_license("MIT License", "sd1") == {"license": "mit"}
    assert card_license("CC BY-NC 4.0", "sd1") == {"license": "cc-by-nc-4.0"}
    assert card_license(None, "sd1") == {"license": "creativeml-openrail-m"}  # the base's licence
    assert card_license(None, "sdxl") == {"license": "openrail++"}
    assert card_license(None, "mystery") == {"license": "unknown"}
    faipl = card_license("Fair AI Public License 1.0-SD", "sdxl")
    assert faipl == {
        "license": "other",
        "license_name": "fair-ai-public-license-1.0-sd",
        "license_link": "https://freedevproject.org/faipl-1.0-sd/",
    }
    assert card_license(None, "flux")["license_name"] == "flux-1-dev-non-commercial-license"
    assert card_license("My Own Terms v2", "sd1") == {"license": "other", "license_name": "my-own-terms-v2"}
    url = card_license("https://example.com/terms.txt", "sd1")
    assert url == {"license": "other", "license_name": "example.com-terms.txt", "license_link": url["license_link"]}


def test_the_card_writes_the_hub_identifier_and_keeps_the_adapters_words():
    text = build_card(_spec(license="CreativeML Open RAIL-M", arch="sd1"))
    data, _ = split_card(text)
    assert data["license"] == "creativeml-openrail-m" and "license_name" not in data
    assert parse_card(text).license == "CreativeML Open RAIL-M"  # ours: the marker keeps the original
    data, body = split_card(build_card(_spec(license="Fair AI Public License 1.0-SD")))
    assert (data["license"], data["license_name"]) == ("other", "fair-ai-public-license-1.0-sd")
    assert "Licence: Fair AI Public License 1.0-SD (https://freedevproject.org/faipl-1.0-sd/)." in body
    theirs = parse_card("---\nlicense: other\nlicense_name: yi-license\nlicense_link: LICENSE\n---\n# T\n")
    assert theirs.license == "yi-license"


def test_a_tiny_adapters_card_names_the_embedded_base_and_claims_no_sd_base_or_licence():
    spec = _spec(arch="tiny", base_model=None, base_label="tiny", triggers=["sks"], tags=["trained", "ball"])
    card = build_card(spec)
    front, body = split_card(card)
    assert "base_model" not in front and front["license"] == "unknown"
    assert "sd-lora-hub-tiny" in front["tags"] and not {"stable-diffusion", "stable-diffusion-xl"} & set(front["tags"])
    assert "sd-lora-hub's embedded `tiny` base (`--base tiny`" in body and "not for Stable Diffusion" in body
    assert "hub gen \"sks\" --lora 'ink cats' --base tiny" in body and 'resolve_base("tiny")' in body
    assert "<lora:" not in body and "stable-diffusion" not in body and "openrail" not in card
    back = parse_card(card)
    assert (back.base_label, back.base_model, back.tags) == ("tiny", None, ["trained", "ball"])
