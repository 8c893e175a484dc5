"""Offline fixtures for tests, the demo, the docs and the benchmarks.

- :func:`build_tiny_pipeline` / :func:`tiny_pipeline_dir`: a tiny SD1, SD2 (768-v) or SDXL diffusers pipeline built
  from configs.
- :func:`write_single_file`: a tiny SD1/SD2/SDXL pipeline's weights as one original-layout (LDM/SGM) checkpoint.
- :func:`module_shapes` / :func:`lora_targets`: exact weight shapes of the real bases' modules, from configs alone.
- :func:`write_lora`, :func:`write_embedding`, :func:`write_sample_library`: realistic adapter files.
- :func:`draw_training_pictures`: a folder of small pictures to train on.

Nothing here downloads anything; heavy libraries are imported only when a function is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "build_tiny_pipeline": "hub.bases.tiny",
    "tiny_pipeline_dir": "hub.bases.tiny",
    "module_shapes": "hub.testing.arch_shapes",
    "lora_targets": "hub.testing.arch_shapes",
    "kohya_name": "hub.testing.adapter_files",
    "write_lora": "hub.testing.adapter_files",
    "write_embedding": "hub.testing.adapter_files",
    "write_sample_library": "hub.testing.adapter_files",
    "fill_registry": "hub.testing.registry_rows",
    "write_single_file": "hub.testing.single_file",
    "draw_training_pictures": "hub.testing.pictures",
}

__all__ = [
    "build_tiny_pipeline",
    "draw_training_pictures",
    "fill_registry",
    "kohya_name",
    "lora_targets",
    "module_shapes",
    "tiny_pipeline_dir",
    "write_embedding",
    "write_lora",
    "write_sample_library",
    "write_single_file",
]

if TYPE_CHECKING:
    from hub.bases.tiny import build_tiny_pipeline, tiny_pipeline_dir
    from hub.testing.adapter_files import kohya_name, write_embedding, write_lora, write_sample_library
    from hub.testing.arch_shapes import lora_targets, module_shapes
    from hub.testing.pictures import draw_training_pictures
    from hub.testing.registry_rows import fill_registry
    from hub.testing.single_file import write_single_file


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hub.testing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
