"""Issue 8, composition: a weight that is not a number, names and archs checked before any tensor is read, fuse
into the embedded tiny base, mixed outputs whose header says what their tensors hold. Each as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import hub.formats.load as load_module
from hub.compose import api as compose
from hub.compose.inputs import parse_spec
from hub.errors import IncompatibleError, NotFoundError, UsageError
from hub.registry import api as library
from hub.testing import write_lora


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    """`hub ARGS` as a user runs it: a new process, the test's fresh LORAHUB_HOME."""
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=600)


def test_a_weight_that_is_not_a_number_is_a_usage_error(tmp_path):
    a = write_lora(tmp_path / "anime-style.safetensors", arch="sd1", rank=2, components=["text_encoder"])
    assert hub("add", str(a), "--name", "anime-style").returncode == 0
    r = hub("mix", "anime-style:abc", "anime-style:0.5")
    assert r.returncode == 2, r.stderr
    assert "error: the weight in 'anime-style:abc' is not a number: 'abc'" in r.stderr
    assert "hint: NAME[:WEIGHT], e.g. anime-style:0.7" in r.stderr and "Traceback" not in r.stderr
    r = hub("mix", f"{a}:heavy", "anime-style")  # a file path with a word after it: the same
    assert r.returncode == 2 and "is not a number: 'heavy'" in r.stderr, r.stderr
    # a name that exists nowhere is still "no adapter" (exit 3); a Windows-style path is still one reference
    r = hub("mix", "nothing-here:abc", "anime-style")
    assert r.returncode == 3 and "no adapter 'nothing-here:abc'" in r.stderr, r.stderr
    assert parse_spec(r"C:\loras\dog.safetensors") == (r"C:\loras\dog.safetensors", 1.0)


