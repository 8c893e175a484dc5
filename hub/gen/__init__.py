"""Seeing adapters: render images with LoRAs applied as weighted adapters, and X/Y weight grids.

The verbs are in :mod:`hub.gen.api` (``generate``, ``grid``, ``read_png``, ``rerender``, ``Renderer``). The pure
parts, importable without torch: :mod:`hub.gen.infotext` (A1111's "parameters" text), :mod:`hub.gen.samplers`
(A1111 sampler names -> diffusers schedulers), :mod:`hub.gen.grid_plan` and :mod:`hub.gen.results`.

``hub.gen`` is both this package and the facade's verb: once the package is imported, ``hub.gen`` names the
package, so the package itself is callable and ``hub.gen("a dog", loras=[("dog", 0.7)])`` is ``generate``.
"""

from __future__ import annotations

from hub.callable_package import make_callable

make_callable(__name__, "hub.gen.api", "generate")
