"""The merge maths, as pure tensor functions on :class:`~hub.formats.lora_set.LoraSet` (no I/O).

A module's delta is ``ΔW = scale · up @ down`` with ``up [out, r]`` and ``down [r, in·kh·kw]`` (3x3 convs are
flattened to that 2-D shape, as kohya does). A module missing from an input is a zero delta, so every operation
acts on the union of the inputs' modules and stays exact for modules only some inputs have.

- :func:`scale` and :func:`concat` are exact (factor space, no decomposition).
- :func:`svd_merge` and :func:`resize` give the Eckart–Young optimum of ``Σ w_i ΔW_i`` at a given rank without
  forming ΔW: QR of the stacked factors, SVD of the small R×R core (:func:`factored_svd`).
- :func:`ties` and :func:`dare` follow PEFT's ``merge_utils`` definitions, which are elementwise on the dense ΔW;
  they form it one module at a time (memory: a few ``out × in`` matrices) and reduce the result by a dense SVD.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from hub.errors import IncompatibleError, UsageError
from hub.formats.lora_set import LoraModule, LoraSet

if TYPE_CHECKING:
    import torch

DYNAMIC_METHODS: tuple[str, ...] = ("sv_ratio", "sv_fro", "sv_cumulative")
MIN_SV = 1e-6  # kohya resize_lora.py: a module whose largest singular value is below this is a zero matrix

WeightedSets = Sequence[tuple[LoraSet, float]]
Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class Dynamic:
    """A dynamic-rank rule of kohya's resize_lora.py, e.g. ``Dynamic("sv_fro", 0.9)``."""

    method: str
    param: float

    @classmethod
    def parse(cls, text: str) -> Dynamic:
        method, sep, param = text.partition(":")
        if method not in DYNAMIC_METHODS or not sep:
            raise UsageError(
                f"bad dynamic rule {text!r}", hint=f"use METHOD:PARAM with METHOD one of {', '.join(DYNAMIC_METHODS)}"
            )
        try:
            value = float(param)
        except ValueError:
            raise UsageError(f"bad dynamic parameter {param!r} in {text!r}", hint="e.g. sv_fro:0.9") from None
        if value <= 0 or (method != "sv_ratio" and value > 1):
            raise UsageError(f"dynamic parameter out of range in {text!r}", hint="sv_fro/sv_cumulative in (0, 1]")
        return cls(method, value)

    def __str__(self) -> str:
        return f"{self.method}:{self.param:g}"


@dataclass
class Reduction:
    """A rank-reduced LoraSet and, per module, the rank kept and the Frobenius norm fraction kept."""

    lora_set: LoraSet
    ranks: dict[str, int] = field(default_factory=dict)
    # sqrt(Σ_{i<k} S_i² / Σ S_i²): kohya's "fro retained"; 1.0 means exact
    kept: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- checks and helpers


def check_compatible(sets: Sequence[LoraSet]) -> str:
    """The common arch of ``sets``; IncompatibleError when two known archs differ or a module's shapes do (a 1x1
    conv read as (out, in) in one input takes the (out, in, 1, 1) of another)."""
    if not sets:
        raise UsageError("nothing to combine", hint="give at least one adapter")
    archs = sorted({s.arch for s in sets if s.arch != "unknown"})
    if len(archs) > 1:
        raise IncompatibleError(
            f"cannot combine adapters for different base models: {' + '.join(archs)}",
            hint="mix only adapters trained on the same architecture (hub ls --arch ...)",
        )
    shapes: dict[str, tuple[int, ...]] = {}
    for s in sets:
        for key, mod in s.modules.items():
            shape = tuple(mod.weight_shape)
            seen = shapes.setdefault(key, shape)
            if seen != shape and _squeeze_1x1(seen) == _squeeze_1x1(shape):
                shapes[key] = max(seen, shape, key=len)  # a 1x1 conv, seen as (out, in) through 2-D factors
            elif seen != shape:
                raise IncompatibleError(
                    f"module {key} has weight shape {seen} in one input and {shape} in another",
                    hint="the adapters were trained on different base models",
                )
    # Files name modules, not layer types: LoHa/LoKr factors of a 1x1 conv are 2-D, a LoRA's are 4-D. With no
    # module table to say which, the 4-D shape another input states is the layer's (the delta is the same).
    for s in sets:
        for key, mod in s.modules.items():
            mod.weight_shape = shapes[key]
    return archs[0] if archs else "unknown"


def _squeeze_1x1(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:2] if shape[2:] == (1, 1) else shape


def _union_keys(sets: Sequence[LoraSet]) -> list[str]:
    return sorted({k for s in sets for k in s.modules})


