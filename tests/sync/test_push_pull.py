"""push / pull / search with the real huggingface_hub client against the loopback fake Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sync_fixtures import make_adapter, png_bytes, sha256_hex
from typer.testing import CliRunner

from hub.errors import UsageError
from hub.models import AdapterDetail
from hub.registry import api as library
from hub.sync import api as sync
from hub.sync.model_card import DIFFUSERS_WEIGHT_NAME, parse_card, split_card
from hub.testing import write_lora


@pytest.fixture
def adapter(tmp_path: Path, fake_hub: object) -> AdapterDetail:
    return make_adapter(tmp_path / "src")


def test_push_creates_one_commit_with_kohya_diffusers_card_and_images(adapter, fake_hub, write_token):
    result = sync.push("cat-style")
    assert result.status == "created"
    assert result.repo == "alice/cat-style"  # the token's user + the adapter name
    repo = fake_hub.repos["alice/cat-style"]
    files = sorted(repo.resolve("main").files)
    # the kohya file and, beside it, a diffusers copy: the tiny base's packaged module table places its names
    assert files == [".gitattributes", "README.md", "cat-style.safetensors", "images/cat-style-1.png",
                     "pytorch_lora_weights.safetensors"]  # fmt: skip
    assert not result.warnings, result.warnings
    assert fake_hub.commits("alice/cat-style") == ["Upload cat-style with sd-lora-hub", "initial commit"]
    assert result.commit == fake_hub.head("alice/cat-style")
    # the kohya file is the adapter itself, byte for byte
    assert sha256_hex(fake_hub.file_bytes("alice/cat-style", "cat-style.safetensors")) == adapter.sha256
    # the protocol the real Hub expects: card validated, LFS batch, PUT without the token
    paths = fake_hub.paths_requested()
    assert "POST /api/validate-yaml" in paths and "POST /alice/cat-style.git/info/lfs/objects/batch" in paths
    puts = [r for r in fake_hub.requests if r.method == "PUT"]
    assert len(puts) == 3 and not any(r.authorized for r in puts)
    # the registry remembers where it went
    remotes = library.resolve("cat-style").remotes
    assert [(r.repo, r.revision, r.commit, r.direction) for r in remotes] == [
        ("alice/cat-style", "main", result.commit, "push")
    ]


def test_push_again_unchanged_makes_no_commit(adapter, fake_hub, write_token):
    first = sync.push("cat-style")
    fake_hub.requests.clear()
    again = sync.push("cat-style")
    assert again.status == "unchanged" and again.commit == first.commit and again.uploaded == []
    assert fake_hub.commits("alice/cat-style") == ["Upload cat-style with sd-lora-hub", "initial commit"]
    assert not [r for r in fake_hub.requests if r.path.endswith("/commit/main") or r.method == "PUT"]


def test_changed_card_updates_only_the_card(adapter, fake_hub, write_token):
    sync.push("cat-style")
    weights_before = fake_hub.file_bytes("alice/cat-style", "cat-style.safetensors")
    library.tag("cat-style", ["+watercolor"])
    result = sync.push("cat-style", message="add a tag")
    assert result.status == "updated" and result.uploaded == ["README.md"]
    assert fake_hub.commits("alice/cat-style")[0] == "add a tag"
    assert "watercolor" in parse_card(fake_hub.file_bytes("alice/cat-style", "README.md").decode()).tags
    assert fake_hub.file_bytes("alice/cat-style", "cat-style.safetensors") == weights_before


def test_push_then_pull_on_a_fresh_home_gives_the_same_bytes_and_metadata(
    adapter, fake_hub, write_token, tmp_path, monkeypatch
):
    pushed = sync.push("cat-style")
    original = library.resolve("cat-style")
    monkeypatch.setenv("LORAHUB_HOME", str(tmp_path / "another-home"))
    monkeypatch.delenv("HF_TOKEN")  # a public repo needs no token to pull
    assert library.ls() == []

    pulled = sync.pull("alice/cat-style")
    assert pulled.commit == pushed.commit and [f.path for f in pulled.files] == ["cat-style.safetensors"]
    got = library.resolve("cat-style")
    assert Path(got.path).read_bytes() == Path(original.path).read_bytes()
    for field in (
        "name",
        "sha256",
        "kind",
        "format",
        "arch",
        "rank",
        "alpha",
        "triggers",
        "tags",
        "base_label",
        "description",
    ):
        assert getattr(got, field) == getattr(original, field), field
    assert got.source == f"hf://alice/cat-style@{pushed.commit}/cat-style.safetensors"
    assert [(p.operation, p.parent_ref) for p in got.parents] == [("pulled-from", got.source)]
    assert [(r.repo, r.commit, r.path, r.direction) for r in got.remotes] == [
        ("alice/cat-style", pushed.commit, "cat-style.safetensors", "pull")
    ]
    assert len(got.previews) == 1 and Path(got.previews[0].path).read_bytes() == png_bytes((200, 40, 40))

    fake_hub.requests.clear()
    again = sync.pull("alice/cat-style")
    assert [f.status for f in again.files] == ["unchanged"]
    assert not [r for r in fake_hub.requests if "/resolve/" in r.path and r.path.endswith(".safetensors")]
    assert len(library.ls()) == 1


def test_the_card_validates_and_reads_back_with_huggingface_hub(tmp_path, fake_hub, write_token):
    from huggingface_hub import ModelCard

    make_adapter(tmp_path / "src", "ink-sd15", arch="sd1", seed=5)
    sync.push("ink-sd15")
    assert DIFFUSERS_WEIGHT_NAME in fake_hub.repos["alice/ink-sd15"].resolve("main").files  # the packaged SD1 table
    text = fake_hub.file_bytes("alice/ink-sd15", "README.md").decode()
    card = ModelCard(text)
    card.validate()  # POSTs to /api/validate-yaml of the loopback endpoint
    data = card.data.to_dict()
    assert data["base_model"] == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert data["library_name"] == "diffusers" and data["license"] == "creativeml-openrail-m"
    assert data["instance_prompt"] == "c4t style, ink"
    assert {"text-to-image", "diffusers", "lora", "template:sd-lora", "stable-diffusion", "cats"} <= set(data["tags"])
    assert data["widget"] == [{"text": "c4t style, ink", "output": {"url": "images/ink-sd15-1.png"}}]
    assert "<lora:ink-sd15:0.8>" in card.text and 'load_lora_weights("alice/ink-sd15"' in card.text
    assert ModelCard.load("alice/ink-sd15").data.to_dict() == data
    info = __import__("huggingface_hub").HfApi().model_info("alice/ink-sd15")
    assert info.card_data is not None and info.card_data.to_dict()["base_model"] == data["base_model"]


def test_load_lora_weights_finds_the_adapter_without_a_weight_name(adapter, fake_hub, write_token):
    import torch
    from diffusers import StableDiffusionPipeline

    from hub.testing import tiny_pipeline_dir

    sync.push("cat-style")
    pipe = StableDiffusionPipeline.from_pretrained(tiny_pipeline_dir("sd1"))
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items() if "attn2.to_k" in k}
    pipe.load_lora_weights("alice/cat-style", adapter_name="cat")  # no weight_name: diffusers picks it
    assert pipe.get_list_adapters() == {"unet": ["cat"], "text_encoder": ["cat"]}
    pipe.fuse_lora()
    pipe.unload_lora_weights()  # fused deltas stay; module names are plain again
    after = {k: v for k, v in pipe.unet.state_dict().items() if k in before}
    assert any(not torch.equal(before[k], after[k]) for k in before)
    got = [r.path for r in fake_hub.requests if "/resolve/" in r.path]
    assert any(p.endswith(f"/{DIFFUSERS_WEIGHT_NAME}") for p in got)  # the diffusers copy, by the name it looks for


def test_pull_pins_branch_and_commit(adapter, fake_hub, write_token):
    first = sync.push("cat-style")
    dev = sync.push("cat-style", branch="dev")
    assert dev.revision == "dev" and "dev" in fake_hub.repos["alice/cat-style"].branches
    by_commit = sync.pull(f"alice/cat-style@{first.commit}")
    assert by_commit.commit == first.commit and by_commit.revision == first.commit
    by_branch = sync.pull("alice/cat-style@dev")
    assert by_branch.commit == fake_hub.head("alice/cat-style", "dev")


def test_several_weight_files_ask_for_one_or_all(tmp_path, fake_hub):
    a = write_lora(tmp_path / "a.safetensors", seed=1).read_bytes()
    b = write_lora(tmp_path / "b.safetensors", seed=2).read_bytes()
    card = "---\nbase_model: some/base\ninstance_prompt: sks dog\ntags: [lora, dogs]\nlicense: mit\n---\n# Dogs\n"
    fake_hub.commit_files("bob/dogs", {"a.safetensors": a, "b.safetensors": b, "README.md": card.encode()})
    with pytest.raises(UsageError, match=r"2 weight files: a.safetensors, b.safetensors") as e:
        sync.pull("bob/dogs")
    assert "--all" in (e.value.hint or "")
    one = sync.pull("bob/dogs:b.safetensors")
    assert one.files[0].sha256 == sha256_hex(b) and one.adapter.triggers[0] == "sks dog"
    detail = library.resolve(one.adapter.id)
    assert detail.base_label == "some/base" and "dogs" in detail.tags and "lora" not in detail.tags
    both = sync.pull("bob/dogs", all_files=True)
    assert [(f.path, f.status) for f in both.files] == [("a.safetensors", "added"), ("b.safetensors", "unchanged")]


def test_push_all_to_an_organisation(tmp_path, fake_hub, write_token):
    make_adapter(tmp_path / "one", "one", seed=1, tags=["team"])
    make_adapter(tmp_path / "two", "two", seed=2, tags=["team"])
    make_adapter(tmp_path / "three", "three", seed=4, tags=["private"])
    results = sync.push_all(org="team", tag="team")
    assert sorted((r.repo, r.status) for r in results) == [("team/one", "created"), ("team/two", "created")]
    assert "team/three" not in fake_hub.repos


def test_search_lists_lora_repos(tmp_path, fake_hub, write_token):
    make_adapter(tmp_path / "a", "ink-cats", arch="sd1", seed=1)
    sync.push("ink-cats")
    fake_hub.commit_files("bob/not-a-lora", {"README.md": b"---\ntags: [text-generation]\n---\n"})
    found = sync.search("ink")
    assert [m.id for m in found] == ["alice/ink-cats"]
    assert found[0].arch == "sd1" and found[0].trigger == "c4t style, ink"
    assert sync.search("ink", arch="sdxl") == []
    assert sync.search("not-a-lora") == []


def test_cli_push_pull_search(adapter, fake_hub, write_token):
    import typer

    from cli.commands.sync import register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    r = runner.invoke(app, ["push", "cat-style", "--repo", "team/cats", "--private", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["status"] == "created" and out["repo"] == "team/cats" and fake_hub.repos["team/cats"].private
    r = runner.invoke(app, ["push", "cat-style", "--repo", "team/cats"])
    assert r.exit_code == 0 and "nothing changed, no new commit" in r.output
    r = runner.invoke(app, ["pull", "team/cats", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["files"][0]["status"] == "already-registered"
    r = runner.invoke(app, ["search", "cats"])
    assert r.exit_code == 0 and "team/cats" in r.stdout


def test_a_diffusers_adapter_is_pushed_as_itself_plus_a_kohya_copy_and_a_repush_is_a_no_op(
    tmp_path, fake_hub, write_token
):
    from hub.formats.probe import probe_file

    src = write_lora(tmp_path / "peft-cats.safetensors", style="diffusers", seed=7)
    library.add_one(src, name="peft-cats", triggers=["pc"])
    first = sync.push("peft-cats")
    assert first.status == "created" and first.primary == "peft-cats.safetensors"
    assert fake_hub.file_bytes("alice/peft-cats", "peft-cats.safetensors") == src.read_bytes()
    assert fake_hub.file_bytes("alice/peft-cats", DIFFUSERS_WEIGHT_NAME) == src.read_bytes()
    kohya = tmp_path / "pushed-kohya.safetensors"
    kohya.write_bytes(fake_hub.file_bytes("alice/peft-cats", "kohya/peft-cats.safetensors"))
    assert probe_file(kohya).format == "kohya"
    # a conversion is not byte-stable (safetensors writes metadata in hash order): "unchanged" must not depend on it,
    # so nothing is converted again when the card's SHA256s are those of the repo's files
    steps: list[str] = []
    assert sync.push("peft-cats", on_step=steps.append).status == "unchanged"
    assert not [s for s in steps if s.startswith("preparing")], steps
    pulled = sync.pull("alice/peft-cats")  # the card names the original as the one to register
    assert [f.path for f in pulled.files] == ["peft-cats.safetensors"]
    assert pulled.files[0].sha256 == sha256_hex(src.read_bytes())


def test_the_licence_travels_with_the_card(tmp_path, fake_hub, write_token, monkeypatch):
    make_adapter(tmp_path / "src", "mit-style", license="mit")
    sync.push("mit-style")
    assert parse_card(fake_hub.file_bytes("alice/mit-style", "README.md").decode()).license == "mit"
    monkeypatch.setenv("LORAHUB_HOME", str(tmp_path / "another-home"))
    sync.pull("alice/mit-style")
    assert library.resolve("mit-style").license == "mit"


def test_a_free_text_licence_is_pushed_as_the_hubs_identifier(tmp_path, fake_hub, write_token):
    from huggingface_hub import ModelCard

    make_adapter(tmp_path / "src", "rail-style", license="CreativeML Open RAIL-M")  # as modelspec.license says it
    sync.push("rail-style")
    text = fake_hub.file_bytes("alice/rail-style", "README.md").decode()
    assert split_card(text)[0]["license"] == "creativeml-openrail-m"
    ModelCard(text).validate()  # the loopback Hub checks the licence against the Hub's list
    make_adapter(tmp_path / "src2", "faipl-style", seed=9, license="Fair AI Public License 1.0-SD")
    sync.push("faipl-style")
    data = split_card(fake_hub.file_bytes("alice/faipl-style", "README.md").decode())[0]
    assert (data["license"], data["license_name"]) == ("other", "fair-ai-public-license-1.0-sd")
    assert data["license_link"] == "https://freedevproject.org/faipl-1.0-sd/"


@pytest.mark.parametrize(
    "bad",
    [
        "license: CreativeML Open RAIL-M",
        "license: other",  # without license_name
        "license: mit\nlicense_name: mit-ish",  # license_name only goes with other
        "tags: lora",
        "tags: [lora, 3]",
        "base_model: {id: a/b}",
        "base_model: not a model id",
        "base_model_relation: child",
        "widget: a picture",
    ],
)
def test_the_loopback_hub_refuses_card_metadata_the_hub_refuses(fake_hub, bad):
    import httpx2

    # posted as written: ModelCard.validate() would first re-serialise (a string of tags becomes a list)
    r = httpx2.post(f"{fake_hub.endpoint}/api/validate-yaml", json={"content": f"---\n{bad}\n---\n# x\n"})
    assert r.status_code == 400 and len(r.json()["errors"]) == 1, r.json()


def test_the_loopback_hub_accepts_documented_metadata_and_checks_commits_too(fake_hub, write_token):
    import base64

    import httpx2
    from huggingface_hub import ModelCard

    ModelCard(
        "---\nlicense: other\nlicense_name: yi-license\nlicense_link: LICENSE\nbase_model: [a/b, c/d]\n"
        "base_model_relation: merge\ntags: [x]\nlanguage: en\nwidget:\n- text: hi\n---\n# ok\n"
    ).validate()
    fake_hub.create_repo("alice/raw")
    bad = base64.b64encode(b"---\nlicense: CreativeML Open RAIL-M\n---\n# x\n").decode()
    lines = [
        {"key": "header", "value": {"summary": "a commit that skipped validate-yaml"}},
        {"key": "file", "value": {"path": "README.md", "content": bad, "encoding": "base64"}},
    ]
    r = httpx2.post(
        f"{fake_hub.endpoint}/api/models/alice/raw/commit/main",
        content="\n".join(json.dumps(x) for x in lines),
        headers={"Authorization": f"Bearer {write_token}", "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 400 and "license" in r.headers["X-Error-Message"]
    assert fake_hub.commits("alice/raw") == ["initial commit"]
