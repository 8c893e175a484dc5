"""The gallery and its JSON mirror: cards, full-text search, filters, sorts and pages live in the URL; errors
read the same on the page and in the API; thumbnails are made once."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from web_helpers import token

import hub
import hub.registry.db as db
from hub.settings import load_settings
from hub.testing import fill_registry


def _names(client, query: str) -> list[str]:
    r = client.get("/api/adapters" + query)
    assert r.status_code == 200, r.text
    return [i["adapter"]["name"] for i in r.json()["items"]]


def test_cards_show_preview_name_arch_kind_rank_triggers_tags_source(client, library) -> None:
    html = client.get("/").text
    a = library["anime_eyes"]
    card = html[html.index(f'href="/a/{a.id}"') :]
    card = card[: card.index("</li>")]
    assert f'src="/thumb/{a.id}/0"' in card
    for text in ("anime_eyes", a.arch, "lora", "r4", "big eyes", "#anime", "local"):
        assert text in card, text
    # no preview: a placeholder instead of a broken image
    plain = html[html.index(f'href="/a/{library["plain"].id}"') :]
    assert "placeholder" in plain[: plain.index("</li>")]


def test_search_filters_and_sort_come_from_the_url(client, library) -> None:
    assert _names(client, "?q=anime") == ["anime_eyes"]
    assert _names(client, "?q=eyes") == ["anime_eyes"]  # a trigger word, through the full-text index
    assert _names(client, "?tag=style") == ["pixel_style"]
    assert _names(client, "?sort=rank")[0] == "pixel_style"
    assert _names(client, "?source=mixed") == []
    assert _names(client, "?source=local") == sorted(library, key=str.lower)
    assert _names(client, "?per_page=1&page=2") == [sorted(library, key=str.lower)[1]]
    # the same search as a page, server-rendered: no JavaScript needed
    html = client.get("/?q=anime&sort=name").text
    assert "1 adapter" in html and "anime_eyes" in html and "pixel_style" not in html
    assert '<option value="name" selected>' in html


def test_bad_parameters_read_the_same_on_the_page_and_in_the_api(client) -> None:
    for query, status, text in (
        ("?sort=colour", 400, "unknown sort 'colour'"),
        ("?page=zero", 400, "page must be a whole number"),
        ("?per_page=100000", 400, "per_page must be between"),
        ("?source=ftp", 400, "unknown source 'ftp'"),
        ("?page=9", 404, "page 9 is past the last page (1)"),
    ):
        api = client.get("/api/adapters" + query)
        assert api.status_code == status and text in api.json()["error"], query
        page = client.get("/" + query)
        assert page.status_code == status and escape(text) in page.text and 'role="alert"' in page.text
    missing = client.get("/api/adapters/0123456789")
    assert missing.status_code == 404 and missing.json()["error"] == "no adapter with id '0123456789'"


def test_thumbnails_are_made_once_and_cached_under_the_home(client, library) -> None:
    a = library["anime_eyes"]
    thumbs = load_settings().paths.cache / "thumbs"
    r = client.get(f"/thumb/{a.id}/0")
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    made = list(thumbs.rglob("*.webp"))
    assert len(made) == 1
    stamp = made[0].stat().st_mtime_ns
    assert client.get(f"/thumb/{a.id}/0").content == r.content
    assert made[0].stat().st_mtime_ns == stamp  # served from the cache, not redrawn


def test_the_empty_registry_says_what_to_do(lorahub_home) -> None:
    from starlette.testclient import TestClient

    from hub.web.api import create_app

    with TestClient(create_app(), base_url="http://127.0.0.1:7860") as c:
        html = c.get("/").text
    assert "The registry is empty" in html and "hub add" in html


@pytest.mark.slow
def test_the_gallery_pages_ten_thousand_entries(lorahub_home) -> None:
    # their speed: benchmarks/bench_web.py
    from starlette.testclient import TestClient

    from hub.web.api import create_app

    fill_registry(lorahub_home, 10_000)
    with TestClient(create_app(), base_url="http://127.0.0.1:7860") as c:
        c.get("/")  # templates compiled, registry opened once
        for query in (
            "/",
            "/?q=anime",
            "/?arch=sdxl&sort=rank&page=40",
            "/?tag=t7&source=hf",
            "/api/adapters?q=pixel",
        ):
            r = c.get(query)
            assert r.status_code == 200, query
        html = c.get("/?arch=sdxl&sort=rank&page=40").text
    assert "3,333 adapters" in html or "3,334 adapters" in html
    assert len(re.findall(r'class="card"', html)) == 48
    assert hub.ls(limit=1)


def test_a_locked_registry_is_a_readable_503(client, library, monkeypatch) -> None:
    csrf = token(client)
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 100)  # wait 0.1 s for the lock, not 30 s
    with db.Registry.open(load_settings().paths.registry_db) as holder:
        holder.conn.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
        try:
            r = client.post(
                f"/api/adapters/{library['plain'].id}/tags", json={"tags": ["x"]}, headers={"X-CSRF-Token": csrf}
            )
        finally:
            holder.conn.execute("ROLLBACK")
    assert r.status_code == 503 and r.json()["error"] == "registry: database is locked"
    assert "another hub process" in r.json()["hint"]
