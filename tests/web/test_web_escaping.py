"""Text from files, sidecars and a stranger's model card renders escaped on every page that shows it: names,
triggers, tags, descriptions, safetensors metadata and lineage (the SVG graph included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hub
from hub.models import ParentLink
from hub.testing import write_lora

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
RAW_MARKUP = ("<script>alert", "<img src=x", "onerror=alert(1)>")


def _no_raw_markup(html: str, page: str) -> None:
    for raw in RAW_MARKUP:
        assert raw not in html, f"{page} shows {raw!r} unescaped"


@pytest.fixture
def hostile(tmp_path: Path, library) -> hub.models.Adapter:
    lib = tmp_path / "hostile"
    path = write_lora(lib / "evil.safetensors", seed=9, metadata={"ss_output_name": HOSTILE, HOSTILE: "value"})
    (lib / "evil.json").write_text(json.dumps({"activation text": HOSTILE, "description": HOSTILE}))
    stranger = ParentLink(parent_ref=HOSTILE, operation="trained-from", params={"weight": HOSTILE})
    adapter = hub.add_one(path, name="evil" + HOSTILE, lineage=[stranger])  # as a pulled card's lineage reads
    hub.tag(adapter.id, ["+" + HOSTILE.replace(" ", "")])
    return adapter


def test_every_page_that_shows_adapter_text_escapes_it(client, hostile) -> None:
    detail = client.get(f"/a/{hostile.id}").text
    _no_raw_markup(detail, "the detail page")
    assert "&lt;script&gt;" in detail  # the text is there, as text
    svg = detail[detail.index("<svg") : detail.index("</svg>")]
    assert "&lt;script&gt;alert" in svg and "<script" not in svg.replace("<svg", "")
    for page in ("/", "/?q=evil", "/mix", "/test", "/runs"):
        r = client.get(page)
        assert r.status_code == 200, page
        _no_raw_markup(r.text, page)
    assert "evil&lt;script&gt;" in client.get("/").text  # the card shows the name, escaped
