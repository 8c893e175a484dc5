"""Training runs as the trainer writes them (a run folder this test writes): list, live loss curve, samples,
the adapter link; and a run started from the browser, queued as a job that trains through hub.train."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from web_helpers import token

from hub.settings import load_settings


def write_run(run_id: str, status: str, steps: int, adapter_id: str | None = None) -> Path:
    folder = load_settings().paths.home / "runs" / run_id
    (folder / "samples").mkdir(parents=True)
    run = {
        "run_id": run_id,
        "status": status,
        "options": {"rank": 4, "steps": steps},
        "base": "tiny",
        "started_at": "2026-11-30T10:00:00+00:00",
        "finished_at": None,
        "total_steps": steps,
        "adapter_id": adapter_id,
        "error": None,
    }
    (folder / "run.json").write_text(json.dumps(run))
    lines = [json.dumps({"step": s, "loss": 0.5 / (1 + s), "lr": 1e-4, "seconds": 0.1}) for s in range(steps)]
    (folder / "log.jsonl").write_text("\n".join(lines) + '\n{"step": 99, "loss"')  # a line still being written
    for s in (10, 5):
        Image.new("RGB", (32, 32), (s * 20, 0, 0)).save(folder / "samples" / f"step-{s:06d}.png")
    return folder


def test_runs_list_detail_live_log_and_samples(client, library) -> None:
    write_run("run-a", "running", 12)
    write_run("run-b", "done", 3, adapter_id=library["plain"].id)
    html = client.get("/runs").text
    assert "run-a" in html and "running" in html and 'href="/a/' + library["plain"].id in html
    assert "2026-11-30 10:00 UTC" in html  # a time: two runs of one day tell apart
    page = client.get("/runs/run-a").text
    assert 'data-run-status="running"' in page and "<polyline" in page and "step 11" in page
    assert page.index("step-000005.png") < page.index("step-000010.png")  # samples by step
    live = client.get("/api/runs/run-a?after=9").json()
    assert [p["step"] for p in live["log"]] == [10, 11] and live["run"]["step"] == 11
    assert live["samples"] == ["step-000005.png", "step-000010.png"]
    assert client.get("/runs/run-a/loss.svg").headers["content-type"].startswith("image/svg+xml")
    assert client.get("/runs/run-a/samples/step-000010.png").status_code == 200
    for bad in ("/runs/run-a/samples/..%2Frun.json", "/runs/run-a/samples/run.json", "/runs/nope", "/runs/..%2F..%2F"):
        assert client.get(bad).status_code == 404, bad


def test_a_run_started_from_the_browser_is_a_job_through_the_library(client, library, tmp_path: Path) -> None:
    nowhere = {"images": str(tmp_path / "no-pictures"), "token": "sks", "class_word": "dog"}
    refused = client.post("/runs", data={"csrf_token": token(client), **nowhere})
    assert refused.status_code == 404 and "no such dataset folder" in refused.text  # on the form, nothing queued
    assert not (load_settings().paths.home / "runs").exists() and client.get("/api/jobs").json() == []
    missing = client.post("/runs", data={"csrf_token": token(client), "images": "x", "token": ""})
    assert missing.status_code == 400 and "--token" in missing.text and "--class-word" in missing.text

    pictures = tmp_path / "pictures"
    for i, colour in enumerate([(200, 40, 40), (40, 60, 200)]):
        pictures.mkdir(exist_ok=True)
        Image.new("RGB", (40, 40), colour).save(pictures / f"pic{i}.png")
    form = {"images": str(pictures), "token": "sks", "class_word": "dog", "preset": "cpu-tiny", "steps": "2",
            "resolution": "32", "name": "web-dog"}  # fmt: skip
    r = client.post("/runs", data={"csrf_token": token(client), **form}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job_id = r.headers["location"].rsplit("/", 1)[1]
    assert job_id in client.get("/jobs").text  # listed with the other jobs at once
    job = client.app.state.jobs.wait(job_id, timeout=600)
    assert job.status == "done", job.error
    run_id = job.redirect.rsplit("/", 1)[1]
    run = client.get(f"/api/runs/{run_id}").json()["run"]
    assert run["status"] == "done" and run["adapter_name"] == "web-dog" and run["step"] == 2
    assert run_id in client.get("/runs").text
    assert run["command"].startswith(f"hub train --images {pictures} --token sks --class-word dog")


def test_a_run_whose_process_is_gone_reads_as_failed(client, library) -> None:
    folder = write_run("run-c", "running", 2)
    info = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**info, "pid": 2**22 + 12345}))  # above Linux's pid_max default
    run = client.get("/api/runs/run-c").json()["run"]
    assert run["status"] == "failed" and "ended without finishing" in run["error"]
