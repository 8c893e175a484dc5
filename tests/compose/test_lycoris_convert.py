"""LyCORIS conversions (issue 8): kohya keeps the algorithm, an expansion picks its rank by kept energy, says what
it kept and refuses to grow a file more than 8x without --rank; conversions give the same bytes twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hub.formats.convert import GROWTH_LIMIT, convert_file, expand_lycoris
from hub.formats.load import load_lora_set
from hub.formats.write import safetensors_bytes
from hub.testing import write_lora
from hub.testing.arch_shapes import table as arch_table

LOKR4 = "lycoris/KohakuBlueleaf__LyCORIS__result__smart_falcon_4_lokr.safetensors"


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    """`hub ARGS` as a user runs it: a new process, the test's fresh LORAHUB_HOME."""
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=600)


def _lokr_deltas(path: Path, names: list[str]) -> dict[str, torch.Tensor]:
    """The dense delta LyCORIS applies, kron(w1, w2) * alpha / r, written out from the raw tensors."""
    t = load_file(str(path))
    out = {}
    for n in names:
        w1 = t[f"{n}.lokr_w1"] if f"{n}.lokr_w1" in t else t[f"{n}.lokr_w1_a"] @ t[f"{n}.lokr_w1_b"]
        w2 = t[f"{n}.lokr_w2"] if f"{n}.lokr_w2" in t else t[f"{n}.lokr_w2_a"] @ t[f"{n}.lokr_w2_b"].flatten(1)
        r = t[f"{n}.lokr_w2_b"].shape[0] if f"{n}.lokr_w2_b" in t else t[f"{n}.lokr_w1_b"].shape[0]
        out[n] = torch.kron(w1.double().flatten(1), w2.double().flatten(1)) * float(t[f"{n}.alpha"]) / r
    return out


def _delta(m) -> torch.Tensor:
    return m.scale * m.up.double() @ m.down.double()


def test_lokr_to_diffusers_refuses_to_grow_past_the_limit_and_says_why(real_adapters):
    src = real_adapters / LOKR4
    assert hub("add", str(src), "--name", "lokr4").returncode == 0
    r = hub("convert", "lokr4", "--to", "diffusers")
    assert r.returncode == 2, r.stderr  # UsageError: the user must choose a rank
    err = r.stderr
    assert "error: 'lokr4': a LyCORIS adapter written as plain LoRA factors would grow" in err
    assert "rank <= 16 to keep 99%" in err and f"refusing more than {GROWTH_LIMIT:g}x without a rank" in err
    assert "hint: choose the rank: hub convert lokr4 --to diffusers --rank" in err and "Traceback" not in err
    assert [a["name"] for a in json.loads(hub("ls", "--json").stdout)] == ["lokr4"]  # nothing else registered


