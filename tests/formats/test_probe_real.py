"""The prober against every real file in ../shared/real-adapters: it must conclude what MANIFEST.jsonl says."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hub.errors import BadFileError
from hub.formats.probe import LEGACY_LIST_NOTE, probe_file


def _manifest_rows() -> list[dict]:
    here = Path(__file__).resolve().parents[2]
    env = os.environ.get("LORAHUB_REAL_ADAPTERS")
    for d in ([Path(env)] if env else []) + [here.parent / "shared" / "real-adapters"]:
        if (d / "MANIFEST.jsonl").is_file():
            return [json.loads(line) for line in (d / "MANIFEST.jsonl").read_text().splitlines() if line.strip()]
    return []


ROWS = _manifest_rows()
PARAMS = [pytest.param(r, id=Path(r["file"]).name[:80]) for r in ROWS] or [
    pytest.param(None, id="no-real-adapters", marks=pytest.mark.skip("../shared/real-adapters is not here"))
]


@pytest.mark.parametrize("row", PARAMS)
def test_probe_agrees_with_manifest(real_adapters: Path, row: dict) -> None:
    expected = row["expected"]
    path = real_adapters / row["file"]
    if expected["kind"] == "invalid":
        with pytest.raises(BadFileError) as info:
            probe_file(path)
        msg = str(info.value)
        assert "\n" not in msg and msg.startswith(str(path)) and len(msg) < len(str(path)) + 160
        assert info.value.path == str(path)
        return

    t0 = time.process_time()  # CPU time: wall time on a shared machine measures the neighbours
    result = probe_file(path)
    elapsed = time.process_time() - t0
    assert result.kind == expected["kind"]
    for field in ("format", "arch", "rank", "alpha"):
        if expected.get(field) is not None:
            assert getattr(result, field) == expected[field], field
    assert result.truncated == bool(expected.get("truncated", False))
    assert elapsed < 1.0  # header only: milliseconds in practice

    if result.kind in ("lora", "lora+embedding"):
        assert result.tensor_count > 0 and result.dtype and result.evidence
        if result.format != "cloneofsimo-legacy-list":
            assert sum(result.modules.values()) > 0 and result.rank in result.ranks
    if result.container == "safetensors":
        assert result.header_size and result.header_size > 8


def test_specific_conclusions(real_adapters: Path) -> None:
    ra = real_adapters
    faith = probe_file(ra / "lora/FaithSang__anime-lora-gnerator__model__pytorch_lora_weights.safetensors")
    assert (faith.rank, faith.alpha, faith.scale) == (4, 16.0, 4.0)
    assert faith.modules == {"unet": 96}

    flux = probe_file(ra / "lora/leighwoods__public-loras__lora.safetensors")
    assert flux.metadata["ss_base_model_version"] == "sd_1.5"  # verbatim, though it lies
    assert flux.modules == {"transformer": 4} and any("trusting the shapes" in e for e in flux.evidence)

    kiriko = probe_file(ra / "lora/cloneofsimo__lora__lora_kiriko.pt")
    assert kiriko.usable is False and kiriko.note == LEGACY_LIST_NOTE and kiriko.container == "pickle"

    disney = probe_file(ra / "lora/cloneofsimo__lora__example_loras__lora_disney.safetensors")
    assert (
        disney.tokens == ["<s1>", "<s2>"]
        and disney.vectors == 2
        and disney.modules == {"unet": 144, "text_encoder": 48}
    )

    sdxl_te_path = (
        ra / "lora/hansjohn819-commits__sd-lora-anime-style__weights__sdxl__text_encoder__adapter_model.safetensors"
    )
    sdxl_te = probe_file(sdxl_te_path)
    assert sdxl_te.arch == "sdxl" and any("base_model_name_or_path" in e for e in sdxl_te.evidence)
    # A config without a base (passed explicitly, so the sidecar is not read): the same shapes read as SD1.
    same = probe_file(sdxl_te_path, adapter_config={"r": 8, "lora_alpha": 8})
    assert same.arch == "sd1" and any("also fits SDXL" in e for e in same.evidence)

    lokr = probe_file(ra / "lycoris/KohakuBlueleaf__LyCORIS__result__smart_falcon_8_lokr.safetensors")
    assert lokr.metadata["ss_network_module"] == "lycoris.kohya" and lokr.scale == 1.0
    assert lokr.modules == {"unet": 278, "text_encoder": 72}

    trunc = probe_file(ra / "truncated/m000lie__runpod-comfy-docker__test.safetensors")
    assert trunc.truncated and trunc.header_size == 8 + 112802

    frida = "huggingface__diffusers__examples__textual_inversion__textual_inversion_frida__learned_embeds_1.bin"
    emb = probe_file(ra / "embedding" / frida)
    assert emb.vectors == 10 and emb.tokens == ["<frida>"]

    t5 = probe_file(
        ra / "negative/Harshad071__Synthetic-image-and-caption-generator__models__adapter_model.safetensors"
    )
    assert t5.kind == "not-sd" and t5.arch == "unknown"

    side = probe_file(ra / "lora/FaithSang__anime-lora-gnerator__model__adapter_config.json")
    assert side.container == "json" and side.format == "peft-config"


def test_json_manifest_named_safetensors_says_so(real_adapters: Path) -> None:
    with pytest.raises(BadFileError, match="text/JSON file, not safetensors"):
        probe_file(real_adapters / "negative/invoke-ai__InvokeAI__tests__test_model_probe__Alien_Style.safetensors")
