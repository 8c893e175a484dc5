"""`hub fuse` with a Hugging Face model id as the base: downloaded through huggingface_hub's cache from the
loopback Hub, then fused exactly as the same folder on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.testing import tiny_pipeline_dir, write_lora


def test_fuse_onto_a_hub_model_id_equals_the_local_folder(fake_hub, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from hub.compose.api import fuse

    base = tiny_pipeline_dir("sd1")
    fake_hub.commit_files(
        "alice/tiny-sd", {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}
    )
    lora = write_lora(tmp_path / "style.safetensors", arch="tiny-sd1", rank=4, seed=3)

    remote = fuse("alice/tiny-sd", [(str(lora), 0.8)], out=tmp_path / "from-hub", device="cpu")
    local = fuse(str(base), [(str(lora), 0.8)], out=tmp_path / "from-disk", device="cpu")
    assert remote.modules_fused == local.modules_fused > 0
    for weights in ("unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"):
        a, b = load_file(tmp_path / "from-hub" / weights), load_file(tmp_path / "from-disk" / weights)
        assert a.keys() == b.keys()
        assert all((a[k] == b[k]).all() for k in a)
    assert any("resolve" in r.path for r in fake_hub.requests)


def test_fuse_onto_a_missing_hub_model_is_not_found(fake_hub, tmp_path: Path) -> None:
    import hub
    from hub.errors import NotFoundError

    lora = write_lora(tmp_path / "style.safetensors", arch="tiny-sd1", rank=4, seed=3)
    with pytest.raises(NotFoundError) as e:  # exit 3, not a RemoteError (7): the Hub answered, there is none
        hub.fuse("alice/no-such-model", [(str(lora), 0.8)], out=tmp_path / "x", device="cpu")
    assert "\n" not in str(e.value) and "repository alice/no-such-model not found" in str(e.value)
    assert not (tmp_path / "x").exists()


def test_fuse_onto_a_private_hub_model_without_a_token_is_an_auth_error(fake_hub, tmp_path: Path) -> None:
    import hub
    from hub.errors import AuthError

    fake_hub.create_repo("carol/private-base", private=True)
    lora = write_lora(tmp_path / "style.safetensors", arch="tiny-sd1", rank=4, seed=3)
    with pytest.raises(AuthError, match="carol/private-base was not found or is private") as e:
        hub.fuse("carol/private-base", [(str(lora), 0.8)], out=tmp_path / "x", device="cpu")
    assert "HF_TOKEN" in (e.value.hint or "")


def test_fuse_when_the_hub_keeps_failing_is_a_remote_error(fake_hub, tmp_path: Path, monkeypatch) -> None:
    import huggingface_hub.utils._http as hf_http

    import hub
    from hub.errors import RemoteError

    monkeypatch.setattr(hf_http.time, "sleep", lambda s: None)  # the client's 1-8 s backoff
    fake_hub.fail_next("GET", r"/api/models/alice/tiny-sd", 503, times=10, message="down for maintenance")
    lora = write_lora(tmp_path / "style.safetensors", arch="tiny-sd1", rank=4, seed=3)
    # snapshot_download reports a server that keeps failing as "cannot reach, and nothing cached"
    with pytest.raises(RemoteError, match=r"^cannot reach http://127\.0\.0\.1:\d+ and alice/tiny-sd is not in the"):
        hub.fuse("alice/tiny-sd", [(str(lora), 0.8)], out=tmp_path / "x", device="cpu")


def test_hub_fuse_process_exits_3_for_a_missing_base(fake_hub, tmp_path: Path) -> None:
    from sync_fixtures import hub_process

    from hub.errors import NotFoundError

    lora = write_lora(tmp_path / "style.safetensors", arch="tiny-sd1", rank=4, seed=3)
    r = hub_process(tmp_path / "home", "fuse", "alice/no-such-model", str(lora), "--out", str(tmp_path / "x"))
    assert r.returncode == NotFoundError.exit_code, r.stderr
    assert r.stderr.startswith("error: repository alice/no-such-model not found") and "Traceback" not in r.stderr