def test_lokr_to_diffusers_with_rank_reports_the_energy_it_kept(real_adapters, tmp_path):
    src = real_adapters / LOKR4
    out = tmp_path / "d.safetensors"
    r = hub("convert", str(src), "--to", "diffusers", "--rank", "4", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    exp = json.loads(r.stdout)["expansion"]
    assert exp["rank"] == 4 and exp["keep"] is None and exp["bytes_in"] == src.stat().st_size
    assert exp["bytes_out"] == out.stat().st_size  # the size said is the file written
    written = load_lora_set(out)
    assert max(m.rank for m in written.modules.values()) == 4
    # The kept energy is the truth about the file: per module ||ΔW'|| / ||ΔW|| of the dense LyCORIS delta, with
    # the error of a best rank-4 approximation (||ΔW - ΔW'||² = ||ΔW||² - ||ΔW'||²). Checked on the text encoder.
    raw = load_file(str(src))
    names = sorted({k.rpartition(".")[0] for k in raw if k.startswith("lora_te_") and "layers_0_" in k})
    dense = _lokr_deltas(src, names)
    kept = []
    for n in names:
        canonical = next(k for k in written.modules if k.replace(".", "_").endswith(n.removeprefix("lora_te_")))
        mine = _delta(written.modules[canonical])
        ref = dense[n]
        ratio = float(mine.norm() / ref.norm())
        err2, expected2 = float((ref - mine).norm() ** 2), float(ref.norm() ** 2 - mine.norm() ** 2)
        assert err2 == pytest.approx(expected2, rel=1e-3, abs=1e-12 * float(ref.norm() ** 2)), n
        kept.append(ratio)
    assert min(kept) >= exp["min_kept"] - 1e-4 and max(kept) < 1.0
    assert exp["min_kept"] <= exp["mean_kept"] < 1.0


def test_default_expansion_keeps_99_percent_per_module_and_bounds_the_size(tmp_path):
    src = write_lora(tmp_path / "k.safetensors", arch="tiny-sd1", algo="lokr", rank=4, alpha=3.0, conv=True,
                     dtype="float32")  # fmt: skip
    exact = load_lora_set(src, table=arch_table("tiny-sd1"))
    reduced, exp = expand_lycoris(src, table=arch_table("tiny-sd1"), growth_limit=float("inf"))
    for key, m in reduced.modules.items():
        ref, mine = _delta(exact.modules[key]), _delta(m)
        ratio = float(mine.norm() / ref.norm())
        assert ratio >= 0.99 - 1e-6 and ratio == pytest.approx(m.kept, abs=1e-5), key
        assert m.rank <= exact.modules[key].rank
        if m.rank > 1:  # the smallest such rank: one less keeps under 99%
            s = torch.linalg.svdvals(ref.reshape(ref.shape[0], -1))
            assert float(s[: m.rank - 1].norm() / s.norm()) < 0.99
    assert exp.min_kept >= 0.99 - 1e-6 and exp.rank == max(m.rank for m in reduced.modules.values())
    # the same file refused under a limit it exceeds, accepted with an explicit rank
    from hub.errors import UsageError

    with pytest.raises(UsageError, match=r"refusing more than 0\.5x"):
        expand_lycoris(src, table=arch_table("tiny-sd1"), growth_limit=0.5)
    _, exp2 = expand_lycoris(src, rank=1, table=arch_table("tiny-sd1"), growth_limit=0.5)
    assert exp2.rank == 1 and exp2.keep is None


def test_lokr_to_kohya_keeps_its_lokr_tensors(real_adapters, tmp_path):
    src = real_adapters / LOKR4
    out = tmp_path / "k.safetensors"
    r = hub("convert", str(src), "--to", "kohya", "--out", str(out))
    assert r.returncode == 0, r.stderr
    before, after = load_file(str(src)), load_file(str(out))
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert out.stat().st_size < src.stat().st_size * 1.1  # no expansion


def test_conversions_are_byte_deterministic(tmp_path):
    """Push compares the diffusers copy by bytes: the same source must give the same file every time."""
    tensors = {"a": torch.zeros(2), "b": torch.ones(3)}
    meta = {"format": "pt", "lora_adapter_metadata": "{}", "c": "1", "d": "2", "e": "3"}
    assert len({safetensors_bytes(tensors, meta) for _ in range(20)}) == 1  # safetensors alone gives ~14 orders
    src = write_lora(tmp_path / "a.safetensors", arch="sd1", rank=2, dtype="float32", components=["text_encoder"])
    (tmp_path / "1").mkdir(), (tmp_path / "2").mkdir()
    d1 = convert_file(src, tmp_path / "1" / "d.safetensors", to="diffusers")
    d2 = convert_file(src, tmp_path / "2" / "d.safetensors", to="diffusers")
    assert d1.read_bytes() == d2.read_bytes()
    k1 = convert_file(d1, tmp_path / "1" / "k.safetensors", to="kohya")
    k2 = convert_file(d1, tmp_path / "2" / "k.safetensors", to="kohya")
    assert k1.read_bytes() == k2.read_bytes()  # no clock in the header (modelspec.date is the source's)
