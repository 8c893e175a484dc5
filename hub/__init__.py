"""sd-lora-hub: a registry, composition engine, trainer and Hub sync for Stable Diffusion LoRA adapters.

``import hub`` is cheap: the public functions are resolved lazily (PEP 562) so that ``hub ls``
never pays for torch, diffusers or huggingface_hub.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "HubError": "hub.errors",
    "Settings": "hub.settings",
    "load_settings": "hub.settings",
    "Paths": "hub.paths",
    # the registry (issue 2)
    "add": "hub.registry.api",
    "add_one": "hub.registry.api",
    "resolve": "hub.registry.api",
    "record_remote": "hub.registry.api",
    "import_dir": "hub.registry.api",
    "ls": "hub.registry.api",
    "show": "hub.registry.api",
    "tag": "hub.registry.api",
    "rm": "hub.registry.api",
    "verify": "hub.registry.api",
    "dupes": "hub.registry.api",
    "probe": "hub.registry.api",
    # the composition engine (issue 3)
    "mix": "hub.compose.api",
    "resize": "hub.compose.api",
    "convert": "hub.compose.api",
    "scale": "hub.compose.api",
    "fuse": "hub.compose.api",
    "extract": "hub.compose.api",
    # Hub sync (issue 4)
    "push": "hub.sync.api",
    "push_all": "hub.sync.api",
    "pull": "hub.sync.api",
    "search": "hub.sync.api",
    "civitai": "hub.sync.api",  # issue 18: lookups by hash; civitai_updates: newer versions
    "civitai_updates": "hub.sync.api",
    # generation (issue 10)
    "gen": "hub.gen.api",
    "generate": "hub.gen.api",
    "grid": "hub.gen.api",
    "read_png": "hub.gen.api",
    "rerender": "hub.gen.api",
    "Renderer": "hub.gen.api",
    # the trainer (issue 9)
    "train": "hub.train.api",
    "list_runs": "hub.train.api",
    "read_run": "hub.train.api",
    "run_demo": "hub.demo",
    "gallery": "hub.registry.api",
    "link": "hub.registry.api",
    # the web UI (issue 10)
    "serve": "hub.web.api",
    "create_app": "hub.web.api",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hub' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
