"""Helpers shared by the sync tests: a registered adapter with triggers, tags, a description and a preview;
`hub` run as a user runs it (a fresh process)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

from hub.models import AdapterDetail
from hub.registry import api as library
from hub.testing import write_lora

WRITE_TOKEN = "hf_write_alice"  # tokens the fake Hub knows (see FakeHub.tokens)
READ_TOKEN = "hf_read_alice"
REPO_ROOT = Path(__file__).resolve().parents[2]


def png_bytes(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_adapter(
    folder: Path, name: str = "cat-style", *, arch: str = "tiny-sd1", seed: int = 3, **kw: object
) -> AdapterDetail:
    src = write_lora(folder / f"{name}.safetensors", arch=arch, seed=seed)  # type: ignore[arg-type]
    src.with_suffix(".png").write_bytes(png_bytes((200, 40, 40)))  # an A1111-style preview sidecar
    a = library.add_one(
        src,
        name=name,
        triggers=kw.get("triggers", ["c4t style", "ink"]),  # type: ignore[arg-type]
        tags=kw.get("tags", ["cats", "style"]),  # type: ignore[arg-type]
        description=kw.get("description", "Cats drawn in ink."),  # type: ignore[arg-type]
        license=kw.get("license"),  # type: ignore[arg-type]
    )
    return library.resolve(a.id)


def hub_process(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`hub ARGS` in a new process with its own home, HF_HUB_OFFLINE unset, the loopback Hub as endpoint."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["LORAHUB_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, timeout=180, cwd=REPO_ROOT
    )


def write_low_rank_lokr(path: Path) -> Path:
    """An SD1 text-encoder LoKr whose Kronecker sides are both rank 1: its exact LoRA form is rank 1, ~4x its size."""
    import torch
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(4)
    tensors = {}
    for layer in range(12):
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            n = f"lora_te_text_model_encoder_layers_{layer}_self_attn_{proj}"
            tensors[f"{n}.lokr_w1_a"] = torch.randn(4, 1, generator=g)
            tensors[f"{n}.lokr_w1_b"] = torch.randn(1, 4, generator=g)
            tensors[f"{n}.lokr_w2_a"] = torch.randn(192, 1, generator=g) * 0.1
            tensors[f"{n}.lokr_w2_b"] = torch.randn(1, 192, generator=g) * 0.1
            tensors[f"{n}.alpha"] = torch.tensor(1.0)
    meta = {"ss_network_module": "lycoris.kohya", "ss_network_dim": "1", "ss_network_alpha": "1",
            "ss_network_args": '{"algo": "lokr"}', "ss_base_model_version": "sd_v1"}  # fmt: skip
    save_file(tensors, str(path), metadata=meta)
    return path
