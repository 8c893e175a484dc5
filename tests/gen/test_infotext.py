"""A1111's "parameters" text: what we write reads back the same, and real A1111/Civitai texts parse."""

from __future__ import annotations

import pytest

from hub.errors import UsageError
from hub.gen.infotext import format_infotext, parse_infotext, split_lora_tags
from hub.gen.results import GenRequest, LoraUse
from hub.gen.samplers import SAMPLERS, canonical_name, make_scheduler, name_of

FULL = GenRequest(
    prompt="a photo of a dog, (masterpiece:1.2)\nsecond line",
    negative="lowres, bad hands",
    loras=[LoraUse(name="dog", weight=0.7, hash="0123456789ab"), LoraUse(name="my style", weight=-0.35)],
    base="/models/sd 1.5, pruned.safetensors",
    seed=4294967295,
    steps=28,
    cfg=6.5,
    width=512,
    height=768,
    sampler="DPM++ 2M Karras",
)


def test_round_trip_keeps_every_setting() -> None:
    text = format_infotext(FULL, lora_hashes={"dog": "0123456789ab"}, version="sd-lora-hub 0.1.0")
    assert text.splitlines()[1] == "second line <lora:dog:0.7> <lora:my style:-0.35>"
    assert 'Model: "/models/sd 1.5, pruned.safetensors"' in text
    assert 'Lora hashes: "dog: 0123456789ab"' in text
    assert parse_infotext(text) == FULL


def test_a1111_text_with_schedule_type_and_unknown_fields() -> None:
    # As A1111 1.10 writes it: sampler and schedule split, fields hub does not use, TI hashes quoted.
    text = (
        "masterpiece, <lora:add_detail:0.5>, 1girl <lora:styleX:1>\n"
        "Negative prompt: worst quality\n"
        "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 1234, Size: 832x1216, "
        'Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Clip skip: 2, TI hashes: "easynegative: c74b4e810b03", '
        'Lora hashes: "add_detail: 7c6bad76eb54, styleX: 1d7e3a1b2c3d", Version: v1.10.1'
    )
    request = parse_infotext(text)
    assert request.prompt == "masterpiece, 1girl"
    assert request.negative == "worst quality"
    assert request.loras == [LoraUse(name="add_detail", weight=0.5, hash="7c6bad76eb54"),
                             LoraUse(name="styleX", weight=1.0, hash="1d7e3a1b2c3d")]  # fmt: skip
    assert (request.steps, request.cfg, request.seed) == (30, 5.5, 1234)
    assert (request.width, request.height, request.base) == (832, 1216, "sd_xl_base_1.0")
    assert request.sampler == "DPM++ 2M Karras"
    assert request.extra == {"Clip skip": "2", "TI hashes": "easynegative: c74b4e810b03"}


def test_prompt_only_text_and_unknown_sampler() -> None:
    assert parse_infotext("just a prompt") == GenRequest(prompt="just a prompt")
    text = "a cat\nSteps: 10, Sampler: DPM adaptive, CFG scale: 7, Seed: 1, Size: 512x512"
    assert parse_infotext(text).sampler == "DPM adaptive"  # kept; rendering it is what fails


def test_lora_tags_are_split_from_the_prompt() -> None:
    assert split_lora_tags("a dog <lora:dog:0.7>") == ("a dog", [LoraUse(name="dog", weight=0.7)])
    assert split_lora_tags("a, <lora:x>, b <LYCO:y:0.2:0.5>")[0] == "a, b"
    assert [lo.weight for lo in split_lora_tags("a, <lora:x>, b <LYCO:y:0.2:0.5>")[1]] == [1.0, 0.2]
    with pytest.raises(UsageError):
        split_lora_tags("<lora:x:strong>")


@pytest.mark.parametrize(
    ("given", "schedule", "expected"),
    [("Euler a", None, "Euler a"), ("euler_ancestral", None, "Euler a"), ("dpm++ 2m karras", None, "DPM++ 2M Karras"),
     ("DPM++ 2M", "Karras", "DPM++ 2M Karras"), ("DPM++ 2M", "Automatic", "DPM++ 2M"),
     ("dpmpp_2m_karras", None, "DPM++ 2M Karras"), ("DDIM", None, "DDIM"),
     ("UniPCMultistepScheduler", None, "UniPCMultistepScheduler")],
)  # fmt: skip
def test_sampler_names(given: str, schedule: str | None, expected: str) -> None:
    assert canonical_name(given, schedule) == expected


def test_unknown_sampler_lists_the_choices() -> None:
    with pytest.raises(UsageError) as e:
        canonical_name("Euler b")
    assert "DPM++ 2M Karras" in (e.value.hint or "")
    with pytest.raises(UsageError):
        canonical_name("Euler a", "Karras")  # diffusers' ancestral Euler has no Karras sigmas


SD_SCHEDULER = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
                "num_train_timesteps": 1000, "steps_offset": 1, "clip_sample": False, "set_alpha_to_one": False,
                "prediction_type": "epsilon", "skip_prk_steps": True, "use_karras_sigmas": True}  # fmt: skip


@pytest.mark.parametrize(
    "name", ["Euler a", "DPM++ 2M Karras", "DPM++ 2M SDE", "DDIM", "PLMS", "Euler", "Heun Karras", "UniPC", "DPM2 a"]
)
def test_every_sampler_builds_its_scheduler_and_names_itself_back(name: str) -> None:
    scheduler = make_scheduler(name, SD_SCHEDULER)
    assert type(scheduler).__name__ == SAMPLERS[name].scheduler
    assert scheduler.config.beta_schedule == "scaled_linear"  # the base's noise schedule is kept
    # a flag of the base's own scheduler never leaks into another sampler
    assert bool(scheduler.config.get("use_karras_sigmas")) == name.endswith("Karras")
    assert name_of(type(scheduler).__name__, dict(scheduler.config)) == name
