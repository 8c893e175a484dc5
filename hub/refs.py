"""Weighted adapter references as users type them: ``dog:0.7`` (hub mix, hub gen --lora, hub grid --lora)."""

from __future__ import annotations

from hub.errors import UsageError


def parse_spec(spec: str) -> tuple[str, float]:
    """``dog.safetensors:0.7`` -> ("dog.safetensors", 0.7); the weight defaults to 1.0. Only the last colon
    splits, and only if what follows is a number, so ``C:\\loras\\dog.safetensors`` stays a path."""
    ref, sep, tail = spec.rpartition(":")
    if sep and ref:
        try:
            return ref, float(tail)
        except ValueError:
            pass
    if not spec:
        raise UsageError("empty adapter spec", hint="NAME[:WEIGHT], e.g. dog:0.7")
    return spec, 1.0
