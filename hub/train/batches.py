"""Which pictures go into which step, and the random numbers each step draws: a pure function of (seed, step).

Nothing carries state from one step to the next, so a run resumed at step k draws exactly what an uninterrupted
run draws at step k (data order, noise, timesteps, flips, crops, dropout), and each process of a distributed run
takes its own share of every global batch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def step_seed(seed: int, *parts: int) -> int:
    """A 63-bit seed for (seed, step, micro-step, rank, ...) that differs for every combination."""
    h = seed & 0xFFFFFFFF
    for p in parts:
        h = (h * 0x9E3779B1 + p + 0x7F4A7C15) % (1 << 63)
    return h


def generator(seed: int, *parts: int) -> torch.Generator:
    import torch

    return torch.Generator().manual_seed(step_seed(seed, *parts))


@dataclass(frozen=True)
class BatchPlan:
    """Batches of item indices, shuffled per epoch (within aspect buckets when ``groups`` says which bucket each
    item is in); ``repeats[i]`` copies of item i per epoch, as kohya's ``<repeats>_`` folders ask."""

    seed: int
    batch_size: int
    groups: tuple[int, ...]  # bucket of each item
    repeats: tuple[int, ...]

    def epoch(self, epoch: int) -> list[list[int]]:
        rng = random.Random(step_seed(self.seed, 1, epoch))
        by_group: dict[int, list[int]] = {}
        for i, (g, n) in enumerate(zip(self.groups, self.repeats, strict=True)):
            by_group.setdefault(g, []).extend([i] * n)
        batches: list[list[int]] = []
        for g in sorted(by_group):
            items = by_group[g]
            rng.shuffle(items)
            batches += [items[j : j + self.batch_size] for j in range(0, len(items), self.batch_size)]
        rng.shuffle(batches)
        return batches

    @property
    def per_epoch(self) -> int:
        counts: dict[int, int] = {}
        for g, n in zip(self.groups, self.repeats, strict=True):
            counts[g] = counts.get(g, 0) + n
        return sum(-(-c // self.batch_size) for c in counts.values())

    def batch(self, index: int) -> list[int]:
        """The ``index``-th batch of the endless stream of epochs."""
        epoch, pos = divmod(index, self.per_epoch)
        return self.epoch(epoch)[pos]


def class_indices(seed: int, index: int, count: int, n_class: int) -> list[int]:
    """``count`` class pictures for global batch ``index``: a shuffled walk over all of them, epoch by epoch."""
    out = []
    for j in range(count):
        k = index * count + j
        epoch, pos = divmod(k, n_class)
        order = list(range(n_class))
        random.Random(step_seed(seed, 2, epoch)).shuffle(order)
        out.append(order[pos])
    return out
