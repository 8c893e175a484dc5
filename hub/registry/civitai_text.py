"""Civitai's values as people read them: an NSFW level's name, its HTML description sanitised, and as terminal text.
Standard library only at import (``hub show`` uses it); nh3 is imported when something is sanitised."""

from __future__ import annotations

import html
import re

# Image levels are bit flags; a version's nsfwLevel is the OR of its images'.
NSFW_LEVELS = {1: "PG", 2: "PG-13", 4: "R", 8: "X", 16: "XXX", 32: "blocked"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# What a description may keep: text formatting and links, no images (they would load from Civitai's servers on
# every look at the page), no scripts, styles, event handlers or frames (nh3's defaults drop those).
_DESCRIPTION_TAGS = {
    "a", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p",
    "pre", "s", "strong", "sub", "sup", "u", "ul", "span", "del",
}  # fmt: skip


def sanitise_html(text: str) -> str:
    """Civitai's HTML description made inert (nh3, the Rust ammonia sanitiser): only formatting tags and http(s)
    links survive; scripts, styles, event handlers, ``javascript:`` URLs, images and control characters go."""
    import nh3

    return nh3.clean(
        _CONTROL.sub("", text),  # terminal escape sequences too: the text is also shown in terminals
        tags=_DESCRIPTION_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


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
