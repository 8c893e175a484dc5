"""The one internal representation every LoRA format loads into and every writer reads from.

A module's weight delta is ``scale * up @ down`` reshaped to the target weight's shape. ``scale``
folds alpha/rank (kohya, PEFT) or any other multiplier in explicitly, so two LoraSets from
different formats are compared and combined without knowing where they came from.

Module keys are canonical: ``<component>.<dotted module path in the diffusers model>`` (see ``names_only`` for
kohya files read without a module table), e.g.
``unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k`` or
``text_encoder.text_model.encoder.layers.0.self_attn.q_proj``; components are ``unet``,
``text_encoder``, ``text_encoder_2`` (and ``transformer`` for FLUX).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from hub.formats.module_tables import ModuleTable


@dataclass
class LoraModule:
    up: torch.Tensor  # [out, r]
    down: torch.Tensor  # [r, in * kh * kw]
    scale: float  # alpha / r (times any extra multiplier); delta = scale * up @ down
    weight_shape: tuple[int, ...]  # shape of the target weight: (out, in) or (out, in, kh, kw)
    # How the delta was obtained when the source was not a plain LoRA (e.g. "loha materialised, svd rank 8").
    approximation: str | None = None
    # Frobenius fraction of the source delta these factors keep, when loading reduced them (LyCORIS expansion).
    kept: float | None = None

    @property
    def rank(self) -> int:
        return int(self.down.shape[0])


@dataclass
class LoraSet:
    arch: str  # sd1 | sd2 | sdxl | flux | tiny | unknown
    modules: dict[str, LoraModule] = field(default_factory=dict)
    # Textual-inversion vectors carried along (pivotal tuning): token -> [n_vectors, dim] per text encoder.
    embeddings: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)  # safetensors __metadata__ of the source
    source_format: str | None = None
    notes: list[str] = field(default_factory=list)  # e.g. "LoKr materialised and reduced by SVD"
    # The model table the keys were placed on (a real base's, or the user's --base); None when they were not.
    table: ModuleTable | None = None
    # Keys parsed from kohya names with no table: they combine with the same names of other files and write back
    # to the same kohya names, but translating them to diffusers paths (or fusing) needs the base's table.
    names_only: bool = False

    def components(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for key in self.modules:
            comp = key.split(".", 1)[0]
            counts[comp] = counts.get(comp, 0) + 1
        return counts

    def extra(self) -> dict[str, Any]:
        return {"notes": self.notes, "source_format": self.source_format}
