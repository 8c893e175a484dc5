"""The merge methods of ``hub mix``, one table: name -> what it does and the function that does it.

Names and descriptions cost nothing to read (``hub mix --help``, errors); the maths in :mod:`hub.compose.ops`
(torch) is imported only when a method runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.compose.ops import Dynamic, Reduction
    from hub.formats.lora_set import LoraSet


@dataclass(frozen=True)
class MixParams:
    """What a method may use besides the weighted adapters; each method reads what it needs."""

    rank: int | None
    dynamic: Dynamic | None
    density: float
    seed: int
    device: Any
    tick: Callable[[str], None] | None


# A method returns the merged adapter (exact methods) or a Reduction (the merged adapter + kept energy per module).
Run = Callable[[Sequence[tuple["LoraSet", float]], MixParams], "LoraSet | Reduction"]


@dataclass(frozen=True)
class MergeMethod:
    description: str
    reduces: bool  # True: the result is rank-limited (--rank / --dynamic apply); False: exact
    uses_density: bool
    uses_seed: bool
    run: Run


def _concat(sets: Sequence[tuple[LoraSet, float]], p: MixParams) -> LoraSet:
    from hub.compose import ops

    return ops.concat(sets, device=p.device, progress=p.tick)


def _svd(sets: Sequence[tuple[LoraSet, float]], p: MixParams) -> Reduction:
    from hub.compose import ops

    return ops.svd_merge(sets, p.rank, dynamic=p.dynamic, device=p.device, progress=p.tick)


def _ties(sets: Sequence[tuple[LoraSet, float]], p: MixParams) -> Reduction:
    from hub.compose import ops

    return ops.ties(sets, p.rank, density=p.density, dynamic=p.dynamic, device=p.device, progress=p.tick)


def _dare(sets: Sequence[tuple[LoraSet, float]], p: MixParams) -> Reduction:
    from hub.compose import ops

    return ops.dare(sets, p.rank, density=p.density, seed=p.seed, dynamic=p.dynamic, device=p.device, progress=p.tick)


MERGE_METHODS: dict[str, MergeMethod] = {
    "concat": MergeMethod("exact: stacks the factors, rank = Σ ranks", False, False, False, _concat),
    "svd": MergeMethod("best rank-R approximation of Σ w_i ΔW_i", True, False, False, _svd),
    "ties": MergeMethod("PEFT's TIES (trim, elect sign, merge), then SVD to the rank", True, True, False, _ties),
    "dare": MergeMethod("PEFT's DARE (random drop and rescale), then SVD to the rank", True, True, True, _dare),
}
DEFAULT_DENSITY = 0.5
