"""Which pictures go into which step, and the random numbers each picture draws: a pure function of
(seed, step, position in the step's batch).

One optimizer step trains on ``batch_size × grad_accum × processes`` pictures, all from one aspect bucket; process
``r`` takes, in micro-step ``m``, positions ``(m × processes + r) × batch_size ...``. Every random number a picture
needs (flip, crop, latent sample, noise, timestep) comes from its own generator keyed by (seed, step, position), so
``--grad-accum k`` with batch 1, batch k, and k processes with batch 1 draw the same numbers for the same pictures,
and a run resumed at step s draws exactly what an uninterrupted run draws at step s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

INSTANCE, CLASS = 0, 1  # which picture of a position a generator is for


def step_seed(seed: int, *parts: int) -> int:
    """A 63-bit seed for (seed, step, position, ...) that differs for every combination."""
    h = seed & 0xFFFFFFFF
    for p in parts:
        h = (h * 0x9E3779B1 + p + 0x7F4A7C15) % (1 << 63)
    return h


def generator(seed: int, *parts: int) -> torch.Generator:
    import torch

    return torch.Generator().manual_seed(step_seed(seed, *parts))


def picture_generators(seed: int, step: int, positions: list[int], which: int) -> list[torch.Generator]:
    """One generator per picture of a micro-batch: its flip, crop, latent sample, noise and timestep."""
    return [generator(seed, 4, step, p, which) for p in positions]


@dataclass(frozen=True)
class BatchPlan:
    """Global batches of item indices, shuffled per epoch within aspect buckets (``groups`` says which bucket each
    item is in); ``repeats[i]`` copies of item i per epoch, as kohya's ``<repeats>_`` folders ask. Every batch is
    full: a bucket's last batch is topped up from the start of its own shuffled list, so each process and micro-step
    gets the same number of pictures."""

    seed: int
    batch_size: int  # pictures per optimizer step over all processes and micro-steps
    groups: tuple[int, ...]  # bucket of each item
    repeats: tuple[int, ...]

    def _by_group(self) -> dict[int, list[int]]:
        by_group: dict[int, list[int]] = {}
        for i, (g, n) in enumerate(zip(self.groups, self.repeats, strict=True)):
            by_group.setdefault(g, []).extend([i] * n)
        return by_group

    def epoch(self, epoch: int) -> list[list[int]]:
        rng = random.Random(step_seed(self.seed, 1, epoch))
        batches: list[list[int]] = []
        for _, items in sorted(self._by_group().items()):
            rng.shuffle(items)
            padded = items * -(-self.batch_size // len(items)) if len(items) < self.batch_size else list(items)
            short = -len(padded) % self.batch_size
            padded += padded[:short]
            batches += [padded[j : j + self.batch_size] for j in range(0, len(padded), self.batch_size)]
        rng.shuffle(batches)
        return batches

    @property
    def per_epoch(self) -> int:
        return sum(-(-len(items) // self.batch_size) for items in self._by_group().values())

    def batch(self, index: int) -> list[int]:
        """The ``index``-th batch of the endless stream of epochs."""
        epoch, pos = divmod(index, self.per_epoch)
        return self.epoch(epoch)[pos]


def class_index(seed: int, k: int, n_class: int) -> int:
    """The class picture paired with the ``k``-th instance picture of the run: a shuffled walk over all of them,
    epoch by epoch."""
    epoch, pos = divmod(k, n_class)
    order = list(range(n_class))
    random.Random(step_seed(seed, 2, epoch)).shuffle(order)
    return order[pos]
