"""A restricted unpickler for torch pickles (``.pt``, ``.bin``, ``.ckpt``, ``.pth``) from strangers.

A pickle is a small program: every ``GLOBAL``/``STACK_GLOBAL``/``INST`` opcode imports a name and
``REDUCE`` calls it, so ``pickle.load`` on a stranger's file can run ``os.system``. Every import goes
through :meth:`_RestrictedUnpickler.find_class`, which hands out only what tensors and plain
containers need and raises :class:`UnsafePickleError` for anything else, before anything is called.

Two entry points:

- :func:`read_pickle_structure` is torch-free: tensors come back as :class:`PickledTensor` stubs
  (dtype, shape) and no storage byte is read. The registry probes with it.
- :func:`load_pickle_tensors` returns real CPU tensors. It tries ``torch.load(weights_only=True)``
  first and falls back to this unpickler for harmless things weights_only refuses (A1111
  embeddings keep their vectors in a ``torch.nn.ParameterDict``, which becomes a plain dict here).

Both read the zip layout torch has used since 1.6 (whatever the root folder inside the zip is
called) and the structure of the older non-zip layout.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from hub.errors import BadFileError, UnsafePickleError, UnsupportedFormatError

# torch storage class name -> torch dtype name
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "DoubleStorage": "float64",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}
_TORCH_DTYPE_NAMES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


@dataclass(frozen=True)
class PickledTensor:
    """A tensor inside a pickle, described without reading its storage."""

    dtype: str  # torch-style name, e.g. "float16"
    shape: tuple[int, ...]
    storage_key: str = ""
    storage_offset: int = 0
    device: str = "cpu"  # where it was saved from; loading always maps to CPU

    @property
    def dtype_name(self) -> str:
        return self.dtype

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: str
    location: str
    numel: int


class ParameterDictStub(dict):
    """What a pickled ``torch.nn.ParameterDict`` becomes: a plain dict of its parameters."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        params = state.get("_parameters") if isinstance(state, dict) else None
        if isinstance(params, dict):
            self.update(params)


# ----------------------------------------------------------------------------------------- backends


def _stub_rebuild_tensor(storage: Any, storage_offset: int, size: Any, stride: Any = None, *_: Any) -> PickledTensor:
    if not isinstance(storage, _StorageRef):
        raise BadFileError("corrupt torch pickle: a tensor without a storage")
    return PickledTensor(
        storage.dtype, tuple(int(d) for d in size), storage.key, int(storage_offset), storage.location
    )


def _first_arg(data: Any, *_: Any) -> Any:
    # _rebuild_parameter(data, requires_grad, backward_hooks): a Parameter is its data for us.
    return data


def _rebuild_from_type_v2(func: Callable[..., Any], _new_type: Any, args: tuple[Any, ...], _state: Any) -> Any:
    return func(*args)


def _common_globals() -> dict[str, Any]:
    g: dict[str, Any] = {
        "collections.OrderedDict": OrderedDict,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "torch._utils._rebuild_parameter": _first_arg,
        "torch._utils._rebuild_parameter_with_state": _first_arg,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch.nn.parameter.Parameter": "Parameter",
        "torch.nn.modules.container.ParameterDict": ParameterDictStub,
        "torch.Size": tuple,
        "_codecs.encode": lambda s, enc="latin1": str(s).encode(enc),
    }
    for name in STORAGE_DTYPES:
        g[f"torch.{name}"] = name
    for name in _TORCH_DTYPE_NAMES:
        g[f"torch.{name}"] = name
    return g


class _StubBackend:
    """Torch-free: storages are references, tensors are :class:`PickledTensor`."""

    def __init__(self) -> None:
        self.globals = _common_globals()
        self.globals["torch._utils._rebuild_tensor_v2"] = _stub_rebuild_tensor
        self.globals["torch._utils._rebuild_tensor"] = _stub_rebuild_tensor

    def storage(self, type_name: str, key: str, location: str, numel: int) -> Any:
        return _StorageRef(key, STORAGE_DTYPES.get(type_name, "unknown"), location, numel)


class _TorchBackend:
    """Real CPU tensors; storage bytes are read from the zip member ``<root>/data/<key>``."""

    def __init__(self, zf: zipfile.ZipFile, root: str) -> None:
        import torch

        self.torch = torch
        self.zf = zf
        self.root = root
        self.cache: dict[str, Any] = {}
        self.globals = _common_globals()
        self.globals["torch._utils._rebuild_tensor_v2"] = self.rebuild_tensor
        self.globals["torch._utils._rebuild_tensor"] = self.rebuild_tensor

    def storage(self, type_name: str, key: str, location: str, numel: int) -> Any:
        if key not in self.cache:
            dtype = getattr(self.torch, STORAGE_DTYPES.get(type_name, ""), None)
            if dtype is None:
                raise UnsupportedFormatError(f"torch pickle with an unsupported storage type {type_name!r}")
            raw = bytearray(self.zf.read(f"{self.root}/data/{key}"))
            self.cache[key] = self.torch.frombuffer(raw, dtype=dtype) if raw else self.torch.empty(0, dtype=dtype)
        return self.cache[key]

    def rebuild_tensor(self, storage: Any, storage_offset: int, size: Any, stride: Any = None, *_: Any) -> Any:
        size = tuple(size)
        if stride is None:
            stride = self.torch.empty(size).stride() if size else ()
        return self.torch.as_strided(storage, size, tuple(stride), int(storage_offset)).clone()


