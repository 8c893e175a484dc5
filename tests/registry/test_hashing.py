import hashlib
import struct
import zlib
from pathlib import Path

import blake3

from hub.registry.hashing import AUTOV1_LENGTH, AUTOV1_OFFSET, hash_file


def test_civitai_test_vectors(tmp_path: Path) -> None:
    f = tmp_path / "hello.bin"
    f.write_bytes(b"hello world")
    h = hash_file(f).civitai()
    assert h["sha256"] == "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9"
    assert h["autov2"] == "B94D27B993"
    assert h["autov1"] is None  # below 2 MiB, as Civitai
    assert h["blake3"] == "D74981EFA70A0C880B8D8C1985D075DBCBF679B99A5F9914E5AAF96B831A9E24"
    assert h["crc32"] == "85114A0D"  # zlib says 0x0D4A1185: Civitai prints the bytes reversed
    assert h["autov3"] is None  # not a safetensors file


def _safetensors_bytes(payload: bytes, metadata: str = "x") -> bytes:
    n = len(payload)
    header = f'{{"__metadata__":{{"note":"{metadata}"}},"t":{{"dtype":"U8","shape":[{n}],"data_offsets":[0,{n}]}}}}'
    header = header.encode()
    return struct.pack("<Q", len(header)) + header + payload


def test_every_hash_on_a_large_safetensors_file(tmp_path: Path) -> None:
    payload = bytes(range(256)) * (12 * 1024 * 3 + 7)  # ~9.4 MB: several chunks, AutoV1 window inside
    data = _safetensors_bytes(payload)
    f = tmp_path / "big.safetensors"
    f.write_bytes(data)
    received = bytearray()
    h = hash_file(f, sink=received.extend)
    header_size = 8 + struct.unpack("<Q", data[:8])[0]
    assert bytes(received) == data
    assert h.sha256 == hashlib.sha256(data).hexdigest()
    assert h.autov2 == h.sha256[:10]
    assert h.autov3 == hashlib.sha256(data[header_size:]).hexdigest()
    assert h.autov1 == hashlib.sha256(data[AUTOV1_OFFSET : AUTOV1_OFFSET + AUTOV1_LENGTH]).hexdigest()[:8]
    assert h.blake3 == blake3.blake3(data).hexdigest()
    assert h.crc32 == struct.pack("<I", zlib.crc32(data)).hex()


def test_autov3_ignores_header_edits(tmp_path: Path) -> None:
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    a.write_bytes(_safetensors_bytes(b"\x01" * 100, metadata="first"))
    b.write_bytes(_safetensors_bytes(b"\x01" * 100, metadata="second, longer"))
    ha, hb = hash_file(a), hash_file(b)
    assert ha.sha256 != hb.sha256
    assert ha.autov3 == hb.autov3
