"""Options: explicit values over the preset over the defaults, refusals in one line, and a recipe whose every
flag the CLI accepts and parses back to the same options."""

from __future__ import annotations

import re

import pytest
import typer

from cli.app import app
from hub.errors import UsageError
from hub.train.batches import BatchPlan
from hub.train.options import PRESETS, resolve_options
from hub.train.output import recipe_argv

BASE = {"images": "/data", "token": "sks", "class_word": "dog"}


def test_explicit_values_win_over_the_preset_which_wins_over_defaults() -> None:
    o = resolve_options({**BASE, "preset": "cpu-tiny", "steps": 7, "rank": None})
    assert o.steps == 7 and o.resolution == 64 and o.rank == PRESETS["cpu-tiny"]["rank"] and o.batch_size == 1
    assert resolve_options(BASE).resolution == 512 and resolve_options(BASE).lora_alpha == 4.0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"preset": "4gb"}, "unknown preset"),
        ({"resolution": 60}, "multiple of 8"),
        ({"steps": 0}, "--steps must be positive"),
        ({"optimizer": "sgd"}, "--optimizer must be one of 'adamw', 'adamw8bit' or 'prodigy'"),
        ({"caption": "wd14"}, "--caption must be one of 'blip'"),
        ({"dropout": 1.0}, "--dropout must be less than 1"),
        ({"nonsense": 1}, "unknown training option"),
        ({"prior_from_base": True, "prior_images": 5}, "needs no class images"),
        ({"crop": "random", "buckets": True}, "do not mix"),
        ({"crop": "diagonal"}, "bad training option"),
    ],
)
def test_refusals_are_one_line(change: dict, words: str) -> None:
    with pytest.raises(UsageError, match=words) as caught:
        resolve_options({**BASE, **change})
    assert "\n" not in str(caught.value)


def test_the_recipe_parses_back_to_the_same_options() -> None:
    o = resolve_options({**BASE, "preset": "cpu-tiny", "steps": 12, "conv": True, "flip": True, "cache_latents": False,
                         "sample_prompts": ["a sks dog", "a dog"], "min_snr_gamma": 5.0, "prior_images": 3,
                         "class_prompt": "a photo of a dog", "name": "my-dog"})  # fmt: skip
    argv = recipe_argv(o, "/data")
    command = typer.main.get_command(app).commands["train"]
    ctx = command.make_context("train", argv[1:], resilient_parsing=True)
    seen = {k: v for k, v in ctx.params.items() if v is not None and k not in ("json_out", "run_id")}
    assert resolve_options(seen) == o.replace(preset=None)


def test_batches_cover_every_picture_each_epoch_and_are_a_function_of_the_index() -> None:
    plan = BatchPlan(seed=3, batch_size=2, groups=(0, 0, 1, 1, 1), repeats=(1, 2, 1, 1, 1))
    epoch = [plan.batch(i) for i in range(plan.per_epoch)]
    assert {i for b in epoch for i in b} == {0, 1, 2, 3, 4} and all(len(b) == 2 for b in epoch)
    assert sum(b.count(1) for b in epoch) >= 2  # its two repeats
    assert all(len({plan.groups[i] for i in b}) == 1 for b in epoch)  # one bucket per batch, topped up from it
    assert [plan.batch(i) for i in range(7)] == [plan.batch(i) for i in range(7)]
    assert resolve_options(BASE).prompts_to_sample == ["a photo of sks dog"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"steps": "ten"}, "--steps must be a whole number, got 'ten'"),
        ({"steps": 2.5}, "--steps must be a whole number"),
        ({"lr": float("nan")}, "--lr must be a finite number"),
        ({"flip": "maybe"}, "--flip must be true or false"),
        ({"sample_prompts": "a dog"}, "--sample-prompt must be a list of strings"),
        ({"mixed_precision": "fp8"}, "--mixed-precision must be one of 'no', 'bf16' or 'fp16'"),
        ({"token": 5}, "--token must be text"),
    ],
)
def test_values_of_the_wrong_type_are_refused_in_one_line(change: dict, words: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"bad training option: {words}")):
        resolve_options({**BASE, **change})


def test_numbers_are_taken_as_the_option_declares() -> None:
    o = resolve_options({**BASE, "steps": "5", "lr": 1, "alpha": 2, "flip": 1, "sample_prompts": ("a", "b")})
    assert (o.steps, o.lr, o.alpha, o.flip, o.sample_prompts) == (5, 1.0, 2.0, True, ["a", "b"])  # a form's "5" too
    assert type(o.steps) is int and type(o.lr) is float and type(o.alpha) is float


def test_the_cli_the_docs_and_the_web_form_come_from_the_one_declaration() -> None:
    from hub.train.options import option_specs, options_table
    from hub.web.training_runs import form_fields

    command = typer.main.get_command(app).commands["train"]
    flags = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for spec in option_specs():
        assert spec.flag in flags and f"`{spec.flag}`" in options_table()
        if spec.is_switch:
            assert spec.off_flag in flags
        param = next(p for p in command.params if spec.flag in p.opts)
        assert f"[{spec.default_text}]" in (param.help or "") or spec.default_text == "required"
    assert {p.name for p in command.params} == {s.name for s in option_specs()} | {"run_id", "json_out"}
    assert [f.name for f in form_fields()][:3] == ["images", "token", "class_word"]
