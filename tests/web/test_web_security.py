"""The guard: foreign Host headers (DNS rebinding) and state changes without this session's token or from
another origin are refused, on every route; the right ones pass."""

from __future__ import annotations

import pytest
from web_helpers import ORIGIN, token

import hub


def test_a_foreign_host_header_is_refused_everywhere(client) -> None:
    for path in ("/", "/api/adapters", "/api/session", "/static/app.css"):
        r = client.get(path, headers={"Host": "evil.example:7860"})
        assert r.status_code == 403, path
        assert "not this server" in r.text
    assert client.get("/api/adapters", headers={"Host": "evil.example"}).json()["status"] == 403
    for host in ("127.0.0.1:7860", "localhost:7860", "localhost", "[::1]:7860"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host


def test_a_non_loopback_bind_answers_its_name_and_ip_literals_but_not_other_names(library) -> None:
    from starlette.testclient import TestClient

    from hub.web.api import create_app, host_warning

    assert host_warning("127.0.0.1") is None and host_warning("localhost") is None
    assert "other machines" in host_warning("0.0.0.0")
    app = create_app(host="192.168.1.20", port=7860)
    with TestClient(app, base_url="http://192.168.1.20:7860") as c:
        assert c.get("/").status_code == 200
        assert c.get("/", headers={"Host": "10.0.0.5:7860"}).status_code == 200  # an IP literal cannot be rebound
        assert c.get("/", headers={"Host": "attacker.example:7860"}).status_code == 403


def test_state_changes_need_this_sessions_token(client, library) -> None:
    adapter = library["plain"]
    url = f"/a/{adapter.id}/tags"
    # no token at all: refused, and nothing changed
    r = client.post(url, data={"tags": "pwned"})
    assert r.status_code == 403 and "CSRF" in r.text
    # a made-up token, or the token of another session: refused
    assert client.post(url, data={"tags": "pwned", "csrf_token": "0" * 40}).status_code == 403
    from starlette.testclient import TestClient

    with TestClient(client.app, base_url=ORIGIN) as other:
        foreign = token(other)
    assert client.post(url, data={"tags": "pwned", "csrf_token": foreign}).status_code == 403
    # JSON API without the header: refused
    assert client.post(f"/api/adapters/{adapter.id}/tags", json={"tags": ["pwned"]}).status_code == 403
    assert hub.show("plain").tags == []
    # this session's token, as a form field and as a header: accepted
    mine = token(client)
    r = client.post(url, data={"tags": "kept, Two", "csrf_token": mine}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/a/{adapter.id}?saved=tags"
    assert hub.show("plain").tags == ["kept", "two"]
    r = client.post(f"/api/adapters/{adapter.id}/tags", json={"tags": ["three"]}, headers={"X-CSRF-Token": mine})
    assert r.status_code == 200 and r.json()["tags"] == ["three"]


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Origin": "http://evil.example"}, "cross-origin"),
        ({"Origin": "http://127.0.0.1:9999"}, "cross-origin"),
        ({"Sec-Fetch-Site": "cross-site"}, "cross-site"),
    ],
)
def test_a_valid_token_from_another_origin_is_still_refused(client, library, headers, why) -> None:
    mine = token(client)
    r = client.post(f"/a/{library['plain'].id}/triggers", data={"triggers": "x", "csrf_token": mine}, headers=headers)
    assert r.status_code == 403 and why in r.text
    assert hub.show("plain").triggers == []
    ok = client.post(
        f"/a/{library['plain'].id}/triggers",
        data={"triggers": "x", "csrf_token": mine},
        headers={"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and hub.show("plain").triggers == ["x"]


def test_every_state_changing_route_is_guarded(client) -> None:
    """Whatever routes exist now or later: a POST without a token never reaches them."""
    from starlette.routing import Route

    posts = [r for r in client.app.routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert len(posts) >= 8
    for route in posts:
        path = route.path.replace("{adapter_id}", "x").replace("{job_id}", "x").replace("{index:int}", "0")
        r = client.post(path, data={"anything": "1"})
        assert r.status_code == 403, path


def test_files_are_served_by_registry_id_only(client, library) -> None:
    a = library["anime_eyes"]
    assert client.get(f"/preview/{a.id}/0").status_code == 200
    assert client.get(f"/preview/{a.id}/5").status_code == 404
    for probe in (
        "/preview/..%2F..%2Fetc%2Fpasswd/0",
        "/a/%2Fetc%2Fpasswd",
        "/runs/..%2F..%2Fetc/samples/passwd.png",
        "/static/..%2F..%2Fapi.py",
        "/a/anime_eyes",
    ):
        r = client.get(probe)
        assert r.status_code == 404, probe
        assert "root:" not in r.text
