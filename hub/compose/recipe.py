"""A composition's recipe: the operation, its inputs with weights and its parameters, stored with the adapter.

:func:`render_argv` is the one place a ``hub ...`` command line is built from it: the command that rebuilds the
adapter, shown by ``hub show`` and printed after every composition.
"""

from __future__ import annotations

import shlex
from typing import Any, Literal

from pydantic import Field

from hub.models import Frozen

Operation = Literal["mix", "resize", "convert", "scale", "extract"]


class RecipeInput(Frozen):
    ref: str  # a hash prefix for registered adapters (survives renames), else the path or model id as given
    weight: float = 1.0
    role: str | None = None  # extract: "base" or "tuned"


class Recipe(Frozen):
    operation: Operation
    inputs: list[RecipeInput]
    # flag name (underscores for dashes) -> value, in the order the flags are written; None/False: flag left out
    params: dict[str, Any] = Field(default_factory=dict)

    def argv(self) -> list[str]:
        return render_argv(self)

    def command(self) -> str:
        return shlex.join(self.argv())

    def stored(self) -> dict[str, Any]:
        """What the registry keeps (its ``recipe`` column): the recipe plus its command, as earlier rows had."""
        return {**self.model_dump(), "command": self.command(), "argv": self.argv()}


def render_argv(recipe: Recipe) -> list[str]:
    """``["hub", operation, inputs..., --flags..., (scale: "--", weight)]``."""
    argv = ["hub", recipe.operation]
    if recipe.operation == "mix":
        argv += [f"{i.ref}:{i.weight:g}" for i in recipe.inputs]
    elif recipe.operation == "extract":
        for i in recipe.inputs:
            argv += [f"--{i.role}", i.ref]
    else:
        argv.append(recipe.inputs[0].ref)
    for key, value in recipe.params.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, _text(value)]
    if recipe.operation == "scale":
        argv += ["--", f"{recipe.inputs[0].weight:g}"]  # "--" lets a negative weight through the option parser
    return argv


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def output_params(fmt: str, dtype: str | None, name: str | None) -> dict[str, Any]:
    """The flags every writing operation shares (kohya is the default format, left out)."""
    return {"format": None if fmt == "kohya" else fmt, "dtype": dtype, "name": name}
