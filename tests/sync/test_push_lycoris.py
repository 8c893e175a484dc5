"""Push of a LyCORIS adapter: its diffusers copy follows the expansion rule (rank by kept energy, at most 8x the
file) and the card says how the copy was made, or why there is none (issue 8)."""

from __future__ import annotations

from pathlib import Path

from sync_fixtures import write_low_rank_lokr

from hub.registry import api as library
from hub.sync import api as sync
from hub.sync.model_card import DIFFUSERS_WEIGHT_NAME, parse_card

LOKR4 = "lycoris/KohakuBlueleaf__LyCORIS__result__smart_falcon_4_lokr.safetensors"


def test_a_lokr_that_would_explode_is_pushed_without_a_diffusers_copy(real_adapters, fake_hub, write_token):
    src = real_adapters / LOKR4
    library.add_one(src, name="falcon")
    result = sync.push("falcon")
    files = sorted(fake_hub.repos["alice/falcon"].resolve("main").files)
    assert files == [".gitattributes", "README.md", "falcon.safetensors"]  # no 68 MB copy of a 648 KB file
    total = sum(len(fake_hub.file_bytes("alice/falcon", f)) for f in files if f.endswith(".safetensors"))
    assert total == src.stat().st_size
    assert any("no diffusers copy" in w and "would grow" in w for w in result.warnings), result.warnings
    card = fake_hub.file_bytes("alice/falcon", "README.md").decode()
    assert "The diffusers copy: none:" in card and "hub convert falcon --to diffusers --rank N" in card
    assert parse_card(card).diffusers_note.startswith("none:")
    again = sync.push("falcon")
    assert again.status == "unchanged" and again.uploaded == []


def test_a_small_lokr_copy_says_its_rank_and_kept_energy(tmp_path: Path, fake_hub, write_token):
    src = write_low_rank_lokr(tmp_path / "small.safetensors")
    library.add_one(src, name="small-lokr")
    result = sync.push("small-lokr")
    files = fake_hub.repos["alice/small-lokr"].resolve("main").files
    assert DIFFUSERS_WEIGHT_NAME in files, result.warnings
    copy = len(fake_hub.file_bytes("alice/small-lokr", DIFFUSERS_WEIGHT_NAME))
    assert copy <= 8 * src.stat().st_size  # within 8x
    note = parse_card(fake_hub.file_bytes("alice/small-lokr", "README.md").decode()).diffusers_note
    assert note and note.startswith("expanded to LoRA rank <= 1 keeping 100.00% of the Frobenius norm"), note
    again = sync.push("small-lokr")
    assert again.status == "unchanged" and again.uploaded == []
