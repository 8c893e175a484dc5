"""Convert a LoRA file between formats: load into a LoraSet, write it back out.

A LyCORIS LoHa/LoKr has no ``up @ down`` form: writing it as a plain LoRA (diffusers) expands each module to
exact factors of rank up to r1*r2 (256 for a LoKr of factor 16), a file hundreds of times its size. So an
expansion keeps, per module, the smallest rank holding :data:`DEFAULT_KEEP` of the delta's Frobenius norm (or
the rank the user asks for), and refuses to grow the file more than :data:`GROWTH_LIMIT` times unless the user
chose the rank. A kohya-named LyCORIS file written as kohya needs no expansion: its tensors are written as they
are (A1111, ComfyUI and kohya read LoHa/LoKr).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import UsageError
from hub.formats.load import load_lora_set, read_tensors
from hub.formats.module_tables import ModuleTable
from hub.formats.write import save_lora_set, write_safetensors
from hub.units import human_size

if TYPE_CHECKING:
    from hub.formats.lora_set import LoraSet

GROWTH_LIMIT = 8.0  # an expansion may write at most this many times the source's bytes without an explicit rank
DEFAULT_KEEP = 0.99  # Frobenius fraction an expansion keeps per module (kohya's sv_fro:0.99)
LYCORIS_ROLES = ("hada_", "lokr_")


@dataclass(frozen=True)
class Expansion:
    """How a LyCORIS file was brought to plain LoRA factors."""

    rank: int  # the largest rank written
    keep: float | None  # the Frobenius fraction asked per module (None when a rank was given)
    mean_kept: float
    min_kept: float
    bytes_in: int
    bytes_out: int  # estimated from the factors (float32 unless a dtype was given); the header adds a little

    @property
    def growth(self) -> float:
        return self.bytes_out / self.bytes_in if self.bytes_in else 1.0

    def describe(self) -> str:
        return (
            f"expanded to LoRA rank <= {self.rank} keeping {self.mean_kept:.2%} of the Frobenius norm "
            f"(min {self.min_kept:.2%}); {human_size(self.bytes_in, base=1000)} -> "
            f"{human_size(self.bytes_out, base=1000)} ({self.growth:.1f}x)"
        )


def is_lycoris_keys(keys: Any) -> bool:
    return any(str(k).rpartition(".")[2].startswith(LYCORIS_ROLES) for k in keys)


def _itemsize(dtype: Any) -> int:
    import torch

    if dtype is None:
        return 4
    return torch.empty((), dtype=dtype).element_size() if isinstance(dtype, torch.dtype) else 4


def expand_lycoris(
    src: str | Path,
    *,
    rank: int | None = None,
    keep: float | None = DEFAULT_KEEP,
    growth_limit: float = GROWTH_LIMIT,
    dtype: Any = None,
    label: str | None = None,
    arch: str | None = None,
    table: ModuleTable | None = None,
    rank_hint: str = "--rank N",
) -> tuple[LoraSet, Expansion]:
    """Load a LyCORIS file as plain LoRA factors: rank by kept energy (or ``rank``), size bounded (see the module
    docstring); ``keep=None``: exact factors (their numerical rank). Raises UsageError naming the rank, size and
    kept energy when ``rank`` is None and the output would
    be more than ``growth_limit`` times the source."""
    src = Path(src)
    lora_set = load_lora_set(
        src, arch=arch, label=label, table=table, lycoris_rank_cap=rank, lycoris_keep=None if rank else keep
    )
    kept = [m.kept for m in lora_set.modules.values() if m.kept is not None] or [1.0]
    itemsize = _itemsize(dtype)
    out_bytes = sum((m.up.numel() + m.down.numel()) * itemsize for m in lora_set.modules.values())
    exp = Expansion(
        rank=max((m.rank for m in lora_set.modules.values()), default=0),
        keep=None if rank else keep,
        mean_kept=sum(kept) / len(kept),
        min_kept=min(kept),
        bytes_in=src.stat().st_size,
        bytes_out=out_bytes,
    )
    if rank is None and exp.growth > growth_limit:
        per_rank = out_bytes / max(1, sum(m.rank for m in lora_set.modules.values()))
        small = max(1, int(growth_limit * exp.bytes_in / per_rank / max(1, len(lora_set.modules))))
        raise UsageError(
            f"{label or src.name}: a LyCORIS adapter written as plain LoRA factors would grow "
            f"{exp.growth:.0f}x ({human_size(exp.bytes_in, base=1000)} -> {human_size(out_bytes, base=1000)}, "
            f"rank <= {exp.rank} to keep "
            f"{keep or 1:.0%} of each module's Frobenius norm); refusing more than {growth_limit:g}x without a rank",
            hint=f"choose the rank: {rank_hint.replace('N', str(small))} stays near {growth_limit:g}x "
            f"(it reports the energy kept), or keep the LyCORIS file as it is (--to kohya)",
        )
    lora_set.notes.append(exp.describe())
    return lora_set, exp


def lycoris_passthrough(src: str | Path, extra: dict[str, str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """(tensors, metadata) of a kohya-named LyCORIS file to write as it is: same LoHa/LoKr tensors, its header
    minus the stale kohya hashes, plus ``extra``."""
    tensors, metadata = read_tensors(Path(src))
    meta = {k: v for k, v in metadata.items() if not k.startswith("sshs_")}
    meta.update(extra or {})
    return tensors, meta


def _stable_date(src: Path, metadata: dict[str, str]) -> str:
    # The source's date, else its file's: converting the same file twice gives the same bytes (push compares them).
    if metadata.get("modelspec.date"):
        return metadata["modelspec.date"]
    return datetime.fromtimestamp(os.stat(src).st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def convert_file(src: str | Path, dst: str | Path, **kwargs: Any) -> Path:
    """:func:`convert_reporting` without the report: the written path."""
    return convert_reporting(src, dst, **kwargs)[0]


def convert_reporting(
    src: str | Path,
    dst: str | Path,
    *,
    to: str = "kohya",
    dtype: Any = None,
    adapter_config: dict[str, Any] | None = None,
    arch: str | None = None,
    table: ModuleTable | None = None,
    rank: int | None = None,
    keep: float | None = DEFAULT_KEEP,
    growth_limit: float = GROWTH_LIMIT,
    label: str | None = None,
) -> tuple[Path, Expansion | None]:
    """Write ``src`` (any format :func:`load_lora_set` reads) to ``dst`` as ``to`` ("kohya" or "diffusers").

    Plain LoRA deltas are kept exactly (scales folded into alpha / lora_alpha); a LyCORIS file goes through
    :func:`expand_lycoris` for diffusers and as it is for kohya. The source's header metadata is kept for kohya
    output (minus stale hashes), and the conversion is noted in ``ss_training_comment``. The bytes depend only
    on the source (no clock). ``table``: the base's modules, to place kohya names of a base without a packaged
    table (needed for diffusers). Returns (path, how a LyCORIS file was expanded or None).
    """
    src, dst = Path(src), Path(dst)
    tensors, metadata = read_tensors(src)
    if is_lycoris_keys(tensors):
        if to == "kohya":
            return write_safetensors(*lycoris_passthrough(src), dst), None
        lora_set, expansion = expand_lycoris(src, rank=rank, keep=keep, growth_limit=growth_limit, dtype=dtype,
                                             arch=arch, table=table, label=label)  # fmt: skip
    else:
        lora_set, expansion = load_lora_set(src, adapter_config=adapter_config, arch=arch, table=table), None
    extra: dict[str, str] = {}
    if to == "kohya":
        kept = {
            k: v
            for k, v in lora_set.metadata.items()
            if k.startswith(("ss_", "modelspec."))
            and k not in ("ss_network_dim", "ss_network_alpha", "ss_network_module", "ss_network_args")
            and not k.startswith("sshs_")
        }
        extra.update(kept)
        extra["modelspec.date"] = _stable_date(src, metadata)
        note = f"converted from {lora_set.source_format or 'unknown'} ({src.name})"
        comment = "; ".join(filter(None, [extra.get("ss_training_comment"), note, *lora_set.notes]))
        extra["ss_training_comment"] = comment
    return save_lora_set(lora_set, dst, fmt=to, metadata=extra or None, dtype=dtype), expansion
