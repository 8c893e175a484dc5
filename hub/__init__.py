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
    "add": "hub.library",
    "add_one": "hub.library",
    "resolve": "hub.library",
    "record_remote": "hub.library",
    "import_dir": "hub.library",
    "ls": "hub.library",
    "show": "hub.library",
    "tag": "hub.library",
    "rm": "hub.library",
    "verify": "hub.library",
    "dupes": "hub.library",
    "probe": "hub.library",
    # the composition engine (issue 3)
    "mix": "hub.composition",
    "resize": "hub.composition",
    "convert": "hub.composition",
    "scale": "hub.composition",
    "fuse": "hub.composition",
    "extract": "hub.composition",
    # Hub sync (issue 4)
    "push": "hub.sharing",
    "push_all": "hub.sharing",
    "pull": "hub.sharing",
    "search": "hub.sharing",
    "run_demo": "hub.demo",
    "gallery": "hub.contact_sheet",
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