def _flat_dims(weight_shape: Sequence[int]) -> tuple[int, int]:
    return int(weight_shape[0]), math.prod(int(d) for d in weight_shape[1:])


def module_delta(mod: LoraModule, *, device: torch.device | str = "cpu") -> torch.Tensor:
    """The dense flattened delta ``scale · up @ down`` of one module, in float32 ([out, in·kh·kw])."""
    import torch

    up = mod.up.to(device=device, dtype=torch.float32).reshape(mod.up.shape[0], -1)
    down = mod.down.to(device=device, dtype=torch.float32).reshape(mod.down.shape[0], -1)
    return (up @ down) * float(mod.scale)


def _carry(sets: Sequence[LoraSet], arch: str, modules: dict[str, LoraModule], note: str) -> LoraSet:
    """The output LoraSet: the inputs' notes plus ``note``; metadata and embeddings kept from a single input; the
    inputs' module table when they share one; names-only when any input's kohya names were not placed."""
    notes = [n for s in sets for n in s.notes]
    notes.append(note)
    tables = {id(s.table): s.table for s in sets}
    table = next(iter(tables.values())) if len(tables) == 1 else None
    names_only = any(s.names_only for s in sets)
    if len(sets) == 1:
        return LoraSet(arch=arch, modules=modules, embeddings=dict(sets[0].embeddings),
                       metadata=dict(sets[0].metadata), notes=notes, table=table, names_only=names_only)  # fmt: skip
    if any(s.embeddings for s in sets):
        notes.append("embeddings of the inputs were not merged (tokens may clash); they are left out")
    return LoraSet(arch=arch, modules=modules, notes=notes, table=table, names_only=names_only)


def _approximations(mods: Sequence[LoraModule | None]) -> str | None:
    found = sorted({m.approximation for m in mods if m is not None and m.approximation})
    return "; ".join(found) or None


# ---------------------------------------------------------------- dynamic rank (kohya resize_lora.py)


def dynamic_rank(S: torch.Tensor, rule: Dynamic, *, full_len: int | None = None) -> int:
    """kohya's ``rank_resize`` rank: index by the rule, clamped to [1, n−1], plus one.

    ``full_len`` is the length of the dense SVD's spectrum (min(out, in)); kohya clamps to it. Ours may be
    shorter (only the nonzero part), so the result is finally capped at ``len(S)``: the values kohya would keep
    beyond it are exactly zero.
    """
    import torch

    n = int(full_len or len(S))
    if float(S[0]) <= MIN_SV:
        return 1
    if rule.method == "sv_ratio":
        index = int((S > S[0] / rule.param).sum().item())  # noqa: SIM300
    elif rule.method == "sv_cumulative":
        cumulative = torch.cumsum(S, dim=0) / float(torch.sum(S))
        index = int(torch.searchsorted(cumulative, torch.tensor(rule.param, dtype=S.dtype, device=S.device))) + 1
    elif rule.method == "sv_fro":
        squares = S.pow(2)
        cumulative = torch.cumsum(squares, dim=0) / float(torch.sum(squares))
        target = torch.tensor(rule.param**2, dtype=S.dtype, device=S.device)
        index = int(torch.searchsorted(cumulative, target)) + 1
    else:  # pragma: no cover - Dynamic.parse refuses it
        raise UsageError(f"unknown dynamic method {rule.method!r}")
    index = max(1, min(index, n - 1))
    return min(index + 1, len(S))


def fro_kept(S: torch.Tensor, k: int) -> float:
    total = float(S.pow(2).sum())
    return 1.0 if total <= 0 else float((S[:k].pow(2).sum() / total).sqrt())


def _choose_rank(S: torch.Tensor, rank: int | None, rule: Dynamic | None, full_len: int) -> int:
    cap = min(len(S), rank if rank is not None else len(S))
    if rule is not None:
        return max(1, min(cap, dynamic_rank(S, rule, full_len=full_len)))
    return max(1, cap)


# ---------------------------------------------------------------- the factored SVD


