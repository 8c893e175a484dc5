"""The merge maths on tiny in-memory LoraSets: exactness, optimality, PEFT and kohya definitions."""

from __future__ import annotations

import pytest
import torch
from peft.utils import merge_utils

from hub.compose import ops
from hub.errors import IncompatibleError, UsageError
from hub.formats.lora_set import LoraModule, LoraSet

SHAPES = {
    "unet.a.to_q": (12, 10),
    "unet.b.conv1": (6, 4, 3, 3),  # 3x3 conv: factors on [6, 36]
    "text_encoder.c.q_proj": (9, 9),
}


def make_set(seed: int, rank: int, *, alpha: float | None = None, keys=None, arch: str = "sd1") -> LoraSet:
    g = torch.Generator().manual_seed(seed)
    modules = {}
    for key in keys or SHAPES:
        shape = SHAPES[key]
        inner = 1
        for d in shape[1:]:
            inner *= d
        up = torch.randn(shape[0], rank, generator=g)
        down = torch.randn(rank, inner, generator=g)
        modules[key] = LoraModule(up=up, down=down, scale=(alpha or rank) / rank, weight_shape=shape)
    return LoraSet(arch=arch, modules=modules)


def dense(lora_set: LoraSet, key: str) -> torch.Tensor:
    mod = lora_set.modules.get(key)
    if mod is None:
        out, inner = SHAPES[key][0], int(torch.tensor(SHAPES[key][1:]).prod())
        return torch.zeros(out, inner)
    return ops.module_delta(mod)


def weighted_sum(pairs, key):
    return sum(w * dense(s, key) for s, w in pairs)


def test_concat_is_exact_and_rank_is_the_sum():
    a, b = make_set(0, 4, alpha=2), make_set(1, 3, alpha=8, keys=["unet.a.to_q", "unet.b.conv1"])
    pairs = [(a, 0.7), (b, -0.5)]
    out = ops.concat(pairs)
    assert set(out.modules) == set(SHAPES)
    for key in SHAPES:
        torch.testing.assert_close(dense(out, key), weighted_sum(pairs, key), rtol=1e-5, atol=1e-5)
    assert out.modules["unet.a.to_q"].rank == 7
    assert out.modules["text_encoder.c.q_proj"].rank == 4  # only in a: missing = zero delta
    assert out.modules["unet.b.conv1"].weight_shape == (6, 4, 3, 3)


def test_svd_merge_error_equals_the_dense_optimum():
    a, b = make_set(2, 4, alpha=1), make_set(3, 5, alpha=10)
    pairs = [(a, 0.8), (b, 0.4)]
    rank = 3
    red = ops.svd_merge(pairs, rank)
    for key in SHAPES:
        target = weighted_sum(pairs, key)
        S = torch.linalg.svdvals(target.double())
        optimum = float(S[rank:].pow(2).sum().sqrt())
        got = float(torch.linalg.norm((dense(red.lora_set, key) - target).double()))
        assert got == pytest.approx(optimum, rel=1e-4, abs=1e-5)
        assert red.ranks[key] == rank
        assert red.kept[key] == pytest.approx(float((S[:rank].pow(2).sum() / S.pow(2).sum()).sqrt()), rel=1e-5)


def test_svd_merge_at_full_rank_is_exact_and_conv_shapes_survive():
    a, b = make_set(4, 2), make_set(5, 2)
    red = ops.svd_merge([(a, 1.0), (b, 1.0)], rank=64)
    for key in SHAPES:
        torch.testing.assert_close(dense(red.lora_set, key), weighted_sum([(a, 1.0), (b, 1.0)], key),
                                   rtol=1e-4, atol=1e-4)  # fmt: skip
    assert red.lora_set.modules["unet.b.conv1"].down.shape == (4, 36)
    assert red.ranks["unet.b.conv1"] == 4


def test_scale_is_linear():
    a = make_set(6, 3, alpha=6)
    s = ops.scale(a, -0.25)
    for key in SHAPES:
        torch.testing.assert_close(dense(s, key), -0.25 * dense(a, key))


def test_mismatched_arch_and_shapes_are_refused():
    with pytest.raises(IncompatibleError, match="sd1 \\+ sdxl"):
        ops.concat([(make_set(0, 2), 1.0), (make_set(1, 2, arch="sdxl"), 1.0)])
    bad = make_set(1, 2)
    bad.modules["unet.a.to_q"] = LoraModule(torch.ones(5, 1), torch.ones(1, 10), 1.0, (5, 10))
    with pytest.raises(IncompatibleError, match="shape"):
        ops.svd_merge([(make_set(0, 2), 1.0), (bad, 1.0)], 2)
    with pytest.raises(UsageError):
        ops.svd_merge([(make_set(0, 2), 1.0)], None)


