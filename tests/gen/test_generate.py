"""`hub gen` on the tiny base: recipes read back, seeds, weight 0, formats, diffusers parity, previews, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hub.errors import IncompatibleError, NotFoundError, UsageError
from hub.gen import api
from hub.gen.results import LoraUse
from tests.gen.conftest import pixels

FAST = {"steps": 3, "cfg": 7.0}


def test_infotext_parses_back_to_the_same_settings(tiny_base: Path, registered, tmp_path: Path) -> None:
    result = api.generate("a photo of a dog", loras=[("dog", 0.7), ("style", 0.5)], base=str(tiny_base),
                          negative="lowres", seed=11, steps=3, cfg=5.5, width=64, height=48, n=2,
                          sampler="Euler a", out=tmp_path)  # fmt: skip
    assert [i.seed for i in result.images] == [11, 12]
    for image in result.images:
        request = api.read_png(image.path)
        assert request == image.request
        assert (request.prompt, request.negative, request.steps, request.cfg) == ("a photo of a dog", "lowres", 3, 5.5)
        assert (request.width, request.height, request.sampler, request.seed) == (64, 48, "Euler a", image.seed)
        assert [(lo.name, lo.weight) for lo in request.loras] == [("dog", 0.7), ("style", 0.5)]
        # A1111/Civitai read the AutoV3 prefixes from "Lora hashes"
        from hub.registry.api import show

        assert request.loras[0].hash == show("dog").hashes.autov3[:12]
        assert "<lora:dog:0.7> <lora:style:0.5>" in image.infotext
    assert pixels(result.images[0].path).shape == (48, 64, 3)


def test_two_seeds_differ_and_the_same_seed_repeats(tiny_base: Path, registered, tmp_path: Path) -> None:
    first = api.generate("a dog", loras=[("dog", 0.8)], base=str(tiny_base), seed=5, n=2, out=tmp_path, **FAST)
    again = api.generate("a dog", loras=[("dog", 0.8)], base=str(tiny_base), seed=5, out=tmp_path, **FAST)
    a, b = (pixels(i.path) for i in first.images)
    assert not np.array_equal(a, b)
    assert np.array_equal(a, pixels(again.images[0].path))


def test_weight_zero_equals_no_lora(tiny_base: Path, registered, tmp_path: Path) -> None:
    renderer = api.Renderer(str(tiny_base))
    plain = renderer.render(api.make_request("a dog", seed=3, **FAST), out=tmp_path)
    zero = renderer.render(api.make_request("a dog", loras=[("dog", 0), ("style", 0)], seed=3, **FAST), out=tmp_path)
    some = renderer.render(api.make_request("a dog", loras=[("dog", 0.8)], seed=3, **FAST), out=tmp_path)
    back = renderer.render(api.make_request("a dog", seed=3, **FAST), out=tmp_path)  # adapters loaded, none active
    assert np.array_equal(pixels(plain.images[0].path), pixels(zero.images[0].path))
    assert not np.array_equal(pixels(plain.images[0].path), pixels(some.images[0].path))
    assert np.array_equal(pixels(plain.images[0].path), pixels(back.images[0].path))
    assert "<lora:dog:0>" in zero.images[0].infotext


def test_matches_plain_diffusers_with_the_same_adapters_set(tiny_base: Path, registered, tmp_path: Path) -> None:
    """What `hub gen` draws is what diffusers draws with load_lora_weights + set_adapters (not fused)."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    ours = api.generate("a dog", loras=[("dog", 0.7), ("style", -0.4)], base=str(tiny_base), seed=9,
                        sampler="DDIM", out=tmp_path, **FAST)  # fmt: skip
    pipe = StableDiffusionPipeline.from_pretrained(tiny_base, safety_checker=None, requires_safety_checker=False)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    for name in ("dog", "style"):
        path = registered[name]
        pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name)
    pipe.set_adapters(["dog", "style"], adapter_weights=[0.7, -0.4])
    theirs = pipe("a dog", num_inference_steps=3, guidance_scale=7.0, generator=torch.Generator("cpu").manual_seed(9))
    assert np.array_equal(np.asarray(theirs.images[0]), pixels(ours.images[0].path))


def test_lycoris_is_converted_once_and_adapters_never_leak(
    tiny_base: Path, registered, tmp_path: Path, lorahub_home
) -> None:
    renderer = api.Renderer(str(tiny_base))
    plain = renderer.render(api.make_request("a dog", seed=2, **FAST), out=tmp_path)
    loha = renderer.render(api.make_request("a dog", loras=[("fur", 1.0)], seed=2, **FAST), out=tmp_path)
    cached = [p for p in (lorahub_home / "cache" / "gen-adapters").glob("*.safetensors") if ".direct." not in p.name]
    assert len(cached) == 1  # the LoHa, converted once
    assert not np.array_equal(pixels(plain.images[0].path), pixels(loha.images[0].path))
    # Adapters of an earlier request (here with text-encoder parts the LoHa lacks) never leak into a later one.
    renderer.render(
        api.make_request("a dog", loras=[("dog", 1), ("style", 1), ("fur", 1)], seed=2, **FAST), out=tmp_path
    )
    again = renderer.render(api.make_request("a dog", loras=[("fur", 1.0)], seed=2, **FAST), out=tmp_path)
    assert np.array_equal(pixels(loha.images[0].path), pixels(again.images[0].path))


def test_renderer_loads_the_pipeline_once_and_each_adapter_once(tiny_base: Path, registered, tmp_path: Path) -> None:
    renderer = api.Renderer(str(tiny_base))
    pipe = renderer.pipe
    for weight in (0.2, 0.6, 1.0):
        result = renderer.render(api.make_request("a dog", loras=[("dog", weight)], seed=1, **FAST), out=tmp_path)
        assert result.load_seconds == 0.0
    assert renderer.pipe is pipe
    assert pipe.get_list_adapters()["unet"] == [renderer.adapters.ensure(_resolved("dog"))]


def _resolved(name: str):
    from hub.context import Context
    from hub.gen.adapters import resolve_loras

    with Context() as ctx:
        return resolve_loras([LoraUse(name=name)], ctx)[0]


def test_rerender_from_png_is_identical(tiny_base: Path, registered, tmp_path: Path) -> None:
    first = api.generate("a cat <lora:dog:0.6>", loras=[("style", 0.3)], base=str(tiny_base), seed=21,
                         out=tmp_path / "a", **FAST)  # fmt: skip
    again = api.rerender(first.images[0].path, out=tmp_path / "b")
    assert again.images[0].request == first.images[0].request
    assert np.array_equal(pixels(first.images[0].path), pixels(again.images[0].path))


def test_set_preview_records_the_image(tiny_base: Path, registered, tmp_path: Path) -> None:
    from hub.registry.api import show

    result = api.generate("a dog", loras=[("dog", 0.5), ("style", 0)], base=str(tiny_base), seed=1,
                          set_preview=True, out=tmp_path, **FAST)  # fmt: skip
    assert result.previews_set == ["dog"]  # weight 0 is not part of the picture
    previews = show("dog").previews
    assert len(previews) == 1 and previews[0].source.endswith(Path(result.images[0].path).name)
    assert np.array_equal(pixels(previews[0].path), pixels(result.images[0].path))
    assert show("style").previews == []


def test_base_comes_from_the_adapter_record_else_a_clear_error(tiny_base: Path, lora_files, tmp_path: Path) -> None:
    from hub.registry.api import add_one

    add_one(lora_files["dog"], name="dog", base_label=str(tiny_base))
    add_one(lora_files["style"], name="style")
    result = api.generate("a dog", loras=[("dog", 0.5)], seed=1, out=tmp_path, **FAST)
    assert result.base == str(tiny_base)
    with pytest.raises(UsageError, match="no base model given") as e:
        api.generate("a dog", loras=[("style", 0.5)], out=tmp_path, **FAST)
    assert "--base" in (e.value.hint or "")


def test_refusals_before_rendering(tiny_base: Path, registered, tmp_path: Path) -> None:
    from hub.registry.api import add_one
    from hub.testing import write_embedding

    add_one(write_embedding(tmp_path / "emb.pt", dim=32), name="emb")
    with pytest.raises(IncompatibleError, match="embedding"):
        api.generate("a dog", loras=[("emb", 1)], base=str(tiny_base), out=tmp_path, **FAST)
    with pytest.raises(UsageError, match="unknown sampler"):
        api.generate("a dog", base=str(tiny_base), sampler="Euler b", out=tmp_path, **FAST)
    with pytest.raises(UsageError, match="multiples of 8"):
        api.generate("a dog", base=str(tiny_base), width=60, out=tmp_path, **FAST)
    with pytest.raises(UsageError, match="listed twice"):
        api.generate("a dog <lora:dog:0.2>", loras=[("dog", 0.5)], base=str(tiny_base), out=tmp_path, **FAST)
    # The adapters are looked up before the base is loaded: a misspelt name is the error, not the missing base.
    with pytest.raises(NotFoundError, match="no adapter 'dgo'"):
        api.generate("a dog", loras=[("dgo", 0.5)], base=str(tmp_path / "no-such-base"), out=tmp_path, **FAST)
    with pytest.raises(IncompatibleError, match="embedding"):
        api.grid("a dog", [("emb", [0, 1])], base=str(tmp_path / "no-such-base"), out=tmp_path, **FAST)
    assert not list(tmp_path.glob("*.png"))
