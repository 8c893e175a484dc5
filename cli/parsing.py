"""Parsing rules shared by commands whose arguments may start with a dash.

``hub tag NAME -wip`` removes a tag and ``hub scale NAME -0.5`` negates an adapter: click would read ``-wip``
and ``-0.5`` as unknown options. Commands that take such arguments pass these context settings, so an unknown
dash token becomes an argument; known options (``--json``, ``--name``) are still options.
"""

from __future__ import annotations

from typing import Any

DASH_ARGUMENTS: dict[str, Any] = {"ignore_unknown_options": True}


def looks_like_option(token: str) -> bool:
    """A ``--word`` token that reached the arguments is a mistyped option, never a tag or a number."""
    return token.startswith("--")