def test_ties_matches_peft():
    a, b, c = make_set(7, 3), make_set(8, 2, keys=["unet.a.to_q"]), make_set(9, 4)
    pairs = [(a, 0.6), (b, 0.9), (c, -0.3)]
    red = ops.ties(pairs, rank=64, density=0.4)
    for key in SHAPES:
        ref = merge_utils.ties([dense(s, key) for s, _ in pairs], torch.tensor([w for _, w in pairs]), 0.4)
        torch.testing.assert_close(dense(red.lora_set, key), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("elect", [False, True])
def test_dare_matches_peft_with_the_same_seed(elect):
    a, b = make_set(10, 3), make_set(11, 2)
    pairs = [(a, 0.5), (b, 1.5)]
    red = ops.dare(pairs, rank=64, density=0.3, seed=42, elect_sign=elect)
    again = ops.dare(pairs, rank=64, density=0.3, seed=42, elect_sign=elect)
    for key in SHAPES:
        torch.manual_seed(ops._module_seed(42, key))  # PEFT draws its masks from the global generator
        fn = merge_utils.dare_ties if elect else merge_utils.dare_linear
        ref = fn([dense(s, key) for s, _ in pairs], torch.tensor([w for _, w in pairs]), 0.3)
        torch.testing.assert_close(dense(red.lora_set, key), ref, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(dense(again.lora_set, key), dense(red.lora_set, key))


# kohya resize_lora.py's rules, verbatim, as the reference
def _kohya_index(S, method, target):
    if method == "sv_cumulative":
        cs = torch.cumsum(S, dim=0) / float(torch.sum(S))
        index = int(torch.searchsorted(cs, target)) + 1
    elif method == "sv_fro":
        sq = S.pow(2)
        cs = torch.cumsum(sq, dim=0) / float(torch.sum(sq))
        index = int(torch.searchsorted(cs, target**2)) + 1
    else:
        index = int((S > S[0] / target).sum().item())  # noqa: SIM300
    return max(1, min(index, len(S) - 1))


@pytest.mark.parametrize("method,param", [("sv_fro", 0.9), ("sv_cumulative", 0.7), ("sv_ratio", 4.0), ("sv_fro", 1.0)])
def test_dynamic_rank_matches_kohya(method, param):
    S = torch.tensor([10.0, 5.0, 2.0, 1.0, 0.5, 0.25, 0.1, 0.05])
    rule = ops.Dynamic(method, param)
    assert ops.dynamic_rank(S, rule) == _kohya_index(S, method, param) + 1
    # a LoRA whose delta has exactly this spectrum: resize picks the same rank and keeps kohya's fro fraction
    q1, _ = torch.linalg.qr(torch.randn(20, 8, generator=torch.Generator().manual_seed(0)))
    q2, _ = torch.linalg.qr(torch.randn(30, 8, generator=torch.Generator().manual_seed(1)))
    mod = LoraModule(up=q1 * S, down=q2.T.contiguous(), scale=0.5, weight_shape=(20, 30))
    red = ops.resize(LoraSet(arch="sd1", modules={"unet.x": mod}), rank=None, dynamic=rule)
    k = min(_kohya_index(S, method, param) + 1, 8)
    assert red.ranks["unet.x"] == k
    assert red.kept["unet.x"] == pytest.approx(float((S[:k].pow(2).sum() / S.pow(2).sum()).sqrt()), rel=1e-5)
    assert red.lora_set.modules["unet.x"].scale == 0.5  # resize keeps alpha/r


def test_resize_fixed_rank_keeps_scale_and_is_optimal():
    a = make_set(12, 6, alpha=3)
    red = ops.resize(a, rank=2)
    for key in SHAPES:
        S = torch.linalg.svdvals(dense(a, key).double())
        err = float(torch.linalg.norm((dense(red.lora_set, key) - dense(a, key)).double()))
        assert err == pytest.approx(float(S[2:].pow(2).sum().sqrt()), rel=1e-4)
        assert red.lora_set.modules[key].scale == pytest.approx(0.5)


def test_dynamic_parse():
    assert ops.Dynamic.parse("sv_fro:0.9") == ops.Dynamic("sv_fro", 0.9)
    for bad in ["sv_fro", "nope:1", "sv_fro:x", "sv_fro:2"]:
        with pytest.raises(UsageError):
            ops.Dynamic.parse(bad)
