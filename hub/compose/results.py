"""Typed results of the composition operations (pydantic only: what the CLI prints, ``--json`` dumps)."""

from __future__ import annotations

from pydantic import Field

from hub.compose.recipe import Recipe
from hub.models import Adapter, Frozen


class ParentUse(Frozen):
    ref: str  # what the user gave
    adapter_id: str | None = None
    name: str
    weight: float = 1.0


class OutputResult(Frozen):
    """A new adapter the operation wrote and registered."""

    adapter: Adapter
    out: str | None = None  # the extra copy written with --out
    command: str  # the exact `hub ...` command that rebuilds it: recipe.command()
    recipe: Recipe  # what was done to which inputs (stored with the entry, beside its lineage)
    modules: int
    ranks: list[int] = Field(default_factory=list)  # distinct ranks of the output, sorted
    notes: list[str] = Field(default_factory=list)
    seconds: float = 0.0


class ReductionStats(Frozen):
    """Per-module rank kept and Frobenius fraction kept, sqrt(Σ_{i<k} S_i² / Σ S_i²) (kohya's "fro retained")."""

    kept: dict[str, float] = Field(default_factory=dict)
    ranks: dict[str, int] = Field(default_factory=dict)
    mean_kept: float | None = None
    min_kept: float | None = None


class MixResult(OutputResult):
    method: str
    rank: int | str | None = None
    parents: list[ParentUse]
    reduction: ReductionStats | None = None  # svd/ties/dare


class ResizeResult(OutputResult):
    parent: ParentUse
    rank: int | None = None
    dynamic: str | None = None
    reduction: ReductionStats


class ExpansionStats(Frozen):
    """How a LyCORIS adapter was expanded to plain LoRA factors (hub convert --to diffusers)."""

    rank: int  # the largest rank written
    keep: float | None = None  # Frobenius fraction asked per module; None when --rank chose the rank
    mean_kept: float
    min_kept: float
    bytes_in: int
    bytes_out: int

    @property
    def growth(self) -> float:
        return self.bytes_out / self.bytes_in if self.bytes_in else 1.0


class ConvertResult(OutputResult):
    parent: ParentUse
    to: str
    expansion: ExpansionStats | None = None


class ScaleResult(OutputResult):
    parent: ParentUse
    weight: float


class ExtractResult(OutputResult):
    base: str
    tuned: str
    rank: int
    reduction: ReductionStats


class FuseResult(Frozen):
    base: str
    out: str
    layout: str  # diffusers | single-file
    parents: list[ParentUse]
    modules_fused: int
    tensors_written: int
    files: list[str]
    device: str
    seconds: float = 0.0
