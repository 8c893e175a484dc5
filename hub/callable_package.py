"""A package that is also the facade's verb of the same name (``hub.gen``, ``hub.train``).

Once ``hub.train`` the package is imported, Python binds the name ``train`` on ``hub`` to the package, hiding the
facade's lazy ``hub.train`` function. Making the package callable keeps ``hub.train(...)`` working either way.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def make_callable(package: str, module: str, function: str) -> None:
    """Calling ``sys.modules[package]`` calls ``module.function`` (imported on the first call)."""

    class _CallablePackage(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(module), function)(*args, **kwargs)

    sys.modules[package].__class__ = _CallablePackage
