"""Editing what people say about an adapter: its trigger words, its whole tag set, its previews.

``hub tag`` applies +/- changes; an edit form sends the list the user ended with, so these verbs take
the final list and change the row in one transaction (the full-text index included).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hub.context import Context, using
from hub.errors import BadFileError, NotFoundError, UsageError
from hub.models import Adapter, Preview
from hub.registry import store
from hub.registry.db import Registry, adapter_from_row

MAX_WORDS = 200
MAX_WORD_LENGTH = 200
PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def _clean(words: Sequence[str], what: str, *, lower: bool) -> list[str]:
    out: list[str] = []
    for word in words:
        word = " ".join(word.split())  # one line, single spaces: these end up in prompts and cards
        word = word.lower() if lower else word
        if len(word) > MAX_WORD_LENGTH:
            raise UsageError(f"a {what} is longer than {MAX_WORD_LENGTH} characters: {word[:40]}...")
        if word and word not in out:
            out.append(word)
    if len(out) > MAX_WORDS:
        raise UsageError(f"{len(out)} {what}s; at most {MAX_WORDS}")
    return out


def _registered_id(ref: str, ctx: Context) -> str:
    from hub.registry.api import resolve  # the module that re-exports this one

    adapter = resolve(ref, ctx=ctx)
    if not adapter.id:
        raise NotFoundError(f"'{ref}' is a file, not a registered adapter", hint=f"hub add {ref}")
    return adapter.id


def _row(reg: Registry, adapter_id: str) -> Adapter:
    row = reg.adapter_row(adapter_id)
    if row is None:  # removed by another process between our write and this read
        raise NotFoundError(f"no adapter with id '{adapter_id}'")
    return adapter_from_row(row, reg.tags(adapter_id))


def set_triggers(ref: str, triggers: Sequence[str], *, ctx: Context | None = None) -> Adapter:
    """Replace the adapter's trigger words (kept in the given order; blanks and repeats dropped)."""
    words = _clean(triggers, "trigger word", lower=False)
    with using(ctx) as c:
        adapter_id, reg = _registered_id(ref, c), c.registry
        with reg.transaction():
            reg.update_adapter(adapter_id, triggers=words)
            reg.reindex(adapter_id)
        return _row(reg, adapter_id)


def set_tags(ref: str, tags: Sequence[str], *, ctx: Context | None = None) -> Adapter:
    """Replace the adapter's tags with ``tags`` (lower-cased, blanks and repeats dropped)."""
    wanted = _clean(tags, "tag", lower=True)
    with using(ctx) as c:
        adapter_id, reg = _registered_id(ref, c), c.registry
        with reg.transaction():
            current = reg.tags(adapter_id)
            reg.set_tags(adapter_id, [t for t in wanted if t not in current], [t for t in current if t not in wanted])
            reg.reindex(adapter_id)
        return _row(reg, adapter_id)


def add_preview(
    ref: str, image: str | Path, *, first: bool = True, source: str | None = None, ctx: Context | None = None
) -> list[Preview]:
    """Copy ``image`` into the home's previews (named by content) and attach it to the adapter.

    ``first`` makes it the preview cards show: previews are listed by path, so the copy gets a name that sorts
    before the others. ``source``: where the list says it came from (default: the image's path). Returns the
    adapter's previews, in order."""
    from PIL import Image, UnidentifiedImageError

    src = Path(image)
    if src.suffix.lower() not in PREVIEW_SUFFIXES:
        raise UsageError(f"{src.name}: a preview is a {', '.join(PREVIEW_SUFFIXES)} image")
    if not src.is_file():
        raise NotFoundError(f"no image at {src}")
    try:
        with Image.open(src) as im:
            im.verify()
    except (OSError, UnidentifiedImageError) as e:
        raise BadFileError(f"not a readable image: {e}", path=str(src)) from e
    with using(ctx) as c:
        adapter_id = _registered_id(ref, c)
        target = store.keep_preview(src, c.paths, first=first)
        with c.registry.transaction():
            c.registry.add_preview(adapter_id, str(target), source or str(src))
        return c.registry.previews(adapter_id)
