"""Issue 15, "nothing lost": `hub push` then `hub pull` is the identity. The repo's primary file is the file the user
registered, byte for byte, whatever its format, with its SHA256 in the card's YAML; conversions are extra files the
card names; a teammate's pull registers those same bytes (same SHA256 and AutoV2), with the lineage and metadata.
Run as users run it: fresh `hub` processes, two homes with their own Hugging Face caches, the loopback Hub.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from hub_process import hub
from sync_fixtures import png_bytes, sha256_hex

from hub.formats.probe import probe_file
from hub.sync.model_card import DIFFUSERS_WEIGHT_NAME, split_card
from hub.testing import write_lora


def _json(r: subprocess.CompletedProcess[str]) -> Any:
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout)


def _format_of(data: bytes, tmp: Path, name: str) -> str:
    path = tmp / name
    path.write_bytes(data)
    return probe_file(path).format


def test_push_then_pull_in_fresh_processes_registers_the_pushers_bytes_kohya_and_diffusers(
    fake_hub, write_token, tmp_path
):
    home_a, home_b = tmp_path / "home-a", tmp_path / "home-b"
    meta = {"modelspec.trigger_phrase": "inkk", "modelspec.license": "CreativeML Open RAIL-M"}
    src = write_lora(tmp_path / "ink.v1.5.safetensors", arch="sd1", seed=21, metadata=meta)
    src.with_suffix(".png").write_bytes(png_bytes((10, 120, 200)))  # an A1111 preview sidecar
    _json(hub(home_a, "add", str(src), "-t", "cats", "--json"))
    # a diffusers-format LoRA with lineage: what `hub convert` registers (converted-from ink.v1.5)
    diffusers = _json(hub(home_a, "convert", "ink.v1.5", "--to", "diffusers", "--json"))["adapter"]
    assert diffusers["format"].startswith("diffusers")
    names = ["ink.v1.5", diffusers["name"]]
    mine = {n: _json(hub(home_a, "show", n, "--json")) for n in names}
    pushed = {n: _json(hub(home_a, "push", n, "--json")) for n in names}

    # -- the repos: the original under the adapter's name, conversions as named extras, the card says which is which
    kohya_repo, diffusers_repo = (pushed[n]["repo"] for n in names)
    kohya_files = set(fake_hub.repos[kohya_repo].resolve("main").files)
    assert kohya_files == {".gitattributes", "README.md", "ink.v1.5.safetensors", DIFFUSERS_WEIGHT_NAME,
                           "images/ink.v1.5-1.png"}  # fmt: skip
    assert fake_hub.file_bytes(kohya_repo, "ink.v1.5.safetensors") == src.read_bytes()
    assert _format_of(fake_hub.file_bytes(kohya_repo, DIFFUSERS_WEIGHT_NAME), tmp_path, "a.safetensors") == (
        "diffusers-peft"
    )
    stem = diffusers["name"]
    diffusers_files = set(fake_hub.repos[diffusers_repo].resolve("main").files)
    assert diffusers_files == {".gitattributes", "README.md", f"{stem}.safetensors", f"kohya/{stem}.safetensors",
                               DIFFUSERS_WEIGHT_NAME}  # fmt: skip
    original = fake_hub.file_bytes(diffusers_repo, f"{stem}.safetensors")
    assert sha256_hex(original) == mine[stem]["sha256"]
    assert fake_hub.file_bytes(diffusers_repo, DIFFUSERS_WEIGHT_NAME) == original  # diffusers finds it by name
    kohya_copy = fake_hub.file_bytes(diffusers_repo, f"kohya/{stem}.safetensors")
    assert _format_of(kohya_copy, tmp_path, "b.safetensors") == "kohya"

    for name, repo in zip(names, (kohya_repo, diffusers_repo), strict=True):
        data, body = split_card(fake_hub.file_bytes(repo, "README.md").decode())
        block = data["sd_lora_hub"]
        primary = f"{name}.safetensors"
        assert block["primary"] == primary
        listed = {f["path"]: f for f in block["files"]}
        assert set(listed) == {p for p in fake_hub.repos[repo].resolve("main").files if p.endswith(".safetensors")}
        assert listed[primary]["role"] == "original" and listed[primary]["sha256"] == mine[name]["sha256"]
        assert listed[primary]["format"] == mine[name]["format"]
        for path, entry in listed.items():
            assert entry["sha256"] == sha256_hex(fake_hub.file_bytes(repo, path)), path
            assert f"`{path}`" in body  # the body's file table names every file too
        assert {f["role"] for f in listed.values()} == {"original", "kohya copy", "diffusers copy"} - (
            {"kohya copy"} if name == "ink.v1.5" else set()
        )

    # -- a teammate pulls into another home, with another Hugging Face cache
    cache_b = str(tmp_path / "hf-cache-b")
    for name, repo in zip(names, (kohya_repo, diffusers_repo), strict=True):
        pulled = _json(hub(home_b, "pull", repo, "--json", HF_HUB_CACHE=cache_b))
        assert [(f["path"], f["status"]) for f in pulled["files"]] == [(f"{name}.safetensors", "added")]
        theirs = _json(hub(home_b, "show", pulled["files"][0]["adapter"]["id"], "--json", HF_HUB_CACHE=cache_b))
        assert theirs["sha256"] == mine[name]["sha256"]
        assert theirs["hashes"]["autov2"] == mine[name]["hashes"]["autov2"]
        assert Path(theirs["path"]).read_bytes() == Path(mine[name]["path"]).read_bytes()
        for field in ("name", "format", "kind", "arch", "rank", "alpha", "triggers", "tags", "base_label"):
            assert theirs[field] == mine[name][field], field
        # the adapter's licence as written; one with none gets the base's, which its card declares (docs/sync.md)
        assert theirs["license"] == (mine[name]["license"] or "creativeml-openrail-m")
        source = f"hf://{repo}@{pushed[name]['commit']}/{name}.safetensors"
        assert theirs["source"] == source
        edges = [(e["operation"], e["parent_ref"]) for e in theirs["parents"]]
        assert edges == [("pulled-from", source)] + [(e["operation"], e["parent_ref"]) for e in mine[name]["parents"]]
    assert [e["operation"] for e in mine[stem]["parents"]] == ["converted-from"]  # so that the lineage check counts
