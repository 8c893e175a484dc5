"""The typed recipe: one function renders every operation's command; the registry keeps recipe and command."""

from __future__ import annotations

import pytest

import hub
from hub.compose.methods import MERGE_METHODS
from hub.compose.recipe import Recipe, RecipeInput, output_params
from hub.errors import UsageError
from hub.testing import write_lora


def test_each_operation_renders_to_its_command() -> None:
    mix = Recipe(
        operation="mix",
        inputs=[RecipeInput(ref="aa11", weight=0.7), RecipeInput(ref="bb22", weight=-0.5)],
        params={"method": "svd", "rank": 8, "dynamic": None, "density": None, **output_params("kohya", None, "ab")},
    )
    assert mix.command() == "hub mix aa11:0.7 bb22:-0.5 --method svd --rank 8 --name ab"
    scale = Recipe(operation="scale", inputs=[RecipeInput(ref="cc", weight=-0.5)], params={"name": "half"})
    assert scale.argv() == ["hub", "scale", "cc", "--name", "half", "--", "-0.5"]
    extract = Recipe(
        operation="extract",
        inputs=[RecipeInput(ref="/m/base", role="base"), RecipeInput(ref="/m/tuned", role="tuned")],
        params={"rank": 4, "min_diff": 0.02, **output_params("diffusers", "fp16", "x")},
    )
    assert extract.command() == (
        "hub extract --base /m/base --tuned /m/tuned --rank 4 --min-diff 0.02 --format diffusers --dtype fp16 --name x"
    )
    stored = mix.stored()
    assert stored["command"] == mix.command() and stored["argv"] == mix.argv()
    assert Recipe.model_validate(stored) == mix  # the stored form reads back as the same recipe


def test_a_mix_stores_its_typed_recipe(tmp_path) -> None:
    a = hub.add_one(write_lora(tmp_path / "a.safetensors", seed=1), name="aa")
    hub.add_one(write_lora(tmp_path / "b.safetensors", seed=2), name="bb")
    result = hub.mix(["aa:0.7", "bb:0.5"], method="svd", rank="2", name="ab", device="cpu")
    assert result.rank == 2 and result.recipe.params["rank"] == 2
    stored = hub.show("ab").recipe
    assert stored is not None and stored["command"] == result.command
    recipe = Recipe.model_validate(stored)
    assert recipe.operation == "mix" and [i.weight for i in recipe.inputs] == [0.7, 0.5]
    assert recipe.inputs[0].ref == (a.sha256 or "")[:12]


def test_rank_is_parsed_by_the_library_and_methods_come_from_one_table(tmp_path) -> None:
    with pytest.raises(UsageError, match="--rank wants an integer or 'auto'"):
        hub.mix(["x", "y"], method="svd", rank="big")
    with pytest.raises(UsageError, match="unknown method 'average'") as refused:
        hub.mix(["x", "y"], method="average")
    assert refused.value.hint == "one of concat, svd, ties, dare"
    assert list(MERGE_METHODS) == ["concat", "svd", "ties", "dare"]
    assert not MERGE_METHODS["concat"].reduces and MERGE_METHODS["dare"].uses_seed
