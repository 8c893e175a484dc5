"""Every failure people hit with the Hub, each raised as one clear line (and never a half file in the store)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sync_fixtures import READ_TOKEN, WRITE_TOKEN, make_adapter, png_bytes, sha256_hex

from hub.errors import AuthError, BadFileError, ConflictError, NotFoundError, RemoteError, UsageError
from hub.registry import api as library
from hub.sync import api as sync
from hub.testing import write_lora

SECRET = "hf_thisIsASecretThatMustNeverBePrinted42"


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=full_env, timeout=120
    )


@pytest.fixture
def cat(tmp_path: Path, fake_hub: object) -> str:
    make_adapter(tmp_path / "src")
    return "cat-style"


def _store_files(home: Path) -> list[Path]:
    store = home / "store"
    return [p for p in store.rglob("*") if p.is_file()] if store.exists() else []


# -- tokens ---------------------------------------------------------------------------------------
def test_push_without_a_token_fails_before_any_request(cat, fake_hub):
    with pytest.raises(AuthError, match="no Hugging Face token") as e:
        sync.push(cat)
    assert "HF_TOKEN" in (e.value.hint or "")
    assert fake_hub.requests == []


def test_a_bad_token_is_refused_and_never_printed_or_stored(cat, fake_hub, monkeypatch, lorahub_home):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with pytest.raises(AuthError, match="401") as e:
        sync.push(cat, repo="alice/cats")
    assert SECRET not in str(e.value) and SECRET not in (e.value.hint or "")
    assert "HF_TOKEN wins over the token file" in (e.value.hint or "")
    r = run_cli("push", cat, "--repo", "alice/cats")
    assert r.returncode == AuthError.exit_code
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: the Hub rejected the token (401 invalid credentials)"]
    assert "Traceback" not in r.stderr and SECRET not in r.stderr + r.stdout
    for f in lorahub_home.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f


def test_the_token_file_is_used_when_hf_token_is_unset(cat, fake_hub, tmp_path):
    (tmp_path / "hf-token").write_text(WRITE_TOKEN)  # HF_TOKEN_PATH points here (conftest)
    assert sync.push(cat).status == "created"
    assert all(r.authorized for r in fake_hub.requests if r.method == "POST" and "/commit/" in r.path)


def test_a_read_only_token_gets_a_403(cat, fake_hub, monkeypatch):
    fake_hub.create_repo("alice/cat-style")
    monkeypatch.setenv("HF_TOKEN", READ_TOKEN)
    with pytest.raises(AuthError, match="403 forbidden: a read-only token") as e:
        sync.push(cat)
    assert "write access" in (e.value.hint or "")
    assert fake_hub.commits("alice/cat-style") == ["initial commit"]
    assert library.resolve(cat).remotes == []


# -- not found vs private ------------------------------------------------------------------------
def test_repo_not_found_vs_private(fake_hub, tmp_path, monkeypatch):
    with pytest.raises(NotFoundError, match="repository bob/nothing-here not found"):
        sync.pull("bob/nothing-here")
    fake_hub.create_repo("carol/secret", private=True)
    fake_hub.commit_files("carol/secret", {"x.safetensors": write_lora(tmp_path / "x.safetensors").read_bytes()})
    with pytest.raises(AuthError, match="not found or is private, and no token was sent") as e:
        sync.pull("carol/secret")
    assert "HF_TOKEN" in (e.value.hint or "")
    monkeypatch.setenv("HF_TOKEN", WRITE_TOKEN)  # alice is not a member of carol's namespace
    with pytest.raises(NotFoundError, match="private and this token cannot see it"):
        sync.pull("carol/secret")
    with pytest.raises(NotFoundError, match="revision 'v9' not found"):
        fake_hub.commit_files("bob/real", {"README.md": b"# hi\n"})
        sync.pull("bob/real@v9")


# -- server trouble ------------------------------------------------------------------------------
def test_a_500_that_succeeds_on_retry(cat, fake_hub, write_token):
    # the client retries idempotent calls itself (one 1 s backoff here); the commit POST it never retries
    fake_hub.fail_next("POST", r"\.git/info/lfs/objects/batch$", 500, message="Internal Error")
    result = sync.push(cat)
    assert result.status == "created"
    batches = [r for r in fake_hub.requests if r.path.endswith("/objects/batch")]
    assert [r.status for r in batches] == [500, 200]


def test_a_500_on_the_commit_is_one_line_and_the_next_push_works(cat, fake_hub, write_token):
    fake_hub.fail_next("POST", r"/commit/main$", 500, message="Internal Error - We're working hard to fix this")
    with pytest.raises(RemoteError, match=r"^the Hub failed with HTTP 500 after retries \(Internal Error"):
        sync.push(cat)
    assert fake_hub.commits("alice/cat-style") == ["initial commit"] and library.resolve(cat).remotes == []
    fake_hub.requests.clear()
    assert sync.push(cat).status == "created"
    # the kohya file and the preview were stored by the failed push: not sent again (the diffusers copy is
    # converted afresh each push, and its bytes are not stable: safetensors metadata order)
    puts = {r.path.rsplit("/", 1)[1] for r in fake_hub.requests if r.method == "PUT"}
    assert library.resolve(cat).sha256 not in puts and sha256_hex(png_bytes((200, 40, 40))) not in puts
    assert len(puts) <= 1


def test_a_500_that_persists_is_one_line(cat, fake_hub, write_token, monkeypatch):
    import huggingface_hub.utils._http as hf_http

    monkeypatch.setattr(hf_http.time, "sleep", lambda s: None)  # the client's 1-8 s backoff
    fake_hub.fail_next("GET", r"/api/models/alice/cat-style/revision/main$", 503, times=10, message="down")
    with pytest.raises(RemoteError, match=r"HTTP 503 after retries \(down\)"):
        sync.push(cat)


def test_stale_parent_412_when_someone_pushed_in_between(cat, fake_hub, write_token):
    sync.push(cat)
    library.tag(cat, ["+new"])
    # someone else commits after we read the head and before our commit lands
    fake_hub.before_next(
        "POST", r"/preupload/", lambda: fake_hub.commit_files("alice/cat-style", {"notes.txt": b"hello"})
    )
    with pytest.raises(ConflictError, match="412 stale parent") as e:
        sync.push(cat)
    assert "again" in (e.value.hint or "")
    assert fake_hub.commits("alice/cat-style")[0] == "server commit"
    again = sync.push(cat)
    assert again.status == "updated" and again.uploaded == ["README.md"]
    assert "notes.txt" in fake_hub.repos["alice/cat-style"].resolve("main").files  # their commit is kept


# -- downloads -----------------------------------------------------------------------------------
def test_a_download_cut_in_the_middle_resumes(cat, fake_hub, write_token, tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    # The client keeps what it had written in whole chunks (10 MB by default: a real LoRA is cut after some);
    # the test file is small, so chunks of 4 KB put the cut after a few of them, as with a big file.
    monkeypatch.setattr(hf_constants, "DOWNLOAD_CHUNK_SIZE", 4096)
    sync.push(cat)
    expected = library.resolve(cat).sha256
    original = library.resolve(cat).path
    monkeypatch.setenv("LORAHUB_HOME", str(tmp_path / "fresh"))
    fake_hub.cut_downloads(r"/resolve/[0-9a-f]{40}/cat-style\.safetensors$")
    fake_hub.requests.clear()
    pulled = sync.pull("alice/cat-style")
    assert pulled.files[0].sha256 == expected
    gets = [r for r in fake_hub.requests if r.method == "GET" and r.path.endswith("/cat-style.safetensors")]
    # the client retried by itself, asking only for the rest (a Range from where the cut left it)
    assert len(gets) == 2 and gets[0].status < 0 and gets[1].status == 206
    resumed_at = int(gets[1].range.removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at < pulled.files[0].size and resumed_at % 4096 == 0
    assert Path(library.resolve("cat-style").path).read_bytes() == Path(original).read_bytes()


def test_a_download_that_keeps_failing_leaves_nothing_in_the_store(cat, fake_hub, write_token, tmp_path, monkeypatch):
    import huggingface_hub.file_download as hf_download

    sync.push(cat)
    home = tmp_path / "fresh"
    monkeypatch.setenv("LORAHUB_HOME", str(home))
    monkeypatch.setattr(hf_download.time, "sleep", lambda s: None)
    fake_hub.cut_downloads(r"/cat-style\.safetensors$", times=20)
    with pytest.raises(RemoteError) as e:
        sync.pull("alice/cat-style")
    assert "\n" not in str(e.value)
    assert library.ls() == [] and _store_files(home) == []


def test_bytes_that_do_not_match_the_lfs_sha256_are_refused(cat, fake_hub, write_token, tmp_path, monkeypatch):
    sync.push(cat)
    home = tmp_path / "fresh"
    monkeypatch.setenv("LORAHUB_HOME", str(home))
    fake_hub.tamper("alice/cat-style", "cat-style.safetensors")
    with pytest.raises(BadFileError, match="do not match the Hub's SHA256"):
        sync.pull("alice/cat-style")
    assert library.ls() == [] and _store_files(home) == []


def test_unsafe_file_names_in_a_remote_repo_are_refused(fake_hub, tmp_path):
    data = write_lora(tmp_path / "x.safetensors").read_bytes()
    fake_hub.commit_files("mallory/evil", {"../evil.safetensors": data, "README.md": b"# evil\n"})
    with pytest.raises(RemoteError, match=r"refusing unsafe file name\(s\) in mallory/evil: '../evil.safetensors'"):
        sync.pull("mallory/evil")
    with pytest.raises(UsageError, match="leaves the repository"):
        sync.pull("mallory/evil:../evil.safetensors")
    with pytest.raises(UsageError, match="leaves the repository"):
        sync.pull("mallory/evil:/etc/evil.safetensors")
    assert not [r for r in fake_hub.requests if "/resolve/" in r.path and "evil.safetensors" in r.path]
    assert library.ls() == []


def test_a_file_that_is_not_there(cat, fake_hub, write_token):
    sync.push(cat)
    with pytest.raises(NotFoundError, match=r"nope\.safetensors is not in alice/cat-style") as e:
        sync.pull("alice/cat-style:nope.safetensors")
    assert "cat-style.safetensors" in (e.value.hint or "")


# -- offline -------------------------------------------------------------------------------------
def test_offline_pulls_from_the_cache_or_fails_with_one_line(cat, fake_hub, write_token, tmp_path, monkeypatch):
    pushed = sync.push(cat)
    monkeypatch.setenv("LORAHUB_HOME", str(tmp_path / "online-home"))
    sync.pull("alice/cat-style")  # fills the Hugging Face cache
    monkeypatch.setenv("LORAHUB_HOME", str(tmp_path / "offline-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake_hub.requests.clear()
    pulled = sync.pull("alice/cat-style")
    assert pulled.offline and pulled.commit == pushed.commit and fake_hub.requests == []
    assert library.resolve("cat-style").triggers == ["c4t style", "ink"]
    with pytest.raises(RemoteError, match=r"offline \(HF_HUB_OFFLINE=1\) and bob/elsewhere@main is not in"):
        sync.pull("bob/elsewhere")
    r = run_cli("pull", "bob/elsewhere", HF_HUB_OFFLINE="1")
    assert r.returncode == RemoteError.exit_code
    assert r.stderr.splitlines()[0].startswith("error: offline (HF_HUB_OFFLINE=1) and bob/elsewhere@main")
    assert "Traceback" not in r.stderr and fake_hub.requests == []


def test_the_guard_blocks_connections_off_the_loopback(fake_hub, loopback_only, monkeypatch):
    import huggingface_hub.utils._http as hf_http
    from huggingface_hub import HfApi

    from hub.sync.client import remote_errors

    monkeypatch.setattr(hf_http.time, "sleep", lambda s: None)
    with pytest.raises(RemoteError, match="cannot reach"), remote_errors("search"):
        next(iter(HfApi(endpoint="http://hub.example.invalid").list_models(limit=1)))
    assert "hub.example.invalid" in loopback_only  # seen and refused: the guard works
    loopback_only.clear()  # (the teardown check would otherwise fail this test, as intended elsewhere)
