"""A kohya-style LoRA loader for the tests, written as A1111's and kohya's own loaders read a file: every
``lora_unet_*`` / ``lora_te_*`` key names a module by its path with ``_`` for ``.`` (the text encoder's under
``text_model_``), and ``W += alpha / rank * up @ down`` merges it. A key that names no module, or factors whose
product has another shape than the module's weight, is an error (what A1111 reports as "unmatched keys")."""

from __future__ import annotations

import torch


def _modules(pipe) -> dict[str, torch.nn.Module]:
    found: dict[str, torch.nn.Module] = {}
    for name, module in pipe.unet.named_modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
            found["lora_unet_" + name.replace(".", "_")] = module
    for name, module in pipe.text_encoder.named_modules():
        if isinstance(module, torch.nn.Linear):
            path = name if name.startswith("text_model.") else f"text_model.{name}"
            found["lora_te_" + path.replace(".", "_")] = module
    return found


def merge_kohya(pipe, state: dict[str, torch.Tensor], multiplier: float = 1.0) -> set[str]:
    """Merge ``state`` into ``pipe``'s weights; returns the module keys merged."""
    modules = _modules(pipe)
    stems = {k.split(".", 1)[0] for k in state}
    unmatched = sorted(s for s in stems if s not in modules)
    if unmatched:
        raise KeyError(f"keys that name no module: {unmatched[:3]}")
    with torch.no_grad():
        for stem in stems:
            down, up = state[f"{stem}.lora_down.weight"].float(), state[f"{stem}.lora_up.weight"].float()
            rank = down.shape[0]
            alpha = float(state[f"{stem}.alpha"]) if f"{stem}.alpha" in state else rank
            weight = modules[stem].weight
            delta = (up.flatten(1) @ down.flatten(1)).reshape(weight.shape)
            weight += multiplier * alpha / rank * delta.to(weight.dtype)
    return stems
