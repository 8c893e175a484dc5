"""Resolve a base reference to files on disk, read its architecture, and load its diffusers pipeline.

Used by ``fuse``/``extract`` (files only), ``train`` and ``gen`` (a pipeline). Nothing heavy is imported until a
function that needs it runs: resolving a local path imports nothing beyond the standard library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hub.bases.quiet import quiet_loading
from hub.errors import BadFileError, NotFoundError
from hub.paths import Paths

if TYPE_CHECKING:
    import torch

    from hub.formats.module_tables import ModuleTable

# The embedded bases: names a user can type instead of a path or an id.
TINY_BASES: dict[str, Literal["sd1", "sdxl"]] = {"tiny": "sd1", "tiny-sd1": "sd1", "tiny-sdxl": "sdxl"}

_DOWNLOAD_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors", "**/*.safetensors", "**/*.json", "**/*.txt"]


@dataclass(frozen=True)
class BaseInfo:
    """What a base is: its reference as given, where it lies, its layout and architecture (a stdlib dataclass:
    a training process imports no pydantic before its steps are over)."""

    ref: str
    path: Path
    layout: Literal["diffusers", "single-file"]
    arch: str  # sd1 | sd2 | sdxl | tiny (the embedded base, an SD1 layout) | unknown
    prediction_type: str = "epsilon"  # or v_prediction (SD2.x 768) / sample


def resolve_base(ref: str, *, revision: str | None = None, paths: Paths | None = None) -> Path:
    """``tiny``/``tiny-sdxl`` -> the embedded base (built once under the home's cache); a local path as is;
    otherwise a Hugging Face model id, downloaded into huggingface_hub's cache."""
    if ref in TINY_BASES:
        from hub.bases.tiny import tiny_pipeline_dir

        return tiny_pipeline_dir(TINY_BASES[ref], paths=paths)
    p = Path(ref).expanduser()
    if p.exists():
        return p
    if ref.count("/") != 1 or ref.startswith((".", "/")):
        raise NotFoundError(
            f"no such base model: {ref}",
            hint="give 'tiny', a diffusers folder, a .safetensors/.ckpt checkpoint or a Hugging Face model id",
        )
    from hub.sync import client

    # The sync package's error table: a missing repo is NotFoundError (exit 3), a private or gated one an
    # AuthError with the token hint, a server or connection failure RemoteError (exit 7), offline its own line.
    with client.remote_errors("download", ref, revision=revision):
        return client.snapshot(ref, revision=revision, allow_patterns=_DOWNLOAD_PATTERNS)


def describe_base(
    ref: str, *, revision: str | None = None, paths: Paths | None = None, config: str | None = None
) -> BaseInfo:
    """Where ``ref`` lies and what it is (architecture read from its configs or checkpoint keys, never assumed).

    A single file's prediction type is its ``config`` folder's (diffusers' reference configs otherwise: the
    loaded pipeline's scheduler is the final word); a ``config`` folder of another architecture than the file's
    is refused here (IncompatibleError), before anything heavy is imported."""
    path = resolve_base(ref, revision=revision, paths=paths)
    if path.is_dir():
        return BaseInfo(ref=ref, path=path, layout="diffusers", arch=folder_arch(path),
                        prediction_type=_prediction_type(path))  # fmt: skip
    from hub.bases.single_file import check_config_arch, checkpoint_arch, config_folder_facts

    arch = checkpoint_arch(path)
    check_config_arch(path, arch, config)
    _, predicts = config_folder_facts(config)
    return BaseInfo(ref=ref, path=path, layout="single-file", arch=arch,
                    prediction_type=predicts or "epsilon")  # fmt: skip


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def folder_arch(folder: Path) -> str:
    """sd1 / sd2 / sdxl / tiny / unknown of a diffusers folder, from its configs."""
    index = _read_json(folder / "model_index.json")
    if "text_encoder_2" in index or "XL" in str(index.get("_class_name", "")):
        return "sdxl"
    unet = _read_json(folder / "unet" / "config.json")
    from hub.formats.module_tables import TINY_ARCH, is_tiny_config

    if unet and is_tiny_config(unet, _read_json(folder / "text_encoder" / "config.json")):
        return TINY_ARCH  # the embedded base (or a copy of it): its adapters are tiny's, not SD1's
    width = unet.get("cross_attention_dim")
    if width == 1024:
        return "sd2"
    if width == 768:
        return "sd1"
    if "text_encoder" not in index:
        return "unknown"
    # A small base built with diffusers' own classes, by its structure: SD2.x has linear proj_in/proj_out and an
    # OpenCLIP text encoder (gelu); SD1.x 1x1-conv projections and OpenAI CLIP (quick_gelu).
    act = _read_json(folder / "text_encoder" / "config.json").get("hidden_act")
    return "sd2" if unet.get("use_linear_projection") or act == "gelu" else "sd1"


def module_table(info: BaseInfo) -> ModuleTable | None:
    """The modules of the base, with their widths, read from its configs alone (no weight is opened): the
    packaged table of the base it is (the embedded tiny one, a real SD1, SD2 or SDXL), else None."""
    from hub.formats.module_tables import TINY_ARCH, packaged_table, table_of_configs

    if info.layout == "single-file":
        # only the tiny arch is told by widths; a "sd1" file may be an SD1 layout of other sizes
        return packaged_table(TINY_ARCH) if info.arch == TINY_ARCH else None
    components = ("unet", "text_encoder", "text_encoder_2")
    configs = {c: _read_json(info.path / c / "config.json") for c in components if (info.path / c).is_dir()}
    return table_of_configs(configs) if configs.get("unet") else None


def _prediction_type(folder: Path) -> str:
    return str(_read_json(folder / "scheduler" / "scheduler_config.json").get("prediction_type") or "epsilon")


def load_pipeline(
    ref: str,
    *,
    revision: str | None = None,
    paths: Paths | None = None,
    dtype: torch.dtype | None = None,
    device: str | None = None,
    config: str | None = None,
) -> Any:
    """A diffusers pipeline for ``ref`` (SD1/SD2 or SDXL class chosen from the base), on ``device`` in ``dtype``.

    A single-file checkpoint needs the diffusers configs of its architecture: ``config`` (a local diffusers
    folder or a Hugging Face id); without it diffusers fetches its reference repo's configs (cached after once)."""
    import torch

    info = describe_base(ref, revision=revision, paths=paths, config=config)
    with quiet_loading():  # importing the pipelines is when transformers notes the missing torchvision
        import diffusers  # one pipeline class imported: the other's modules (and guiders) would only cost memory

        cls = diffusers.StableDiffusionXLPipeline if info.arch == "sdxl" else diffusers.StableDiffusionPipeline
        kwargs: dict[str, Any] = {"torch_dtype": dtype or torch.float32}
        if info.arch != "sdxl":
            kwargs.update(safety_checker=None, requires_safety_checker=False)
        from safetensors import SafetensorError

        try:
            if info.layout == "diffusers":
                pipe = cls.from_pretrained(str(info.path), **kwargs)
            else:
                from hub.bases.single_file import load_single_file

                pipe = load_single_file(cls, info.path, info.arch, kwargs, config)
        except SafetensorError as e:  # diffusers wraps a bad file in OSError; transformers lets this through
            raise BadFileError(f"{info.path}: a weights file of this base cannot be read ({e})",
                               hint="the base is damaged or incomplete: download or copy it again") from e  # fmt: skip
    if device:
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe
