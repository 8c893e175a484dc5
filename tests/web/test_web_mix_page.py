"""The mix builder: a form post queues the composition engine; the job page lands on the new entry."""

from __future__ import annotations

from markupsafe import escape
from web_helpers import token

import hub


def test_mix_from_the_form_lands_on_the_new_entry(client, library) -> None:
    csrf = token(client)
    assert "anime_eyes" in client.get("/mix?a=anime_eyes").text  # prefilled from the detail page's button
    form = {
        "csrf_token": csrf,
        "adapter": ["anime_eyes", "pixel_style", ""],
        "weight": ["0.8", "-0.3", "1"],
        "method": "svd",
        "rank": "4",
        "name": "web-mix",
    }
    r = client.post("/mix", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job_id = r.headers["location"].rsplit("/", 1)[1]
    job = client.app.state.jobs.wait(job_id, timeout=120)
    assert job.status == "done", job.error
    landed = client.get(f"/jobs/{job_id}", follow_redirects=False)
    new = hub.show("web-mix")
    assert landed.status_code == 303 and landed.headers["location"] == f"/a/{new.id}"
    assert new.rank == 4 and new.source == "mixed:svd"
    assert sorted((e.parent_ref, e.params["weight"]) for e in new.parents) == [
        ("anime_eyes", 0.8),
        ("pixel_style", -0.3),
    ]
    page = client.get(f"/a/{new.id}").text
    assert "mixed-from · -0.3 (svd)" in page


def test_a_bad_mix_is_refused_on_the_form_and_queues_nothing(client, library) -> None:
    csrf = token(client)
    cases = (
        ({"adapter": ["nope"], "weight": ["1"]}, 404, "no adapter 'nope' in the registry"),
        ({"adapter": ["anime_eyes"], "weight": ["heavy"]}, 400, "weight 'heavy' is not a number"),
        ({"adapter": [""], "weight": ["1"]}, 400, "pick at least one adapter"),
        ({"adapter": ["anime_eyes"], "weight": ["1"], "rank": "-3"}, 400, "rank must be at least 1"),
        ({"adapter": ["/etc/passwd"], "weight": ["1"]}, 404, "no adapter '/etc/passwd'"),
    )
    for fields, status, message in cases:
        r = client.post("/mix", data={"csrf_token": csrf, "method": "svd", **fields})
        assert r.status_code == status and str(escape(message)) in r.text, fields
        assert 'name="adapter"' in r.text  # the form comes back with what was typed
    assert client.app.state.jobs.jobs() == []
    api = client.post("/api/mix", json={"adapters": [["nope", 1]]}, headers={"X-CSRF-Token": csrf})
    assert api.status_code == 404 and api.json()["error"] == "no adapter 'nope' in the registry"
    for body in ({"adapters": "anime_eyes"}, {"adapters": [["anime_eyes"]]}, ["not", "an", "object"]):
        bad = client.post("/api/mix", json=body, headers={"X-CSRF-Token": csrf})
        assert bad.status_code == 400 and "[" in bad.json()["error"], body
    garbage = client.post("/api/mix", content=b"{not json", headers={"X-CSRF-Token": csrf})
    assert garbage.status_code == 400 and garbage.json()["error"].startswith("send a JSON object")


def test_mix_through_the_json_api(client, library) -> None:
    csrf = token(client)
    r = client.post(
        "/api/mix",
        json={"adapters": [["anime_eyes", 1.0], ["plain", 0.5]], "method": "concat", "name": "api-mix"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 202
    job = client.app.state.jobs.wait(r.json()["job"]["id"], timeout=120)
    assert job.status == "done" and job.redirect == f"/a/{hub.show('api-mix').id}"
    status = client.get(r.json()["url"]).json()
    assert status["status"] == "done" and status["result"]["adapter"]["name"] == "api-mix"
    assert hub.show("api-mix").rank == 8  # concat: ranks add up
