"""The composition CLI end to end on registered files: lineage, recipe, refusals, real fixtures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import hub.registry.api as library
from cli.app import app
from hub.compose import ops
from hub.compose.inputs import parse_spec
from hub.formats.load import load_lora_set
from hub.formats.lora_set import LoraModule, LoraSet
from hub.formats.write import save_lora_set
from hub.testing import lora_targets

runner = CliRunner()
REAL = "lora/{}__pytorch_lora_weights.safetensors"
SKOPE = REAL.format("commonpike__lora-skope__model")
POKEMON = REAL.format("huggingface__diffusers__examples__text_to_image__sd-pokemon-model-lora")


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    return result


def write_set(path: Path, arch: str, seed: int, rank: int = 4, limit: int = 12) -> Path:
    g = torch.Generator().manual_seed(seed)
    modules = {}
    for key, shape in list(lora_targets(arch).items())[:limit]:
        inner = int(torch.tensor(shape[1:]).prod())
        modules[key] = LoraModule(torch.randn(shape[0], rank, generator=g) * 0.01,
                                  torch.randn(rank, inner, generator=g) * 0.01, 2.0 / rank, tuple(shape))  # fmt: skip
    save_lora_set(LoraSet(arch=arch, modules=modules), path, fmt="kohya")
    return path


def test_parse_spec():
    assert parse_spec("dog.safetensors:0.7") == ("dog.safetensors", 0.7)
    assert parse_spec("dog") == ("dog", 1.0)
    assert parse_spec("dog:-0.3") == ("dog", -0.3)
    assert parse_spec(r"C:\loras\dog.safetensors") == (r"C:\loras\dog.safetensors", 1.0)
    assert parse_spec(r"C:\loras\dog.safetensors:0.5") == (r"C:\loras\dog.safetensors", 0.5)


def test_mix_registers_lineage_and_recipe(tmp_path):
    a, b = write_set(tmp_path / "a.safetensors", "sd1", 1), write_set(tmp_path / "b.safetensors", "sd1", 2)
    assert invoke("add", str(a), "--name", "aa").exit_code == 0
    assert invoke("add", str(b), "--name", "bb").exit_code == 0
    out = tmp_path / "outdir"
    out.mkdir()
    res = invoke("mix", "aa:0.7", "bb:-0.5", "--method", "svd", "--rank", "3", "--name", "ab", "--out", str(out),
                 "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["method"] == "svd" and data["rank"] == 3 and data["ranks"] == [3]
    detail = library.show("ab")
    assert {(e.parent_ref, e.operation, e.params["weight"]) for e in detail.parents} == {
        ("aa", "mixed-from", 0.7),
        ("bb", "mixed-from", -0.5),
    }
    assert detail.recipe["command"].startswith("hub mix ")
    assert "--method svd --rank 3" in detail.recipe["command"]
    assert detail.metadata["modelspec.merged_from"] == "aa:0.7, bb:-0.5"
    assert detail.metadata["modelspec.title"] == "ab"
    assert (out / "ab.safetensors").is_file()
    # the written file is the optimum of the weighted sum
    got, sa, sb = (load_lora_set(p) for p in (out / "ab.safetensors", a, b))
    for key in sa.modules:
        target = 0.7 * ops.module_delta(sa.modules[key]) - 0.5 * ops.module_delta(sb.modules[key])
        S = torch.linalg.svdvals(target.double())
        err = float(torch.linalg.norm((ops.module_delta(got.modules[key]) - target).double()))
        assert err == pytest.approx(float(S[3:].pow(2).sum().sqrt()), rel=1e-3, abs=1e-6)
    # the recipe rebuilds the same bytes
    argv = detail.recipe["argv"][1:]
    argv[argv.index("--name") + 1] = "ab2"
    assert invoke(*argv).exit_code == 0
    rebuilt_detail = library.show("ab2")  # registered, and hashed: the stored bytes' SHA256, not None or ""
    assert rebuilt_detail.sha256 == hashlib.sha256(Path(rebuilt_detail.path).read_bytes()).hexdigest()
    rebuilt = load_lora_set(library.show("ab2").path)
    for key in got.modules:
        torch.testing.assert_close(ops.module_delta(rebuilt.modules[key]), ops.module_delta(got.modules[key]))


def test_concat_scale_resize_convert_from_the_cli(tmp_path):
    a, b = write_set(tmp_path / "a.safetensors", "sd1", 3), write_set(tmp_path / "b.safetensors", "sd1", 4, limit=6)
    assert invoke("mix", f"{a}:0.5", f"{b}", "--name", "cat").exit_code == 0
    cat, sa, sb = load_lora_set(library.show("cat").path), load_lora_set(a), load_lora_set(b)
    for key in sa.modules:
        want = 0.5 * ops.module_delta(sa.modules[key])
        if key in sb.modules:
            want = want + ops.module_delta(sb.modules[key])
        torch.testing.assert_close(ops.module_delta(cat.modules[key]), want, rtol=1e-4, atol=1e-7)
    res = invoke("scale", "cat", "--name", "half", "--json", "--", "-0.5")
    assert res.exit_code == 0, res.output
    half = library.show("half")
    assert half.parents[0].operation == "scaled-from" and half.recipe["command"].endswith("-- -0.5")
    halved = load_lora_set(half.path)
    for key in cat.modules:
        torch.testing.assert_close(ops.module_delta(halved.modules[key]), -0.5 * ops.module_delta(cat.modules[key]))
    res = invoke("resize", "cat", "--dynamic", "sv_fro:0.9", "--rank", "6", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert 0.9 <= data["reduction"]["min_kept"] <= 1.0 and max(data["ranks"]) <= 6
    res = invoke("convert", "cat", "--to", "diffusers", "--name", "cat-d")
    assert res.exit_code == 0, res.output
    conv = load_lora_set(library.show("cat-d").path)
    for key in cat.modules:
        torch.testing.assert_close(ops.module_delta(conv.modules[key]), ops.module_delta(cat.modules[key]))
    assert library.show("cat-d").parents[0].operation == "converted-from"


def test_sd1_plus_sdxl_is_refused(tmp_path, capsys):
    from cli.app import main

    a, x = write_set(tmp_path / "a.safetensors", "sd1", 5), write_set(tmp_path / "x.safetensors", "sdxl", 6)
    with pytest.raises(SystemExit) as exit_info:
        main(["mix", str(a), str(x), "--method", "svd", "--rank", "2"])
    assert exit_info.value.code == 5  # IncompatibleError
    err = capsys.readouterr().err
    assert "error: cannot combine adapters for different base models: sd1 + sdxl" in err
    assert "Traceback" not in err
    assert library.ls() == []  # nothing registered


def test_real_sd1_fixtures_mix(real_adapters, tmp_path):
    res = invoke("mix", f"{real_adapters / SKOPE}:0.7", f"{real_adapters / POKEMON}:0.5", "--method", "svd",
                 "--rank", "auto", "--dynamic", "sv_fro:0.95", "--name", "real", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["adapter"]["arch"] == "sd1" and data["modules"] == 128
    assert data["reduction"]["min_kept"] >= 0.95
    a, b = load_lora_set(real_adapters / SKOPE), load_lora_set(real_adapters / POKEMON)
    res = invoke("mix", f"{real_adapters / SKOPE}:0.7", f"{real_adapters / POKEMON}:0.5", "--name", "realcat")
    assert res.exit_code == 0, res.output
    got = load_lora_set(library.show("realcat").path)
    for key in a.modules:
        want = 0.7 * ops.module_delta(a.modules[key]) + 0.5 * ops.module_delta(b.modules[key])
        torch.testing.assert_close(ops.module_delta(got.modules[key]), want, rtol=1e-4, atol=1e-6)
