"""The test page on the tiny base: a queued generation whose PNGs carry their recipe, "make preview", the X/Y
grid, and refusals that leave nothing queued."""

from __future__ import annotations

from pathlib import Path

from markupsafe import escape
from PIL import Image
from web_helpers import token

import hub
from hub.settings import load_settings


def _run(client, form: dict) -> dict:
    r = client.post("/test", data={"csrf_token": token(client), **form}, follow_redirects=False)
    assert r.status_code == 303, r.text
    job_id = r.headers["location"].rsplit("/", 1)[1]
    job = client.app.state.jobs.wait(job_id, timeout=240)
    assert job.status == "done", (job.error, job.hint)
    return job.model_dump()


def test_generate_then_make_a_preview(client, library) -> None:
    form = {"prompt": "a red dog", "lora": ["anime_eyes", "pixel_style"], "weight": ["0.8", "0"], "seed": "7",
            "steps": "2", "base": "tiny"}  # fmt: skip
    job = _run(client, form)
    (image,) = job["result"]["images"]
    path = Path(image["path"])
    assert path.is_file() and path.is_relative_to(load_settings().paths.home / "outputs" / "web")
    assert image["seed"] == 7 and "<lora:anime_eyes:0.8>" in image["infotext"]
    with Image.open(path) as im:
        assert im.text["parameters"] == image["infotext"]  # the recipe is in the PNG
    page = client.get(f"/jobs/{job['id']}").text
    assert f'src="/jobs/{job["id"]}/image/0"' in page and "Make preview of anime_eyes" in page
    assert client.get(f"/jobs/{job['id']}/image/0").content == path.read_bytes()
    # the same seed again reuses the loaded pipeline and gives the same pixels
    again = _run(client, form)["result"]["images"][0]
    assert Path(again["path"]).read_bytes() != b"" and _pixels(again["path"]) == _pixels(path)
    r = client.post(f"/jobs/{job['id']}/image/0/preview", data={"csrf_token": token(client), "adapter": "plain"})
    assert r.status_code == 200 and "Saved preview" in r.text
    previews = hub.show("plain").previews
    assert len(previews) == 1 and Path(previews[0].path).read_bytes() == path.read_bytes()
    assert f'src="/thumb/{library["plain"].id}/0"' in client.get("/?q=plain").text  # the card shows it now


def test_an_xy_grid_from_the_test_page(client, library) -> None:
    form = {"prompt": "a dog", "lora": ["anime_eyes", "pixel_style"], "weight": ["1", "0.5"],
            "grid_weights": ["0,1", ""], "grid_seeds": "3", "grid": "1", "steps": "2", "base": "tiny"}  # fmt: skip
    job = _run(client, form)
    (image,) = job["result"]["images"]
    with Image.open(image["path"]) as im:
        assert im.width > 2 * 64 and "hub-grid" in im.text  # two cells, labelled; the recipe embedded
        assert "pixel_style" in im.text["hub-grid"]  # the LoRA without grid weights is in every cell


def test_bad_requests_are_refused_on_the_form(client, library) -> None:
    for form, status, message in (
        ({"prompt": ""}, 400, "write a prompt"),
        ({"prompt": "x", "lora": ["nope"], "weight": ["1"]}, 404, "no adapter 'nope'"),
        ({"prompt": "x", "steps": "1000"}, 400, "steps must be between 1 and 150"),
        ({"prompt": "x", "base": "/etc"}, 400, "takes a base by name"),
        ({"prompt": "x", "grid": "1", "lora": ["plain"], "weight": ["1"]}, 400, "grid needs weights"),
    ):
        r = client.post("/test", data={"csrf_token": token(client), **form})
        assert r.status_code == status and str(escape(message)) in r.text, form
    assert client.app.state.jobs.jobs() == []


def _pixels(path) -> bytes:
    with Image.open(path) as im:
        return im.convert("RGB").tobytes()


def test_generate_through_the_json_api(client, library) -> None:
    csrf = token(client)
    body = {"prompt": "a dog", "loras": [["pixel_style", 0.5]], "seed": 3, "steps": 1, "base": "tiny"}
    r = client.post("/api/generate", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 202
    job = client.app.state.jobs.wait(r.json()["job"]["id"], timeout=240)
    assert job.status == "done", job.error
    status = client.get(r.json()["url"]).json()
    assert (
        status["result"]["images"][0]["seed"] == 3
        and "<lora:pixel_style:0.5>" in status["result"]["images"][0]["infotext"]
    )
    bad = client.post("/api/generate", json={"prompt": "x", "loras": [["nope", 1]]}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 404 and bad.json()["error"] == "no adapter 'nope' in the registry"
