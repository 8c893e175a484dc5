"""Long adapter names on the gallery's cards, in a real browser (Debian's headless Chromium through selenium): each
card shows the whole name, wrapped inside the card, and nothing overflows sideways, on a wide and a narrow
window. Skipped only when chromium is not installed (``.ci/run`` installs it)."""

from __future__ import annotations

from pathlib import Path

import pytest

import hub
from hub.settings import load_settings
from hub.testing import write_lora
from hub.testing.web_browser import chromium, chromium_paths, running_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_paths() is None, reason="chromium + chromium-driver not installed (apt-get install)"),
]

LONG_NAMES = [  # four that once read the same on their cards, and one with no place to break at all
    "lazealia__Stable_Diff_WebUI_with_Ext__embeddings__bad-image-v2-39000",
    "lazealia__Stable_Diff_WebUI_with_Ext__embeddings__bad-image-v2-27000",
    "lazealia__Stable_Diff_WebUI_with_Ext__embeddings__bad-artist-anime",
    "lazealia__Stable_Diff_WebUI_with_Ext__embeddings__bad-hands-5",
    "x" * 60 + "-end",
]

# per card: its name's text, whether the name's box and text stay inside the card, and how many lines it takes
MEASURE = """
return [...document.querySelectorAll('.card')].map(card => {
  const name = card.querySelector('.name'), c = card.getBoundingClientRect(), n = name.getBoundingClientRect();
  const lineHeight = parseFloat(getComputedStyle(name).lineHeight) || 20;
  return {text: name.textContent.trim(), inside: n.left >= c.left - 0.5 && n.right <= c.right + 0.5,
          textFits: name.scrollWidth <= name.clientWidth + 1, cardFits: card.scrollWidth <= card.clientWidth + 1,
          lines: Math.round(n.height / lineHeight)};
});
"""


def test_long_names_wrap_inside_their_cards(tmp_path: Path) -> None:
    folder = tmp_path / "loras"
    for i, name in enumerate(LONG_NAMES):
        write_lora(folder / f"{name}.safetensors", seed=i, rank=1)
    hub.import_dir(folder)
    for width in (1280, 420):
        with running_server(load_settings()) as url, chromium(width=width) as driver:
            driver.get(url + "/")
            cards = driver.execute_script(MEASURE)
            page_fits = driver.execute_script(
                "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            )
        assert sorted(card["text"] for card in cards) == sorted(LONG_NAMES), cards  # the whole name, no "…"
        for card in cards:
            assert card["inside"] and card["textFits"] and card["cardFits"], (width, card)
            assert card["lines"] >= 2, (width, card)  # wrapped, not cut
        assert page_fits, width
