"""Plain-text wrapping for `hub show`: a label, then its value wrapped with a hanging indent, no trailing spaces.

rich's grid pads every cell to the column's width (trailing spaces) and wraps lines it prints back to column 0;
text wrapped here is printed with ``soft_wrap=True``, so rich only styles it.
"""

from __future__ import annotations

import textwrap

MIN_VALUE_WIDTH = 20  # narrower than this beside its label, a value starts under the label instead
FALLBACK_INDENT = 4


def hanging(label: str, value: str, width: int, *, indent: int | None = None) -> list[str]:
    """``label`` + ``value`` as lines of at most ``width`` characters; the value's later lines start at ``indent``
    (default: under the value's first character). Long words (paths, hashes) are cut where the line ends."""
    lead = label[: len(label) - len(label.lstrip())]
    indent = len(label) if indent is None else indent
    if width - len(label) < MIN_VALUE_WIDTH:  # a long label: label and value wrap as one text
        label, value = lead, f"{label.strip()} {value}".strip()
        indent = len(lead) + FALLBACK_INDENT
    elif width - indent < MIN_VALUE_WIDTH:
        indent = len(lead) + FALLBACK_INDENT
    lines = textwrap.wrap(value, width, initial_indent=label, subsequent_indent=" " * indent, break_on_hyphens=False)
    return [line.rstrip() for line in lines] or [label.rstrip()]


def command_lines(label: str, command: str, width: int, *, indent: int) -> list[str]:
    """A shell command to copy, on lines of at most ``width`` where its words allow: broken between words (never
    inside a quoted one) with a trailing `` \\``, so that pasted into a shell it is still one command."""
    import shlex

    try:
        words = [shlex.quote(word) for word in shlex.split(command)]
    except ValueError:  # not shell syntax after all: shown as it is
        return [label + command]
    lines = [label + (words[0] if words else "")]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) + len(" \\") <= width:
            lines[-1] += " " + word
        else:
            lines[-1] += " \\"
            lines.append(" " * indent + word)
    return lines
