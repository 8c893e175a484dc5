"""Civitai's values as people read them: an NSFW level's name, a sanitised HTML description as terminal text.
Standard library only (``hub show`` uses it)."""

from __future__ import annotations

import html
import re

# Image levels are bit flags; a version's nsfwLevel is the OR of its images'.
NSFW_LEVELS = {1: "PG", 2: "PG-13", 4: "R", 8: "X", 16: "XXX", 32: "blocked"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def nsfw_label(level: int | None) -> str:
    """The highest flag of a level, as people say it: 6 -> "R"."""
    if not level or level < 1:
        return "-"
    top = max(flag for flag in NSFW_LEVELS if flag <= level)
    return NSFW_LEVELS[top]


def plain_text(html_text: str) -> str:
    """(Sanitised) HTML as text for a terminal: tags out, entities decoded, control characters (terminal escape
    sequences) out, one line per paragraph."""
    text = re.sub(r"(?i)<br\s*/?>|</p>|</li>|</h\d>", "\n", html_text)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    text = _CONTROL.sub("", text.replace("\r", ""))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
