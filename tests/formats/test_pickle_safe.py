"""The restricted unpickler: tensors in, code refused (and never run), torch-free structure reading."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hub.errors import BadFileError, UnsafePickleError
from hub.formats.pickle_safe import PickledTensor, load_pickle_tensors, read_pickle_scalars, read_pickle_structure

REPO_ROOT = Path(__file__).resolve().parents[2]


class _RunsShell:
    """Unpickling this calls os.system: exactly what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_bytes(marker: Path) -> bytes:
    return pickle.dumps({"lora_unet_x.lora_down.weight": _RunsShell(marker)}, protocol=2)


def _torch_like_zip(path: Path, data_pkl: bytes, root: str = "evil_model") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{root}/data.pkl", data_pkl)
        zf.writestr(f"{root}/version", "3\n")
        zf.writestr(f"{root}/data/0", b"\x00" * 16)
    return path


@pytest.mark.parametrize("layout", ["raw", "zip"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, layout: str) -> None:
    marker = tmp_path / "pwned"
    payload = _evil_bytes(marker)
    if layout == "raw":
        path = tmp_path / "evil.pt"
        path.write_bytes(payload)
    else:
        path = _torch_like_zip(tmp_path / "evil.bin", payload)

    with pytest.raises(UnsafePickleError) as info:
        read_pickle_structure(path)
    msg = str(info.value)
    assert "refused to unpickle" in msg and "'posix.system'" in msg and "only tensors are allowed" in msg
    assert "\n" not in msg and info.value.path == str(path)
    assert not marker.exists()

    # The torch path too: weights_only refuses, the fallback refuses and names the global, nothing runs.
    with pytest.raises(UnsafePickleError, match=r"posix\.system"):
        load_pickle_tensors(path)
    assert not marker.exists()


def test_eval_and_foreign_classes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "eval.pt"
    # GLOBAL builtins.eval + REDUCE, written by hand (protocol 0)
    path.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(UnsafePickleError, match=r"'builtins\.eval'"):
        read_pickle_structure(path)
    path2 = tmp_path / "peft.bin"
    path2.write_bytes(b"\x80\x02cpeft\nLoraConfig\n)\x81.")
    with pytest.raises(UnsafePickleError, match=r"'peft\.LoraConfig'"):
        read_pickle_structure(path2)


def test_structure_of_a_torch_zip_uses_stubs_and_any_root_folder(tmp_path: Path) -> None:
    import torch

    sd = {"a.lora_down.weight": torch.zeros(4, 320, dtype=torch.float16), "a.alpha": torch.tensor(2.5)}
    path = tmp_path / "weights.bin"
    torch.save(sd, path)
    with zipfile.ZipFile(path) as zf:
        assert any(n.startswith("weights/") for n in zf.namelist())  # torch names the root after the file
    obj = read_pickle_structure(path)
    assert obj["a.lora_down.weight"] == PickledTensor("float16", (4, 320), "0", 0, "cpu")
    assert obj["a.alpha"].shape == ()
    assert read_pickle_scalars(path, {"a.alpha": obj["a.alpha"]}) == {"a.alpha": 2.5}


def test_legacy_non_zip_layout_structure(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "legacy.pt"
    torch.save({"emb_params": torch.zeros(3, 768)}, path, _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(path)
    obj = read_pickle_structure(path)
    assert isinstance(obj["emb_params"], PickledTensor) and obj["emb_params"].shape == (3, 768)


def test_a1111_parameterdict_loads_as_plain_dict_on_cpu(real_adapters: Path) -> None:
    import torch

    path = real_adapters / "embedding/lazealia__Stable_Diff_WebUI_with_Ext__embeddings__bad-image-v2-39000.pt"
    with pytest.raises(Exception):  # noqa: B017 - weights_only alone refuses ParameterDict
        torch.load(path, map_location="cpu", weights_only=True)
    obj = load_pickle_tensors(path)
    params = obj["string_to_param"]
    assert type(params) is not torch.nn.ParameterDict and dict(params).keys() == {"*"}
    t = params["*"]
    assert isinstance(t, torch.Tensor) and t.shape == (4, 768) and t.device.type == "cpu"
    assert torch.isfinite(t).all() and t.abs().sum() > 0


def test_cuda_storages_map_to_cpu(real_adapters: Path) -> None:
    path = real_adapters / "lora/cloneofsimo__lora__lora_kiriko.pt"
    stub = read_pickle_structure(path)
    assert stub[0].device == "cuda:0"
    tensors = load_pickle_tensors(path)
    assert isinstance(tensors, list) and len(tensors) == len(stub)
    assert all(t.device.type == "cpu" for t in tensors) and tensors[0].shape == stub[0].shape


def test_peft_config_pickle_is_refused(real_adapters: Path) -> None:
    path = (
        real_adapters
        / "negative/monsy101__depi-project__deployment__models__stable_diffusion_finetune_v1__pytorch_lora_weights.bin"
    )
    with pytest.raises(UnsafePickleError, match=r"peft\.utils\.peft_types\.PeftType"):
        read_pickle_structure(path)
    with pytest.raises(UnsafePickleError, match=r"peft\.utils\.peft_types\.PeftType"):
        load_pickle_tensors(path)


def test_garbage_is_a_bad_file_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(b"\x80\x02}q\x00(X\x01")  # a pickle cut in the middle
    with pytest.raises(BadFileError) as info:
        read_pickle_structure(path)
    assert not isinstance(info.value, UnsafePickleError)
    notzip = tmp_path / "notes.zip.pt"
    with zipfile.ZipFile(notzip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(BadFileError, match="not a torch checkpoint"):
        read_pickle_structure(notzip)


def test_structure_reading_never_imports_torch(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"x": 1}))
    path = tmp_path / "plain.pt"
    path.write_bytes(buf.getvalue())
    code = (
        "import sys, json; from hub.formats.pickle_safe import read_pickle_structure; "
        f"obj = read_pickle_structure({str(path)!r}); print(json.dumps([obj, 'torch' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [{"x": 1}, False]
