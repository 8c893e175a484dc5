import json
import struct
from pathlib import Path

from hub.formats.probe import probe_file


def test_header_length_with_low_byte_0x80_is_not_mistaken_for_a_pickle(tmp_path: Path) -> None:
    # 0x80 is also pickle's PROTO opcode; the container must be read from the whole 9-byte signature.
    tensors = {
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": {
            "dtype": "F16",
            "shape": [1, 4],
            "data_offsets": [0, 8],
        }
    }
    header = json.dumps({"__metadata__": {"pad": ""}, **tensors})
    pad = (0x180 - len(header)) % 256
    header = json.dumps({"__metadata__": {"pad": "x" * pad}, **tensors}).encode()
    assert len(header) & 0xFF == 0x80
    f = tmp_path / "x.safetensors"
    f.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    assert probe_file(f).container == "safetensors"


def test_a_full_checkpoint_is_named_as_such(tmp_path: Path) -> None:
    import pytest

    from hub.errors import BadFileError

    tensors = {"model.diffusion_model.input_blocks.0.0.weight": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}}
    header = json.dumps(tensors).encode()
    f = tmp_path / "v1-5-pruned.safetensors"
    f.write_bytes(struct.pack("<Q", len(header)) + header + b"\0\0")
    with pytest.raises(BadFileError, match="full Stable Diffusion checkpoint") as e:
        probe_file(f)
    assert "hub fuse" in (e.value.hint or "")
