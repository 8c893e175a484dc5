"""Every hash Civitai and A1111 know, computed in ONE read of the file.

Definitions (see docs/registry.md): SHA256 of the whole file; AutoV2 = SHA256[:10]; AutoV3 =
SHA256 of the bytes after the safetensors header (kohya's ``addnet_hash_safetensors``, what
A1111 shows as the LoRA hash); AutoV1 = SHA256 of 64 KiB at offset 1 MiB, first 8 hex, None
below 2 MiB (Civitai's rule); BLAKE3 of the whole file; CRC32 printed as Civitai prints it,
the little-endian bytes of zlib's CRC.

SHA256 is the slow one and AutoV3 needs a second SHA256 over nearly the same bytes, so the two
run on two threads (hashlib, blake3 and zlib release the GIL on large buffers): the wall time
stays close to one ``sha256sum``. The bytes may be streamed to a ``sink`` (the store copy) from
the same read.
"""

from __future__ import annotations

import hashlib
import queue
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hub.errors import BadFileError

if TYPE_CHECKING:
    from hub.models import FileHashes

CHUNK = 4 << 20
AUTOV1_OFFSET = 0x100000
AUTOV1_LENGTH = 0x10000
AUTOV1_MIN_SIZE = 2 << 20


def safetensors_header_size(first_bytes: bytes, file_size: int) -> int | None:
    """8 + N when the file starts like a safetensors file, else None (then there is no AutoV3)."""
    if len(first_bytes) < 9 or file_size < 9:
        return None
    (n,) = struct.unpack("<Q", first_bytes[:8])
    if n == 0 or 8 + n > file_size or first_bytes[8:9] != b"{":
        return None
    return 8 + n


def civitai_crc32(crc: int) -> str:
    """Civitai prints the CRC's little-endian bytes: zlib's 0x0D4A1185 is shown as 85114A0D."""
    return struct.pack("<I", crc).hex()


def hash_file(path: Path, *, sink: Callable[[bytes], object] | None = None) -> FileHashes:
    """Hash ``path`` in one sequential read; ``sink`` (if given) receives every chunk, in order."""
    import blake3

    from hub.models import FileHashes

    path = Path(path)
    try:
        f = path.open("rb")
    except OSError as e:
        raise BadFileError(f"cannot read: {e.strerror}", path=str(path)) from e
    with f:
        size = path.stat().st_size
        first = f.read(CHUNK)
        header = safetensors_header_size(first, size)
        full_sha = hashlib.sha256()
        tail_sha = hashlib.sha256() if header is not None else None
        b3 = blake3.blake3()
        crc = 0
        autov1_window = bytearray()

        # Thread B hashes the AutoV3 tail and BLAKE3; this thread does SHA256 + CRC32 + the sink.
        work: queue.Queue[tuple[bytes, int] | None] = queue.Queue(maxsize=4)
        failure: list[BaseException] = []

        def side() -> None:
            try:
                while (item := work.get()) is not None:
                    chunk, offset = item
                    b3.update(chunk)
                    if tail_sha is not None and header is not None:
                        start = header - offset
                        if start < len(chunk):
                            tail_sha.update(memoryview(chunk)[max(start, 0) :])
            except BaseException as e:  # surfaced after join
                failure.append(e)

        worker = threading.Thread(target=side, name="hash-side", daemon=True)
        worker.start()
        offset = 0
        chunk = first
        try:
            while chunk:
                work.put((chunk, offset))
                full_sha.update(chunk)
                crc = zlib.crc32(chunk, crc)
                if sink is not None:
                    sink(chunk)
                end = offset + len(chunk)
                if end > AUTOV1_OFFSET and offset < AUTOV1_OFFSET + AUTOV1_LENGTH:
                    lo = max(AUTOV1_OFFSET - offset, 0)
                    hi = min(AUTOV1_OFFSET + AUTOV1_LENGTH - offset, len(chunk))
                    autov1_window += chunk[lo:hi]
                offset = end
                chunk = f.read(CHUNK)
        finally:
            work.put(None)
            worker.join()
        if failure:
            raise failure[0]

    sha = full_sha.hexdigest()
    return FileHashes(
        sha256=sha,
        autov1=hashlib.sha256(bytes(autov1_window)).hexdigest()[:8] if offset >= AUTOV1_MIN_SIZE else None,
        autov2=sha[:10],
        autov3=tail_sha.hexdigest() if tail_sha is not None else None,
        blake3=b3.hexdigest(),
        crc32=civitai_crc32(crc),
    )