@pytest.fixture
def counted_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every load_lora_set call of the compose verbs, by path (the real loader still runs)."""
    calls: list[str] = []
    real = load_module.load_lora_set

    def counting(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(load_module, "load_lora_set", counting)
    return calls


def test_missing_names_and_other_bases_are_refused_before_any_tensor_is_read(tmp_path, counted_loads):
    a = write_lora(tmp_path / "a.safetensors", arch="sd1", rank=2, components=["text_encoder"], seed=1)
    x = write_lora(tmp_path / "x.safetensors", arch="sdxl", algo="lokr", rank=2, components=["text_encoder"])
    library.add_one(a, name="sd1-style")
    library.add_one(x, name="xl-lokr")
    library.add_one(write_lora(tmp_path / "b.safetensors", arch="sd1", rank=2, components=["text_encoder"], seed=2),
                    name="sd1-other")  # fmt: skip
    with pytest.raises(NotFoundError, match="no adapter 'missing'"):
        compose.mix(["sd1-style:0.7", "missing:0.5"])
    with pytest.raises(IncompatibleError, match=r"sd1 \+ sdxl \('sd1-style' is sd1, 'xl-lokr' is sdxl\)"):
        compose.mix(["sd1-style", "xl-lokr"], method="svd", rank=2)
    with pytest.raises(UsageError, match="not a number"):
        compose.mix(["sd1-style", "xl-lokr:lots"])
    assert counted_loads == []  # refused from the registry rows alone
    compose.mix(["sd1-style:0.5", "sd1-other:0.5"], name="ok")  # and a good mix does load both
    assert len(counted_loads) == 2
    # the same through a process: one error line naming both bases, exit 5
    r = hub("mix", f"{a}:0.7", f"{x}:0.5")
    assert r.returncode == 5, r.stderr
    assert "error: cannot combine adapters for different base models: sd1 + sdxl" in r.stderr
    assert "'a.safetensors' is sd1, 'x.safetensors' is sdxl" in r.stderr and "Traceback" not in r.stderr


def test_fuse_into_the_embedded_tiny_base(tmp_path):
    a = write_lora(tmp_path / "a.safetensors", arch="tiny-sd1", rank=4, seed=2)
    out = tmp_path / "fused"
    r = hub("fuse", "tiny", f"{a}:0.7", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "fused" in r.stdout + r.stderr
    from diffusers import StableDiffusionPipeline

    from hub.bases.api import load_pipeline

    fused = StableDiffusionPipeline.from_pretrained(out)
    base = load_pipeline("tiny")
    changed = [n for n, p in fused.unet.state_dict().items() if not torch.equal(p, base.unet.state_dict()[n])]
    assert changed  # the adapter's deltas are in the written model


def _header_and_alphas(path: Path) -> tuple[dict[str, str], dict[str, float], dict[str, int]]:
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        alphas = {k: float(f.get_tensor(k)) for k in f.keys() if k.endswith(".alpha")}  # noqa: SIM118
        ranks = {k: int(f.get_tensor(k).shape[0]) for k in f.keys() if k.endswith(".lora_down.weight")}  # noqa: SIM118
    return meta, alphas, ranks


def test_mixed_output_header_describes_its_tensors(tmp_path):
    a = write_lora(tmp_path / "a.safetensors", arch="sd1", algo="locon", rank=4, alpha=4.0, dtype="float32",
                   components=["unet"], seed=1)  # fmt: skip
    # b has no conv modules: a concat's convs keep rank 4 while its linear modules get 4 + 8
    b = write_lora(tmp_path / "b.safetensors", arch="sd1", algo="lora", rank=8, alpha=2.0, dtype="float32",
                   components=["unet"], seed=2)  # fmt: skip
    for method, extra in (("concat", []), ("svd", ["--rank", "auto", "--dynamic", "sv_fro:0.9"])):
        out = tmp_path / f"{method}.safetensors"
        r = hub("mix", f"{a}:0.7", f"{b}:0.5", "--method", method, *extra, "--out", str(out), "--name", method)
        assert r.returncode == 0, r.stderr
        meta, alphas, ranks = _header_and_alphas(out)
        args = json.loads(meta["ss_network_args"])
        conv = {k for k in ranks if k.replace(".lora_down.weight", "") + ".alpha" in alphas and "conv" in k}
        assert conv, "the fixture has conv modules"
        stored = set(alphas.values())
        assert len(stored) == 1  # one alpha for every module (see hub.formats.write)
        assert float(meta["ss_network_alpha"]) == float(args["conv_alpha"]) == stored.pop(), method
        linear_ranks = [r for k, r in ranks.items() if k not in conv]
        assert int(meta["ss_network_dim"]) == max(set(linear_ranks), key=linear_ranks.count), method
        conv_ranks = [ranks[k] for k in conv]
        assert int(args["conv_dim"]) == max(set(conv_ranks), key=conv_ranks.count), method


def test_a_hub_process_refuses_names_and_bases_without_opening_the_stored_file(tmp_path):
    """The order, as a user meets it: the first adapter's stored copy is cut short after it was registered, so
    any process that opened it would fail on it (exit 6). A missing second name (exit 3) and a second adapter for
    another base (exit 5) are answered from the registry rows, so that damage never shows."""
    from hub_process import hub as hub_script

    home = tmp_path / "home"
    a = write_lora(tmp_path / "a.safetensors", arch="sd1", rank=2, components=["text_encoder"], seed=1)
    x = write_lora(tmp_path / "x.safetensors", arch="sdxl", algo="lokr", rank=2, components=["text_encoder"])
    for path, name in ((a, "sd1-style"), (x, "xl-lokr")):
        assert hub_script(home, "add", str(path), "--name", name).returncode == 0
    shown = hub_script(home, "show", "sd1-style", "--json")
    stored = Path(json.loads(shown.stdout)["path"])
    assert stored.is_file() and stored.parent.parent.name == "sha256"  # the store's copy, not a.safetensors
    stored.chmod(0o644)
    with open(stored, "r+b") as f:
        f.truncate(2000)

    r = hub_script(home, "mix", "sd1-style:0.7", "missing:0.5")
    assert (r.returncode, r.stderr.splitlines()[0]) == (3, "error: no adapter 'missing' in the registry"), r.stderr
    r = hub_script(home, "mix", "sd1-style", "xl-lokr", "--method", "svd", "--rank", "2")
    assert r.returncode == 5, r.stderr
    assert r.stderr.startswith("error: cannot combine adapters for different base models: sd1 + sdxl"), r.stderr
    # ...and the damage is real: a mix that must read the tensors meets it, names it and points at `hub verify`
    r = hub_script(home, "scale", "sd1-style", "0.5")
    assert r.returncode == 6, r.stderr
    assert "error: the registry's stored copy of 'sd1-style' is damaged: a cut-off safetensors file" in r.stderr
    assert "hint: `hub verify sd1-style`" in r.stderr and "Traceback" not in r.stderr
