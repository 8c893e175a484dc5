"""The detail page: readable metadata, Civitai hashes, lineage graph with weights, recipe, remotes, previews,
copy buttons, and the tag/trigger edit forms (through the browser's form post, token included)."""

from __future__ import annotations

from markupsafe import escape
from web_helpers import token

import hub
from hub.models import RemoteRef


def test_detail_page_shows_what_a_user_judges_an_adapter_by(client, library) -> None:
    a = hub.show("anime_eyes")
    html = client.get(f"/a/{a.id}").text
    assert "<h1" in html and "anime_eyes" in html
    # hashes as Civitai prints them: uppercase, AutoV2 = first 10 of SHA256
    assert a.hashes is not None
    for value in (
        a.hashes.sha256.upper(),
        a.hashes.sha256[:10].upper(),
        a.hashes.blake3.upper(),
        a.hashes.crc32.upper(),
    ):
        assert value in html
    # kohya's ss_* keys under plain labels, timestamps as dates
    assert "Rank (dim)" in html and "Network" in html and "networks.lora" in html
    # copy buttons for the prompt tag and the mix command; the triggers from the A1111 sidecar
    assert 'data-copy="&lt;lora:anime_eyes:1&gt;"' in html
    assert "hub mix anime_eyes:1" in html
    assert 'value="big eyes, anime"' in html
    assert f'src="/thumb/{a.id}/0"' in html and f'href="/preview/{a.id}/0"' in html
    # the JSON mirror is the registry's AdapterDetail
    doc = client.get(f"/api/adapters/{a.id}").json()
    assert doc["name"] == "anime_eyes" and doc["hashes"]["sha256"] == a.hashes.sha256


def test_lineage_graph_recipe_and_remotes(client, library) -> None:
    mixed = hub.mix([("anime_eyes", 0.7), ("pixel_style", 0.4)], method="svd", rank=4, name="eyes-pixel", device="cpu")
    hub.record_remote(
        mixed.adapter.id, RemoteRef(repo="me/eyes-pixel", revision="main", path="eyes-pixel.safetensors")
    )
    html = client.get(f"/a/{mixed.adapter.id}").text
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "anime_eyes" in svg and "pixel_style" in svg and "eyes-pixel" in svg
    assert "mixed-from · 0.7 (svd)" in svg and "mixed-from · 0.4 (svd)" in svg
    assert f'href="/a/{library["anime_eyes"].id}"' in svg  # parents are links to their pages
    assert str(escape(mixed.command)) in html and "Copy recipe" in html
    assert "/me/eyes-pixel/blob/main/eyes-pixel.safetensors" in html
    # and the parent shows its child
    parent = client.get(f"/a/{library['anime_eyes'].id}").text
    assert f'href="/a/{mixed.adapter.id}"' in parent[parent.index("<svg") :]


def test_editing_triggers_and_tags_through_the_forms(client, library) -> None:
    a = library["plain"]
    csrf = token(client)
    page = client.get(f"/a/{a.id}").text
    assert f'name="csrf_token" value="{csrf}"' in page  # the page carries the session's token
    r = client.post(
        f"/a/{a.id}/triggers", data={"triggers": "plainstyle,  two  words ,plainstyle", "csrf_token": csrf}
    )
    assert r.status_code == 200 and "Saved triggers" in r.text  # followed the 303 back to the page
    assert hub.show("plain").triggers == ["plainstyle", "two words"]
    client.post(f"/a/{a.id}/tags", data={"tags": "Retro, pixel\nart", "csrf_token": csrf})
    assert hub.show("plain").tags == ["art", "pixel", "retro"]
    # the full-text search sees the edit at once
    assert [i["adapter"]["name"] for i in client.get("/api/adapters?q=plainstyle").json()["items"]] == ["plain"]
    bad = client.post(
        f"/api/adapters/{a.id}/triggers", json={"triggers": "not a list"}, headers={"X-CSRF-Token": csrf}
    )
    assert bad.status_code == 400 and "send" in bad.json()["error"]
    long = client.post(f"/a/{a.id}/tags", data={"tags": "x" * 300, "csrf_token": csrf})
    assert long.status_code == 400 and "longer than 200" in long.text
    assert hub.show("plain").tags == ["art", "pixel", "retro"]  # a refused edit changes nothing