def factored_svd(up: torch.Tensor, down: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SVD of ``up @ down`` (m×R times R×n) without forming it: returns U [m,p], S [p], Vh [p,n], p = min(m,n,R).

    ``up = Q_u R_u`` and ``downᵀ = Q_d R_d`` (reduced QR), so ``up @ down = Q_u (R_u R_dᵀ) Q_dᵀ``; the SVD of the
    small core ``R_u R_dᵀ = U_c S V_cᵀ`` gives ``U = Q_u U_c`` and ``Vh = V_cᵀ Q_dᵀ``, the same singular triplets
    as a dense SVD in O((m+n)R² + R³) time and O((m+n)R) memory.
    """
    import torch

    q_up, r_up = torch.linalg.qr(up, mode="reduced")
    q_down, r_down = torch.linalg.qr(down.T, mode="reduced")
    u_core, s, vh_core = torch.linalg.svd(r_up @ r_down.T, full_matrices=False)
    return q_up @ u_core, s, vh_core @ q_down.T


def _split(U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    # √S on both sides keeps both factors in the same range, which is kinder to fp16/bf16 storage than U·S, Vh.
    root = S[:k].sqrt()
    return (U[:, :k] * root).contiguous(), (root[:, None] * Vh[:k]).contiguous()


def _stack(parts: Sequence[tuple[LoraModule, float]], device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    ups = [m.up.to(device=device, dtype=torch.float32).reshape(m.up.shape[0], -1) * (w * m.scale) for m, w in parts]
    downs = [m.down.to(device=device, dtype=torch.float32).reshape(m.down.shape[0], -1) for m, _ in parts]
    return torch.cat(ups, dim=1), torch.cat(downs, dim=0)


def _present(sets: WeightedSets, key: str) -> list[tuple[LoraModule, float]]:
    return [(s.modules[key], float(w)) for s, w in sets if key in s.modules]


def _weight_shape(sets: WeightedSets, key: str) -> tuple[int, ...]:
    return next(tuple(s.modules[key].weight_shape) for s, _ in sets if key in s.modules)


# ---------------------------------------------------------------- exact operations


def scale(lora_set: LoraSet, weight: float) -> LoraSet:
    """Every delta multiplied by ``weight`` (folded into each module's scale; factors untouched)."""
    modules = {
        k: LoraModule(up=m.up, down=m.down, scale=m.scale * float(weight), weight_shape=m.weight_shape,
                      approximation=m.approximation)
        for k, m in lora_set.modules.items()
    }  # fmt: skip
    return _carry([lora_set], lora_set.arch, modules, f"scaled by {weight:g}")


def concat(sets: WeightedSets, *, device: torch.device | str = "cpu", progress: Progress = None) -> LoraSet:
    """Exact stack: ``up = [w_1 s_1 up_1 | … ]``, ``down = [down_1; …]``, scale 1; rank = Σ r_i per module."""
    arch = check_compatible([s for s, _ in sets])
    modules: dict[str, LoraModule] = {}
    for key in _union_keys([s for s, _ in sets]):
        parts = _present(sets, key)
        up, down = _stack(parts, device)
        modules[key] = LoraModule(up=up.cpu(), down=down.cpu(), scale=1.0, weight_shape=_weight_shape(sets, key),
                                  approximation=_approximations([m for m, _ in parts]))  # fmt: skip
        if progress:
            progress(key)
    return _carry([s for s, _ in sets], arch, modules, "concat: exact stack of the weighted factors")


# ---------------------------------------------------------------- rank-reducing operations


def _reduce_factors(
    up: torch.Tensor, down: torch.Tensor, weight_shape: Sequence[int], rank: int | None, rule: Dynamic | None
) -> tuple[torch.Tensor, torch.Tensor, int, float]:
    U, S, Vh = factored_svd(up, down)
    k = _choose_rank(S, rank, rule, min(_flat_dims(weight_shape)))
    new_up, new_down = _split(U, S, Vh, k)
    return new_up, new_down, k, fro_kept(S, k)


def reduce_dense(
    delta: torch.Tensor, rank: int | None, rule: Dynamic | None
) -> tuple[torch.Tensor, torch.Tensor, int, float]:
    """``(up, down, rank kept, Frobenius fraction kept)`` of the best approximation of a dense 2-D delta."""
    import torch

    U, S, Vh = torch.linalg.svd(delta, full_matrices=False)
    k = _choose_rank(S, rank, rule, len(S))
    new_up, new_down = _split(U, S, Vh, k)
    return new_up, new_down, k, fro_kept(S, k)


def rank_for(shape: tuple[int, ...], rank: int | None, conv_rank: int | None) -> int | None:
    """``conv_rank`` for a 3x3 (or larger) conv when given, else ``rank``."""
    return conv_rank if (conv_rank is not None and len(shape) == 4 and shape[2:] != (1, 1)) else rank


def _check_rank_args(rank: int | None, rule: Dynamic | None) -> None:
    if rank is None and rule is None:
        raise UsageError("give a rank or a dynamic rule", hint="e.g. --rank 16 or --dynamic sv_fro:0.9")
    if rank is not None and rank < 1:
        raise UsageError(f"rank must be at least 1, got {rank}")


def svd_merge(
    sets: WeightedSets,
    rank: int | None,
    *,
    dynamic: Dynamic | None = None,
    conv_rank: int | None = None,
    device: torch.device | str = "cpu",
    progress: Progress = None,
) -> Reduction:
    """Best rank-``rank`` approximation (Frobenius, per module) of ``Σ w_i ΔW_i``, by :func:`factored_svd`.

    With ``dynamic`` the rank per module follows kohya's rule, capped at ``rank`` (if given). 3x3 convs use
    ``conv_rank`` (default: ``rank``). Output scale is 1 (kohya/PEFT write alpha = rank).
    """
    _check_rank_args(rank, dynamic)
    arch = check_compatible([s for s, _ in sets])
    result = Reduction(lora_set=LoraSet(arch=arch))
    modules: dict[str, LoraModule] = {}
    for key in _union_keys([s for s, _ in sets]):
        parts = _present(sets, key)
        shape = _weight_shape(sets, key)
        cap = rank_for(shape, rank, conv_rank)
        up, down = _stack(parts, device)
        new_up, new_down, k, kept = _reduce_factors(up, down, shape, cap, dynamic)
        modules[key] = LoraModule(up=new_up.cpu(), down=new_down.cpu(), scale=1.0, weight_shape=shape,
                                  approximation=_approximations([m for m, _ in parts]))  # fmt: skip
        result.ranks[key], result.kept[key] = k, kept
        if progress:
            progress(key)
    note = f"svd merge to {'rank ' + str(rank) if rank else ''}{' ' if rank and dynamic else ''}{dynamic or ''}"
    result.lora_set = _carry([s for s, _ in sets], arch, modules, note.strip())
    return result


def resize(
    lora_set: LoraSet,
    rank: int | None = None,
    *,
    dynamic: Dynamic | None = None,
    conv_rank: int | None = None,
    device: torch.device | str = "cpu",
    progress: Progress = None,
) -> Reduction:
    """kohya resize_lora: per module the best rank-k approximation of ``up @ down``; the scale (alpha/r) is kept.

    The rank is ``rank`` or the dynamic rule's (capped at ``rank``); modules already at or below it are
    re-factored exactly.
    """
    _check_rank_args(rank, dynamic)
    result = Reduction(lora_set=LoraSet(arch=lora_set.arch))
    modules: dict[str, LoraModule] = {}
    for key in sorted(lora_set.modules):
        mod = lora_set.modules[key]
        shape = tuple(mod.weight_shape)
        cap = rank_for(shape, rank, conv_rank)
        up, down = _stack([(mod, 1.0 / mod.scale if mod.scale else 1.0)], device)
        new_up, new_down, k, kept = _reduce_factors(up, down, shape, cap, dynamic)
        modules[key] = LoraModule(up=new_up.cpu(), down=new_down.cpu(), scale=mod.scale, weight_shape=shape,
                                  approximation=mod.approximation)  # fmt: skip
        result.ranks[key], result.kept[key] = k, kept
        if progress:
            progress(key)
    rule = f"rank {rank}" if dynamic is None else f"{dynamic}" + (f" (cap {rank})" if rank else "")
    result.lora_set = _carry([lora_set], lora_set.arch, modules, f"resized to {rule}")
    return result


def _module_seed(seed: int, key: str) -> int:
    # Per-module seed: the mask of a module does not depend on which other modules the inputs have.
    return (int(seed) * 1_000_003 + zlib.crc32(key.encode())) % (2**63 - 1)


def _dense_parts(sets: WeightedSets, key: str, device: torch.device | str) -> Iterator[tuple[torch.Tensor, float]]:
    import torch

    out, inner = _flat_dims(_weight_shape(sets, key))
    for s, w in sets:
        mod = s.modules.get(key)
        if mod is None:
            yield torch.zeros(out, inner, device=device), float(w)  # a missing module is a zero delta
        else:
            yield module_delta(mod, device=device), float(w)


def _prune_and_merge(
    tensors: list[torch.Tensor],
    weights: list[float],
    density: float,
    *,
    prune: Literal["magnitude", "random"],
    elect: bool,
    sign_method: Literal["total", "frequency"],
    generator: torch.Generator | None,
) -> torch.Tensor:
    """PEFT merge_utils: prune each task tensor, optionally elect a majority sign, then weighted (disjoint) sum."""
    import torch

    pruned = []
    for t in tensors:
        if density >= 1:
            pruned.append(t)
        elif prune == "magnitude":
            k = int(density * t.numel())
            mask = torch.zeros(t.numel(), device=t.device, dtype=t.dtype)
            mask[torch.topk(t.abs().reshape(-1), k=k, largest=True)[1]] = 1
            pruned.append(t * mask.reshape(t.shape))
        else:
            keep = torch.bernoulli(torch.full_like(t, density), generator=generator)
            pruned.append(t * keep / density)
    stacked = torch.stack(pruned, dim=0)
    w = torch.tensor(weights, dtype=stacked.dtype, device=stacked.device).view(-1, *([1] * (stacked.dim() - 1)))
    if not elect:
        return (stacked * w).sum(dim=0)
    signs = stacked.sign()
    magnitude = stacked.sum(dim=0) if sign_method == "total" else signs.sum(dim=0)
    agree = signs == torch.where(magnitude >= 0, 1, -1)
    return (stacked * w * agree).sum(dim=0) / agree.sum(dim=0).clamp(min=1.0)


def _dense_method(
    sets: WeightedSets,
    rank: int | None,
    dynamic: Dynamic | None,
    device: torch.device | str,
    progress: Progress,
    note: str,
    combine: Callable[[list[torch.Tensor], list[float], str], torch.Tensor],
) -> Reduction:
    _check_rank_args(rank, dynamic)
    arch = check_compatible([s for s, _ in sets])
    result = Reduction(lora_set=LoraSet(arch=arch))
    modules: dict[str, LoraModule] = {}
    for key in _union_keys([s for s, _ in sets]):
        shape = _weight_shape(sets, key)
        tensors, weights = zip(*_dense_parts(sets, key, device), strict=True)
        merged = combine(list(tensors), list(weights), key)
        del tensors
        new_up, new_down, k, kept = reduce_dense(merged, rank, dynamic)
        modules[key] = LoraModule(up=new_up.cpu(), down=new_down.cpu(), scale=1.0, weight_shape=shape,
                                  approximation=_approximations([s.modules.get(key) for s, _ in sets]))  # fmt: skip
        result.ranks[key], result.kept[key] = k, kept
        if progress:
            progress(key)
    result.lora_set = _carry([s for s, _ in sets], arch, modules, note)
    return result


def ties(
    sets: WeightedSets,
    rank: int | None,
    *,
    density: float = 0.5,
    dynamic: Dynamic | None = None,
    majority_sign_method: Literal["total", "frequency"] = "total",
    device: torch.device | str = "cpu",
    progress: Progress = None,
) -> Reduction:
    """PEFT ``ties_svd``: per module, magnitude-prune each ΔW_i to ``density``, elect the majority sign (of the
    unweighted pruned tensors), average the weighted agreeing entries, then truncate to ``rank`` by SVD."""
    _check_density(density)

    def combine(tensors: list[torch.Tensor], weights: list[float], key: str) -> torch.Tensor:
        return _prune_and_merge(tensors, weights, density, prune="magnitude", elect=True,
                                sign_method=majority_sign_method, generator=None)  # fmt: skip

    return _dense_method(sets, rank, dynamic, device, progress, f"ties density {density:g}", combine)


def dare(
    sets: WeightedSets,
    rank: int | None,
    *,
    density: float = 0.5,
    seed: int = 0,
    elect_sign: bool = False,
    dynamic: Dynamic | None = None,
    majority_sign_method: Literal["total", "frequency"] = "total",
    device: torch.device | str = "cpu",
    progress: Progress = None,
) -> Reduction:
    """PEFT ``dare_linear_svd`` (or ``dare_ties_svd`` with ``elect_sign``): per module, keep each entry of each
    ΔW_i with probability ``density`` and divide by it, then the weighted sum (or TIES' disjoint merge), then SVD.

    The Bernoulli masks come from a generator seeded per module from ``seed`` and the module key, drawn in input
    order, so a run is reproducible and one module's mask does not depend on the others.
    """
    import torch

    _check_density(density)

    def combine(tensors: list[torch.Tensor], weights: list[float], key: str) -> torch.Tensor:
        gen = torch.Generator(device=tensors[0].device).manual_seed(_module_seed(seed, key))
        return _prune_and_merge(tensors, weights, density, prune="random", elect=elect_sign,
                                sign_method=majority_sign_method, generator=gen)  # fmt: skip

    label = "dare_ties" if elect_sign else "dare_linear"
    return _dense_method(sets, rank, dynamic, device, progress, f"{label} density {density:g} seed {seed}", combine)


def _check_density(density: float) -> None:
    if not 0 < density <= 1:
        raise UsageError(f"density must be in (0, 1], got {density}", hint="e.g. --density 0.5")
