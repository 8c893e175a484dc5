"""The trainer: DreamBooth-LoRA with prior preservation and captions, from a folder of pictures to a registered,
shareable adapter. The verbs are in :mod:`hub.train.api` (``train``, ``list_runs``, ``read_run``).

``hub.train`` is both this package and the facade's verb: the package is callable, so ``hub.train(...)`` is
:func:`hub.train.api.train` whether or not the package was imported first.
"""

from __future__ import annotations

from hub.callable_package import make_callable

make_callable(__name__, "hub.train.api", "train")
