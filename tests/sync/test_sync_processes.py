"""pull, search and push as a user runs them: a fresh `hub` process, HF_HUB_OFFLINE unset, the loopback Hub.

In the test process diffusers has already imported huggingface_hub's submodules, which hid a crash
(``huggingface_hub.constants`` read as an attribute before anything loaded it). A new process has
only what ``hub`` itself imports, so these tests see what a user sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sync_fixtures import hub_process, write_low_rank_lokr

from hub.errors import NotFoundError
from hub.sync.model_card import DIFFUSERS_WEIGHT_NAME, parse_card, split_card
from hub.testing import write_lora

# A repo as someone else publishes it: a kohya file named as they like and a README with a few lines of YAML.
THEIR_CARD = b"---\nlicense: creativeml-openrail-m\ntags:\n- lora\n- pixel art\n---\n# Cat LoRA\n\nCats, pixelated.\n"


@pytest.fixture
def their_repo(fake_hub, tmp_path: Path) -> bytes:
    data = write_lora(tmp_path / "cat_lora_v1.safetensors", arch="tiny-sd1", seed=11).read_bytes()
    fake_hub.commit_files("someone/cat-lora", {"cat_lora_v1.safetensors": data, "README.md": THEIR_CARD})
    return data


def test_pull_in_a_fresh_process_from_a_repo_hub_push_did_not_write(their_repo, fake_hub, tmp_path):
    home = tmp_path / "home"
    r = hub_process(home, "pull", "someone/cat-lora", "--json")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    out = json.loads(r.stdout)
    assert out["repo"] == "someone/cat-lora" and out["commit"] == fake_hub.head("someone/cat-lora")
    assert [(f["path"], f["status"]) for f in out["files"]] == [("cat_lora_v1.safetensors", "added")]
    # the registry of that home has it, with what the card said
    show = hub_process(home, "show", out["files"][0]["adapter"]["id"], "--json")
    assert show.returncode == 0, show.stderr
    detail = json.loads(show.stdout)
    assert detail["license"] == "creativeml-openrail-m" and "pixel art" in detail["tags"]
    assert Path(detail["path"]).read_bytes() == their_repo
    assert any(r.path.endswith("/cat_lora_v1.safetensors") and r.method == "GET" for r in fake_hub.requests)


def test_search_in_a_fresh_process(their_repo, fake_hub, tmp_path):
    card = b"---\nlicense: openrail++\nbase_model: stabilityai/stable-diffusion-xl-base-1.0\ntags: [lora]\n---\n"
    fake_hub.commit_files("artist/pixel-art-xl", {"README.md": card, "pixel-art-xl.safetensors": their_repo})
    r = hub_process(tmp_path / "home", "search", "pixel art", "--json")  # the README's example, as written
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert [(m["id"], m["arch"]) for m in found] == [("artist/pixel-art-xl", "sdxl")]
    r = hub_process(tmp_path / "home", "search", "cat")
    assert r.returncode == 0, r.stderr
    assert "someone/cat-lora" in r.stdout and "Traceback" not in r.stderr


def test_pull_of_a_missing_repo_in_a_fresh_process_is_one_line(fake_hub, tmp_path):
    r = hub_process(tmp_path / "home", "pull", "someone/no-such-lora")
    assert r.returncode == NotFoundError.exit_code, r.stderr
    assert r.stderr.splitlines()[0].startswith("error: repository someone/no-such-lora not found")
    assert "Traceback" not in r.stderr


def test_push_in_a_fresh_process_keeps_every_dot_of_the_name_and_writes_the_hubs_licence_id(
    fake_hub, write_token, tmp_path
):
    """Issue 8: A1111, ComfyUI and Civitai name a LoRA by its whole stem, dots included, so push's file name and
    card must too; a licence written as free text ("CreativeML Open RAIL-M", as modelspec.license holds it) goes
    to the card as the Hub's identifier (the loopback Hub refuses any other, as the Hub does)."""
    home = tmp_path / "home"
    # an SD1 adapter (its text encoder only, to stay small): its card has the A1111 line naming the file's stem
    src = write_lora(tmp_path / "my-style-v1.5.safetensors", arch="sd1", seed=12, components=["text_encoder"],
                     metadata={"modelspec.license": "CreativeML Open RAIL-M"})  # fmt: skip
    assert hub_process(home, "add", str(src)).returncode == 0
    r = hub_process(home, "push", "my-style-v1.5", "--repo", "alice/my-style", "--json")
    assert r.returncode == 0, r.stderr
    files = fake_hub.repos["alice/my-style"].resolve("main").files
    assert "my-style-v1.5.safetensors" in files, sorted(files)
    card = fake_hub.file_bytes("alice/my-style", "README.md").decode()
    assert split_card(card)[0]["license"] == "creativeml-openrail-m"
    assert "<lora:my-style-v1.5:0.8>" in card


def test_push_of_a_lokr_in_a_fresh_process_sizes_its_diffusers_copy_and_says_how(fake_hub, write_token, tmp_path):
    """Issue 8: the diffusers copy of a LyCORIS LoKr is expanded at a rank chosen by kept energy, within 8x the
    file, and the card says how it was made (before, a 648 KB LoKr uploaded a 77.5 MB copy without a word)."""
    home = tmp_path / "home"
    src = write_low_rank_lokr(tmp_path / "small.safetensors")
    assert hub_process(home, "add", str(src), "--name", "small-lokr").returncode == 0
    r = hub_process(home, "push", "small-lokr", "--json")
    assert r.returncode == 0, r.stderr
    copy = fake_hub.file_bytes("alice/small-lokr", DIFFUSERS_WEIGHT_NAME)
    assert len(copy) <= 8 * src.stat().st_size
    note = parse_card(fake_hub.file_bytes("alice/small-lokr", "README.md").decode()).diffusers_note
    assert note and note.startswith("expanded to LoRA rank <= 1 keeping 100.00% of the Frobenius norm"), note
