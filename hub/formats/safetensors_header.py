"""Torch-free reader of a safetensors header: names, dtypes, shapes and offsets, never tensor data.

A safetensors file is ``<u64 little-endian N><N bytes of JSON header><data section>``. Everything a
registry needs (key names, shapes, ``__metadata__``) is in the first ``8 + N`` bytes, so probing a
300 MB LoRA costs one small read. The only data this module ever reads is a handful of scalar
``.alpha`` tensors, through :func:`read_scalars`.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field

from hub.errors import BadFileError

# A real header holds a few thousand keys at most (a few MB). Anything over this is not safetensors.
MAX_HEADER_BYTES = 100 * 1024 * 1024

# safetensors dtype codes -> (torch-style name, bytes per element)
DTYPES: dict[str, tuple[str, int]] = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "I64": ("int64", 8),
    "I32": ("int32", 4),
    "I16": ("int16", 2),
    "I8": ("int8", 1),
    "U8": ("uint8", 1),
    "BOOL": ("bool", 1),
}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str  # the safetensors code as written in the header, e.g. "F16"
    shape: tuple[int, ...]
    data_offsets: tuple[int, int]  # [begin, end) relative to the start of the data section

    @property
    def dtype_name(self) -> str:
        """Torch-style name, e.g. ``float16``; the raw code when unknown."""
        return DTYPES.get(self.dtype, (self.dtype.lower(), 0))[0]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class SafetensorsHeader:
    path: str
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str] = field(default_factory=dict)
    header_size: int = 0  # 8 + N: where the data section starts (AutoV3 hashes the bytes after it)
    data_size: int = 0  # the largest end offset: how long the data section must be
    file_size: int = 0

    @property
    def truncated(self) -> bool:
        return self.file_size < self.header_size + self.data_size


def read_header(path: str | os.PathLike[str]) -> SafetensorsHeader:
    """Read and validate the header of ``path``; raises :class:`BadFileError` with one clear line."""
    p = str(path)
    try:
        size = os.path.getsize(p)
        with open(p, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise BadFileError(
                    f"only {size} bytes: a placeholder, not a safetensors file", path=p, hint="download it again"
                )
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES or 8 + n > size:
                # A valid length may start with byte "{" (0x7b), so text is only suspected once the length is absurd.
                if head.lstrip()[:1] in (b"{", b"[") or head.startswith(b"\xef\xbb\xbf"):
                    raise BadFileError(
                        "this is a text/JSON file, not safetensors (it only has a .safetensors name)", path=p
                    )
                if n <= MAX_HEADER_BYTES and f.read(2) in (b'{"', b"{}"):
                    # A plausible length followed by the header's JSON: a real safetensors file, cut short.
                    raise BadFileError(
                        f"a cut-off safetensors file (an interrupted download?): its header needs {8 + n} bytes,"
                        f" the file ends after {size}",
                        path=p,
                        hint="download it again",
                    )
                raise BadFileError(
                    f"not a safetensors file: its first 8 bytes announce a {n}-byte header in a {size}-byte file",
                    path=p,
                )
            raw = f.read(n)
    except OSError as e:
        raise BadFileError(f"cannot read: {e.strerror or e}", path=p) from e
    return parse_header(raw, path=p, file_size=size)


def parse_header(raw: bytes, *, path: str, file_size: int) -> SafetensorsHeader:
    """Parse the JSON header bytes (without the 8-byte length prefix)."""
    try:
        obj = json.loads(raw.decode("utf-8").rstrip(" \x00"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadFileError(f"corrupt safetensors header: not valid JSON ({e.__class__.__name__})", path=path) from e
    if not isinstance(obj, dict):
        raise BadFileError("corrupt safetensors header: not a JSON object", path=path)
    raw_meta = obj.pop("__metadata__", None) or {}
    metadata = (
        {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw_meta.items()}
        if isinstance(raw_meta, dict)
        else {}
    )
    tensors: dict[str, TensorInfo] = {}
    for name, info in obj.items():
        try:
            begin, end = info["data_offsets"]
            tensors[name] = TensorInfo(
                str(info["dtype"]), tuple(int(d) for d in info["shape"]), (int(begin), int(end))
            )
        except (TypeError, KeyError, ValueError) as e:
            raise BadFileError(f"corrupt safetensors header: bad entry for tensor {name!r}", path=path) from e
    if not tensors:
        raise BadFileError("an empty safetensors file: valid, but it holds no tensors", path=path)
    data_size = max(t.data_offsets[1] for t in tensors.values())
    return SafetensorsHeader(
        path=path,
        tensors=tensors,
        metadata=metadata,
        header_size=8 + len(raw),
        data_size=data_size,
        file_size=file_size,
    )


def read_scalars(header: SafetensorsHeader, names: list[str]) -> dict[str, float]:
    """Values of the named one-element float tensors (kohya ``.alpha``), reading only their bytes.

    Tensors whose bytes lie past the end of a truncated file are left out.
    """
    out: dict[str, float] = {}
    with open(header.path, "rb") as f:
        for name in names:
            info = header.tensors[name]
            begin, end = info.data_offsets
            if info.numel != 1 or header.header_size + end > header.file_size:
                continue
            f.seek(header.header_size + begin)
            value = _decode_scalar(info.dtype, f.read(end - begin))
            if value is not None:
                out[name] = value
    return out


def _decode_scalar(dtype: str, b: bytes) -> float | None:
    if dtype == "F32" and len(b) == 4:
        return struct.unpack("<f", b)[0]
    if dtype == "F16" and len(b) == 2:
        return struct.unpack("<e", b)[0]
    if dtype == "BF16" and len(b) == 2:
        return struct.unpack("<f", b"\x00\x00" + b)[0]
    if dtype == "F64" and len(b) == 8:
        return struct.unpack("<d", b)[0]
    if dtype in ("I64", "I32") and len(b) in (4, 8):
        return float(int.from_bytes(b, "little", signed=True))
    return None
