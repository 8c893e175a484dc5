"""Where push puts the original and its conversions, and how pull treats repos an older hub pushed (primary = the
kohya conversion) or a card that no longer matches the repo's files (issue 15, "nothing lost")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sync_fixtures import sha256_hex

from hub.errors import BadFileError
from hub.registry import api as library
from hub.sync import api as sync
from hub.sync.model_card import DIFFUSERS_WEIGHT_NAME, CardFile, CardSpec, build_card, parse_card
from hub.testing import write_lora


def _old_card(name: str, primary: str, source_sha256: str, files: dict[str, str]) -> bytes:
    """The card hub wrote before the front matter listed the files: the marker alone says what is where."""
    marker = {"name": name, "base_label": None, "primary": primary, "triggers": ["pc"], "tags": [], "lineage": [],
              "description": None, "license": None, "source_sha256": source_sha256, "files": files}  # fmt: skip
    return f"---\nlicense: mit\ntags:\n- lora\n---\n# {name}\n\n<!-- sd-lora-hub {json.dumps(marker)} -->\n".encode()


def test_a_repo_an_older_hub_pushed_pulls_the_original_and_a_new_push_puts_it_first(
    tmp_path, fake_hub, write_token, monkeypatch
):
    original = write_lora(tmp_path / "peft-cats.safetensors", style="diffusers", seed=7).read_bytes()
    conversion = write_lora(tmp_path / "converted.safetensors", seed=7).read_bytes()  # stands for the kohya copy
    sha = sha256_hex(original)
    files = {"peft-cats.safetensors": sha256_hex(conversion), DIFFUSERS_WEIGHT_NAME: sha}
    card = _old_card("peft-cats", "peft-cats.safetensors", sha, files)
    fake_hub.commit_files("alice/peft-cats", {"peft-cats.safetensors": conversion, DIFFUSERS_WEIGHT_NAME: original,
                                              "README.md": card})  # fmt: skip

    monkeypatch.setenv("LORAHUB_HOME", str(tmp_path / "teammate"))
    pulled = sync.pull("alice/peft-cats")
    assert [(f.path, f.sha256) for f in pulled.files] == [(DIFFUSERS_WEIGHT_NAME, sha)]
    assert pulled.adapter.name == "peft-cats" and pulled.adapter.triggers == ["pc"]

    monkeypatch.setenv("LORAHUB_HOME", str(tmp_path / "pusher"))
    library.add_one(tmp_path / "peft-cats.safetensors", name="peft-cats")
    pushed = sync.push("peft-cats")
    assert pushed.status == "updated"
    assert pushed.uploaded == ["README.md", "kohya/peft-cats.safetensors", "peft-cats.safetensors"]
    assert pushed.unchanged == [DIFFUSERS_WEIGHT_NAME]  # the same bytes as before: not uploaded again
    assert fake_hub.file_bytes("alice/peft-cats", "peft-cats.safetensors") == original
    new = parse_card(fake_hub.file_bytes("alice/peft-cats", "README.md").decode())
    assert new.original_file == "peft-cats.safetensors" and new.source_sha256 == sha


def test_pull_refuses_a_file_that_is_not_the_one_the_card_lists(tmp_path, fake_hub, write_token, monkeypatch):
    src = write_lora(tmp_path / "ink.safetensors", seed=3)
    library.add_one(src, name="ink")
    sync.push("ink")
    other = write_lora(tmp_path / "other.safetensors", seed=4)
    fake_hub.commit_files("alice/ink", {"ink.safetensors": other.read_bytes()})  # replaced, card left as it was
    monkeypatch.setenv("LORAHUB_HOME", str(tmp_path / "teammate"))
    with pytest.raises(BadFileError, match="not the one the model card lists"):
        sync.pull("alice/ink")
    assert library.ls() == []
    library.add_one(
        other, name="other"
    )  # already has those bytes: still no remote record from a card that disowns them
    with pytest.raises(BadFileError, match="not the one the model card lists"):
        sync.pull("alice/ink")
    assert library.resolve("other").remotes == []


def test_a_weight_file_stored_in_git_is_checked_against_the_card_after_download(tmp_path, fake_hub, monkeypatch):
    """No LFS SHA256 to compare before the download (the loopback Hub keeps .pth in git): the bytes are checked."""
    pushed = write_lora(tmp_path / "a.safetensors", seed=3).read_bytes()
    there = write_lora(tmp_path / "b.safetensors", seed=4).read_bytes()
    original = CardFile(path="ink.pth", role="original", format="kohya", sha256=sha256_hex(pushed))
    spec = CardSpec(name="ink", repo="alice/ink", arch="sd1", files=[original])
    fake_hub.commit_files("alice/ink", {"ink.pth": there, "README.md": build_card(spec).encode()})
    assert fake_hub.repos["alice/ink"].resolve("main").files["ink.pth"].sha256 is None  # in git, not LFS
    with pytest.raises(BadFileError, match="not the one the model card lists"):
        sync.pull("alice/ink")
    assert library.ls() == []


def test_push_refuses_a_file_changed_since_it_was_registered(tmp_path, fake_hub, write_token):
    src = write_lora(tmp_path / "ink.safetensors", seed=3)
    library.add_one(src, name="ink", in_place=True)
    src.write_bytes(write_lora(tmp_path / "other.safetensors", seed=4).read_bytes())
    with pytest.raises(BadFileError, match="changed since it was registered"):
        sync.push("ink")
    assert "alice/ink" not in fake_hub.repos  # refused before anything was created


def test_an_adapter_named_like_diffusers_weights_keeps_its_name(tmp_path, fake_hub, write_token, monkeypatch):
    """The original keeps the diffusers file name; a kohya original's diffusers copy then goes to a folder, and a
    diffusers original needs no copy at all."""
    name = DIFFUSERS_WEIGHT_NAME.removesuffix(".safetensors")
    kohya = write_lora(tmp_path / "k" / DIFFUSERS_WEIGHT_NAME, arch="sd1", seed=5)
    library.add_one(kohya, name=name)
    sync.push(name, repo="alice/kohya-named")
    files = {p for p in fake_hub.repos["alice/kohya-named"].resolve("main").files if p.endswith(".safetensors")}
    assert files == {DIFFUSERS_WEIGHT_NAME, f"diffusers/{DIFFUSERS_WEIGHT_NAME}"}
    assert fake_hub.file_bytes("alice/kohya-named", DIFFUSERS_WEIGHT_NAME) == kohya.read_bytes()

    monkeypatch.setenv("LORAHUB_HOME", str(tmp_path / "another-home"))
    peft = write_lora(tmp_path / "d" / DIFFUSERS_WEIGHT_NAME, style="diffusers", seed=6)
    library.add_one(peft, name=name)
    sync.push(name, repo="alice/diffusers-named")
    files = {p for p in fake_hub.repos["alice/diffusers-named"].resolve("main").files if p.endswith(".safetensors")}
    assert files == {DIFFUSERS_WEIGHT_NAME, f"kohya/{DIFFUSERS_WEIGHT_NAME}"}
    card = parse_card(fake_hub.file_bytes("alice/diffusers-named", "README.md").decode())
    assert [(f.path, f.role) for f in card.files] == [(DIFFUSERS_WEIGHT_NAME, "original"),
                                                       (f"kohya/{DIFFUSERS_WEIGHT_NAME}", "kohya copy")]  # fmt: skip
    assert Path(library.resolve(name).path).read_bytes() == peft.read_bytes()


def test_a_pickled_original_keeps_its_suffix(tmp_path, fake_hub, write_token, monkeypatch):
    """The store names blobs by hash alone: a .pt original must not be published as .safetensors."""
    import torch
    from safetensors.torch import load_file

    kohya = write_lora(tmp_path / "k.safetensors", arch="sd1", seed=8)
    pickled = tmp_path / "ink-pt.pt"
    torch.save(load_file(str(kohya)), pickled)
    library.add_one(pickled, name="ink-pt")
    result = sync.push("ink-pt")
    assert result.primary == "ink-pt.pt", result.warnings
    assert fake_hub.file_bytes("alice/ink-pt", "ink-pt.pt") == pickled.read_bytes()
    files = set(fake_hub.repos["alice/ink-pt"].resolve("main").files)
    assert files == {".gitattributes", "README.md", "ink-pt.pt", DIFFUSERS_WEIGHT_NAME}  # kohya already: no kohya copy
    monkeypatch.setenv("LORAHUB_HOME", str(tmp_path / "teammate"))
    pulled = sync.pull("alice/ink-pt")
    assert [(f.path, f.sha256) for f in pulled.files] == [("ink-pt.pt", sha256_hex(pickled.read_bytes()))]
