"""The `hub ls` table's names at any width: short enough, and never two rows that read the same."""

from __future__ import annotations

import pytest

from cli.ls_table import shorten_names

ALIKE = [
    "commonpike__lora-style-abc__pytorch_lora_weights",
    "commonpike__lora-other-xyz__pytorch_lora_weights",
    "commonpike__lora-style-abd__pytorch_lora_weights",
    "lazealia__Stable_Diff_WebUI_with_Ext__embeddings__bad-image-v2-39000",
    "lazealia__Stable_Diff_WebUI_with_Ext__embeddings__bad-image-v2-27000",
    "x" * 30 + "1" + "y" * 30,
    "x" * 30 + "2" + "y" * 30,
    "short",
]


@pytest.mark.parametrize("width", [8, 12, 16, 20, 28, 40, 80])
def test_distinct_names_stay_distinct_and_fit(width: int) -> None:
    shown = shorten_names(ALIKE, width)
    assert all(len(s) <= width for s in shown), shown
    assert len(set(shown)) == len(ALIKE), shown


def test_the_differing_word_shows_with_the_start_and_the_end() -> None:
    shown = shorten_names(ALIKE[:2], 28)
    assert shown == ["commonp…style-abc…ra_weights", "commonp…other-xyz…ra_weights"]
    assert shorten_names(["one-name-long-enough-to-cut", "short"], 16) == ["one-name…-to-cut", "short"]
