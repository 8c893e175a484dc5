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


def test_fuse_onto_a_missing_hub_model_is_one_clear_error(fake_hub, tmp_path: Path) -> None:
    from hub.compose.api import fuse
    from hub.errors import HubError

    lora = write_lora(tmp_path / "style.safetensors", arch="tiny-sd1", rank=4, seed=3)
    with pytest.raises(HubError) as e:
        fuse("alice/no-such-model", [(str(lora), 0.8)], out=tmp_path / "x", device="cpu")
    assert "\n" not in str(e.value) and "alice/no-such-model" in str(e.value)
