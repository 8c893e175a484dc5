"""Convert a LoRA file between formats: load into a LoraSet, write it back out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.formats.load import load_lora_set
from hub.formats.module_tables import ModuleTable
from hub.formats.write import save_lora_set


def convert_file(
    src: str | Path,
    dst: str | Path,
    *,
    to: str = "kohya",
    dtype: Any = None,
    adapter_config: dict[str, Any] | None = None,
    arch: str | None = None,
    table: ModuleTable | None = None,
) -> Path:
    """Write ``src`` (any format :func:`load_lora_set` reads) to ``dst`` as ``to`` ("kohya" or "diffusers").

    Every delta is kept exactly (scales folded into alpha / lora_alpha); the source's header metadata is
    kept for kohya output (minus stale hashes), and the conversion is noted in ``ss_training_comment``.
    ``table``: the base's modules, to place kohya names of a base without a packaged table (needed for diffusers).
    """
    src, dst = Path(src), Path(dst)
    lora_set = load_lora_set(src, adapter_config=adapter_config, arch=arch, table=table)
    extra: dict[str, str] = {}
    if to == "kohya":
        kept = {
            k: v
            for k, v in lora_set.metadata.items()
            if k.startswith(("ss_", "modelspec."))
            and k not in ("ss_network_dim", "ss_network_alpha", "ss_network_module")
            and not k.startswith("sshs_")
        }
        extra.update(kept)
        note = f"converted from {lora_set.source_format or 'unknown'} ({src.name})"
        comment = "; ".join(filter(None, [extra.get("ss_training_comment"), note, *lora_set.notes]))
        extra["ss_training_comment"] = comment
    return save_lora_set(lora_set, dst, fmt=to, metadata=extra or None, dtype=dtype)