# --------------------------------------------------------------------------------------- unpickler


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, stream: IO[bytes], backend: _StubBackend | _TorchBackend, path: str) -> None:
        super().__init__(stream, encoding="utf-8")
        self.backend = backend
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 era pickles say __builtin__/copy_reg; find_class sees them before any renaming.
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        key = f"{module}.{name}"
        if key in self.backend.globals:
            return self.backend.globals[key]
        raise UnsafePickleError(
            f"refused to unpickle: the file asks for {key!r} (a pickle can run code; only tensors are allowed)",
            path=self.path,
            hint="if you trust this file, convert it to safetensors with the tool that made it",
        )

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise BadFileError(f"corrupt torch pickle: unexpected persistent id {str(pid)[:60]!r}", path=self.path)
        _, type_name, key, location, numel = pid[:5]
        return self.backend.storage(str(type_name), str(key), str(location), int(numel))


def _unpickle(stream: IO[bytes], backend: _StubBackend | _TorchBackend, path: str) -> Any:
    """One pickle from ``stream``; consecutive calls read consecutive pickles."""
    try:
        return _RestrictedUnpickler(stream, backend, path).load()
    except BadFileError:
        raise
    except Exception as e:
        raise BadFileError(f"corrupt or unreadable pickle ({e.__class__.__name__}: {str(e)[:80]})", path=path) from e


# ------------------------------------------------------------------------------------------ layouts


def _zip_root(zf: zipfile.ZipFile, path: str) -> str:
    """The folder holding ``data.pkl``: ``archive`` usually, but torch uses the file's stem too."""
    roots = [n[: -len("/data.pkl")] for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(roots) != 1:
        raise BadFileError("a zip file, but not a torch checkpoint (no single <root>/data.pkl inside)", path=path)
    return roots[0]


def _check_byteorder(zf: zipfile.ZipFile, root: str, path: str) -> None:
    try:
        order = zf.read(f"{root}/byteorder").decode().strip()
    except KeyError:
        return
    if order != "little":
        raise UnsupportedFormatError(f"torch pickle saved with {order}-endian byte order", path=path)


def read_pickle_structure(path: str | os.PathLike[str]) -> Any:
    """The unpickled object with tensors as :class:`PickledTensor`; never reads storage data or imports torch."""
    p = str(path)
    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as zf:
                root = _zip_root(zf, p)
                return _unpickle(io.BytesIO(zf.read(f"{root}/data.pkl")), _StubBackend(), p)
        with open(p, "rb") as f:
            return _read_legacy_structure(f, p)
    except OSError as e:
        raise BadFileError(f"cannot read: {e.strerror or e}", path=p) from e
    except zipfile.BadZipFile as e:
        raise BadFileError(f"corrupt zip container ({e})", path=p) from e


def _read_legacy_structure(f: io.BufferedReader, path: str) -> Any:
    """Pre-1.6 torch files are several pickles in a row: magic, protocol, sys info, then the object."""
    if os.fstat(f.fileno()).st_size < 2:
        raise BadFileError("an empty file, not a torch pickle", path=path)
    backend = _StubBackend()
    first = _unpickle(f, backend, path)
    if first != _LEGACY_MAGIC:
        return first  # a plain pickle, not torch's legacy layout: the first object is all there is
    _unpickle(f, backend, path)  # protocol version
    _unpickle(f, backend, path)  # sys info
    return _unpickle(f, backend, path)


def load_pickle_tensors(path: str | os.PathLike[str]) -> Any:
    """Unpickle ``path`` with real CPU tensors (``cuda:0`` storages land on CPU), refusing any code."""
    import torch

    p = str(path)
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # weights_only refused a global: let the allow-list decide (and name it if it refuses)
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as e:
        # weights_only failures other than a refused global still get one clear line
        if "weights_only" not in str(e) and "Unsupported global" not in str(e):
            raise BadFileError(f"unreadable torch pickle ({str(e).splitlines()[0][:100]})", path=p) from e
    if not zipfile.is_zipfile(p):
        read_pickle_structure(p)  # raises UnsafePickleError when that is why weights_only refused
        raise UnsupportedFormatError(
            "legacy (pre-1.6) torch pickle that weights_only loading refuses", path=p, hint="re-save it as safetensors"
        )
    with zipfile.ZipFile(p) as zf:
        root = _zip_root(zf, p)
        _check_byteorder(zf, root, p)
        return _unpickle(io.BytesIO(zf.read(f"{root}/data.pkl")), _TorchBackend(zf, root), p)


_SCALAR_FORMATS = {"float32": ("<f", 4), "float16": ("<e", 2), "float64": ("<d", 8), "int64": ("<q", 8)}


def read_pickle_scalars(path: str | os.PathLike[str], tensors: dict[str, PickledTensor]) -> dict[str, float]:
    """Values of one-element tensors (kohya ``.alpha``) read from their storage bytes only; torch-free.

    Only the zip layout is read; bfloat16 is widened by hand. Tensors that cannot be read are left out.
    """
    p = str(path)
    out: dict[str, float] = {}
    if not zipfile.is_zipfile(p):
        return out
    with zipfile.ZipFile(p) as zf:
        root = _zip_root(zf, p)
        for name, t in tensors.items():
            if t.numel != 1:
                continue
            if t.dtype == "bfloat16":
                fmt, size = "<f", 2
            elif t.dtype in _SCALAR_FORMATS:
                fmt, size = _SCALAR_FORMATS[t.dtype]
            else:
                continue
            try:
                raw = zf.read(f"{root}/data/{t.storage_key}")[t.storage_offset * size : (t.storage_offset + 1) * size]
            except KeyError:
                continue
            if len(raw) == size:
                out[name] = struct.unpack(fmt, b"\x00\x00" + raw if t.dtype == "bfloat16" else raw)[0]
    return out
