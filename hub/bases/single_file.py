"""Single-file base checkpoints (A1111/civitai style, original LDM/SGM key layout): what one is, read safely, and
the diffusers configs it needs to become a pipeline.

``.safetensors`` is read from its header; ``.ckpt``/``.pt``/``.pth`` through the project's restricted unpickler
(:mod:`hub.formats.pickle_safe`: only tensors and plain containers, torch-free, no storage read), so a pickle that
would run code is refused here, before diffusers (which loads it with ``torch.load(weights_only=True)``) sees it.

A single file holds weights only. diffusers' ``from_single_file`` takes the component configs (layer counts,
widths, scheduler, tokenizer) from a diffusers folder of the same architecture (``config=``), or else downloads
the reference repo's for the architecture it guesses; it has no built-in copy, so offline a folder is required.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.errors import IncompatibleError, RemoteError, UnsupportedFormatError

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth")
SUFFIXES = (".safetensors", *PICKLE_SUFFIXES)


def checkpoint_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes of a single-file checkpoint, without reading any tensor data."""
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from hub.formats.safetensors_header import read_header

        return {k: tuple(t.shape) for k, t in read_header(path).tensors.items()}
    if suffix not in PICKLE_SUFFIXES:
        raise UnsupportedFormatError(
            f"not a single-file checkpoint: {path.name}",
            path=str(path),
            hint=f"give a diffusers folder or a {', '.join(SUFFIXES)} checkpoint",
        )
    from hub.formats.pickle_safe import PickledTensor, read_pickle_structure

    state = read_pickle_structure(path)  # raises UnsafePickleError for anything but tensors and containers
    while isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # Lightning checkpoints nest the weights (several levels in some)
    if not isinstance(state, dict):
        return {}
    return {str(k): tuple(v.shape) for k, v in state.items() if isinstance(v, PickledTensor)}


def checkpoint_arch(path: Path) -> str:
    """sd1 / sd2 / sdxl / tiny / unknown from the checkpoint's text-encoder keys and width (as ``hub fuse`` reads
    them)."""
    from hub.compose.model_files import ModelFiles, WeightFile, detect_arch, open_base

    if path.suffix.lower() == ".safetensors":
        return detect_arch(open_base(path))  # also refuses a file that is no SD checkpoint (an adapter, say)
    shapes = checkpoint_shapes(path)
    return detect_arch(
        ModelFiles(path.parent, "single-file", [WeightFile(path, path.name, None, list(shapes), shapes)])
    )


def config_folder_facts(config: str | None) -> tuple[str | None, str | None]:
    """(arch, prediction type) of a local ``--base-config`` folder; (None, None) for an id or nothing."""
    if not config or not Path(config).expanduser().is_dir():
        return None, None
    from hub.bases.api import folder_arch

    folder = Path(config).expanduser()
    try:
        scheduler = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    except (OSError, ValueError):
        scheduler = {}
    return folder_arch(folder), str(scheduler.get("prediction_type") or "epsilon")


def check_config_arch(path: Path, arch: str, config: str | None) -> None:
    """Refuse a local ``config`` folder of another architecture than the checkpoint (an SD1 folder for an SDXL
    file): read from both files' configs and keys, before diffusers is imported or a weight is read."""
    config_arch, _ = config_folder_facts(config)
    if config_arch and arch != "unknown" and config_arch != arch:
        raise IncompatibleError(
            f"--base-config {config} is {config_arch}, but checkpoint {path.name} is {arch}",
            hint=f"give a diffusers folder of an {arch} model",
        )


def load_single_file(cls: Any, path: Path, arch: str, kwargs: dict[str, Any], config: str | None) -> Any:
    """``cls.from_single_file`` with the configs of ``config`` (a diffusers folder or HF id) when given; every
    failure is one line naming what to give."""
    check_config_arch(path, arch, config)
    if config:
        kwargs = {**kwargs, "config": str(Path(config).expanduser()) if Path(config).expanduser().is_dir() else config}
    try:
        pipe = cls.from_single_file(str(path), **kwargs)
    except OSError as e:  # no configs: none given, none in the HF cache, none downloadable
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RemoteError(
            f"cannot load single-file checkpoint {path.name} ({arch}): its diffusers configs are missing ({first})",
            hint="give them with --base-config FOLDER (a diffusers folder of the same architecture and sizes; "
            "a single file holds weights only), or go online once so diffusers caches its reference configs",
        ) from None
    except (ValueError, RuntimeError, KeyError) as e:  # the configs do not fit the weights
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise IncompatibleError(
            f"checkpoint {path.name} does not fit the configs it was given: {first}",
            hint="--base-config must be a diffusers folder of the same architecture and sizes as the checkpoint",
        ) from None
    _check_complete(pipe, path)
    return pipe


def _check_complete(pipe: Any, path: Path) -> None:
    """diffusers leaves a weight the configs ask for but the file lacks on the ``meta`` device (a 12-layer text
    encoder config on an 11-layer file, say): refuse here rather than fail, or mislead, at the first step."""
    for name, component in pipe.components.items():
        if not hasattr(component, "state_dict"):
            continue
        missing = [k for k, t in component.state_dict().items() if t.device.type == "meta"]
        if missing:
            raise IncompatibleError(
                f"checkpoint {path.name} lacks {len(missing)} {name} weight(s) its configs ask for ({missing[0]})",
                hint="--base-config must be a diffusers folder of the same architecture and sizes as the checkpoint",
            )
