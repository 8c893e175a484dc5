"""A folder of sample adapters as a user's A1111/ComfyUI ``models/Lora`` folder looks: the demo's input.

It holds kohya LoRAs for the base, a LoCon and a LoHa, an SDXL-shaped LoRA (the "wrong base"
case), a diffusers-format file, an embedding, subfolders, one file duplicated under another
name, and the sidecars other tools leave beside adapters: A1111's ``<stem>.json``, Civitai
Helper's ``<stem>.civitai.info`` and ``<stem>.preview.png``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.testing.adapter_files import autov3_hash, write_embedding, write_lora

# unet cross_attention_dim -> arch; the tiny pipelines use 32 (SD1) and 64 (SDXL).
_ARCH_BY_CROSS_DIM = {32: "tiny-sd1", 64: "tiny-sdxl", 768: "sd1", 1024: "sd2", 2048: "sdxl"}
_SD_VERSION = {"sd1": "SD1", "sd2": "SD2", "sdxl": "SDXL"}
_CIVITAI_BASE = {"sd1": "SD 1.5", "sd2": "SD 2.1 768", "sdxl": "SDXL 1.0"}
_EMBEDDING_DIM = {"tiny-sd1": 32, "tiny-sdxl": 32, "sd1": 768, "sd2": 1024}


@dataclass(frozen=True)
class SampleSpec:
    rel: str  # path under the folder, without suffix
    title: str
    trigger: str
    kind: str = "lora"  # lora | embedding
    write: dict[str, Any] = field(default_factory=dict)
    sidecars: tuple[str, ...] = ()  # "json", "civitai", "preview"
    tags: tuple[str, ...] = ()
    civitai_type: str = "LORA"


def base_arch(base: Path | None) -> str:
    """The arch of a diffusers pipeline folder (by its UNet's cross-attention width); tiny-sd1 when None."""
    if base is None:
        return "tiny-sd1"
    config = json.loads((Path(base) / "unet" / "config.json").read_text(encoding="utf-8"))
    cross = config.get("cross_attention_dim")
    if cross not in _ARCH_BY_CROSS_DIM:
        raise ValueError(f"{base}: unet cross_attention_dim {cross!r} is not a Stable Diffusion base I know")
    return _ARCH_BY_CROSS_DIM[cross]


def _specs(arch: str) -> list[SampleSpec]:
    # One adapter for the other family: the "made for another base" case.
    other = "tiny-sd1" if arch in ("sdxl", "tiny-sdxl") else "tiny-sdxl"
    return [
        SampleSpec(
            "anime-style",
            "Anime Style",
            "anime style",
            write={"rank": 4, "alpha": 2},
            sidecars=("json", "civitai", "preview"),
            tags=("style", "anime"),
        ),
        SampleSpec(
            "watercolor_v2",
            "Watercolor",
            "watercolor",
            write={"rank": 8, "alpha": 8, "components": ("unet",)},
            sidecars=("json", "preview"),
            tags=("style", "painting"),
        ),
        SampleSpec(
            "characters/tok-character",
            "Tok the Cat",
            "tok cat",
            write={"rank": 4, "alpha": 4},
            sidecars=("civitai", "preview"),
            tags=("character", "cat"),
        ),
        SampleSpec(
            "lycoris/pixel-art-locon",
            "Pixel Art (LoCon)",
            "pixel art",
            write={"algo": "locon", "rank": 4, "alpha": 1},
            sidecars=("json",),
            tags=("style", "pixel art"),
            civitai_type="LoCon",
        ),
        SampleSpec(
            "lycoris/oil-paint-loha",
            "Oil Paint (LoHa)",
            "oil painting",
            write={"algo": "loha", "rank": 4, "alpha": 4},
            sidecars=("civitai",),
            tags=("style", "painting"),
            civitai_type="LoCon",
        ),
        SampleSpec(
            "sdxl/cinematic-xl" if other == "tiny-sdxl" else "sd15/cinematic",
            "Cinematic XL" if other == "tiny-sdxl" else "Cinematic",
            "cinematic",
            write={"arch": other, "rank": 4, "alpha": 4},
            sidecars=("json", "preview"),
            tags=("style", "photo"),
        ),
        SampleSpec(
            "diffusers/sunset-diffusers",
            "Sunset (diffusers)",
            "sunset",
            write={"style": "diffusers", "rank": 4, "alpha": 8},
            sidecars=("preview",),
            tags=("concept",),
        ),
        SampleSpec(
            "embeddings/bad-hands-neg",
            "Bad Hands (negative embedding)",
            "bad-hands-neg",
            kind="embedding",
            sidecars=("json", "civitai"),
            tags=("negative", "embedding"),
            civitai_type="TextualInversion",
        ),
    ]


def _preview_png(path: Path, seed_text: str) -> None:
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(seed_text.encode()).digest()
    c1, c2, c3 = digest[0:3], digest[3:6], digest[6:9]
    size = 64
    image = Image.new("RGB", (size, size))
    pixels = [
        tuple(int(c1[k] * (1 - y / size) + c2[k] * (y / size)) for k in range(3))
        for y in range(size)
        for _ in range(size)
    ]
    image.putdata(pixels)
    draw = ImageDraw.Draw(image)
    r = 10 + digest[9] % 12
    cx, cy = 16 + digest[10] % 32, 16 + digest[11] % 32
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(c3))
    image.save(path, format="PNG")


def _a1111_json(spec: SampleSpec, arch: str) -> dict[str, Any]:
    return {
        "description": f"{spec.title}: a sample adapter written by hub.testing.",
        "sd version": _SD_VERSION[arch.removeprefix("tiny-")],
        "activation text": spec.trigger,
        "preferred weight": 0.8,
        "negative text": "",
        "notes": f"Works best at 0.6-0.9 with '{spec.trigger}' in the prompt.",
    }


def _civitai_info(spec: SampleSpec, arch: str, file: Path, index: int) -> dict[str, Any]:
    import blake3

    data = file.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest().upper()
    version_id = 100_000 + index
    hashes = {"SHA256": sha256, "AutoV2": sha256[:10], "BLAKE3": blake3.blake3(data).hexdigest().upper()}
    if file.suffix == ".safetensors":
        hashes["AutoV3"] = autov3_hash(data).upper()
    return {
        "id": version_id,
        "modelId": 50_000 + index,
        "name": "v1.0",
        "createdAt": "2024-05-01T12:00:00.000Z",
        "updatedAt": "2024-05-02T08:30:00.000Z",
        "trainedWords": [spec.trigger],
        "baseModel": _CIVITAI_BASE[arch.removeprefix("tiny-")],
        "description": f"<p>{spec.title}, first release.</p>",
        "model": {"name": spec.title, "type": spec.civitai_type, "nsfw": False, "poi": False, "tags": list(spec.tags)},
        "files": [
            {
                "name": file.name,
                "id": 200_000 + index,
                "sizeKB": round(len(data) / 1024, 3),
                "type": "Model" if spec.kind == "lora" else "Negative",
                "metadata": {"format": "SafeTensor", "size": None, "fp": "fp16"},
                "hashes": hashes,
                "primary": True,
                "downloadUrl": f"https://civitai.com/api/download/models/{version_id}",
            }
        ],
        "images": [
            {
                "url": f"https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/sample-{version_id}/width=512/preview.jpeg",
                "nsfw": "None",
                "width": 512,
                "height": 512,
                "hash": "U9Fr,;~q00of00Rj%Mxu",
                "meta": {"prompt": f"{spec.trigger}, masterpiece, best quality", "steps": 20, "cfgScale": 7},
            }
        ],
        "downloadUrl": f"https://civitai.com/api/download/models/{version_id}",
    }


def _write_one(folder: Path, spec: SampleSpec, arch: str, seed: int) -> Path:
    if spec.kind == "embedding":
        target = folder / f"{spec.rel}.safetensors"
        if arch in ("sdxl",):
            return write_embedding(target, style="sdxl", vectors=4, token=spec.trigger, seed=seed)
        return write_embedding(
            target, style="safetensors-emb-params", dim=_EMBEDDING_DIM[arch], vectors=4, token=spec.trigger, seed=seed
        )
    kwargs = {"arch": arch, **spec.write}
    metadata = None
    if kwargs.get("style", "kohya") == "kohya":
        metadata = {
            "ss_output_name": Path(spec.rel).name,
            "ss_training_comment": f"trigger word: {spec.trigger}",
            "ss_tag_frequency": json.dumps({f"10_{spec.trigger}": {spec.trigger: 40, "solo": 22, "outdoors": 9}}),
            "modelspec.title": spec.title,
        }
    return write_lora(folder / f"{spec.rel}.safetensors", seed=seed, metadata=metadata, **kwargs)


def write_sample_library(folder: Path, *, base: Path | None = None, count: int = 8) -> list[Path]:
    """Write ``count`` sample adapters (+ one duplicate and the sidecars) under ``folder``; return the adapter files.

    ``base`` is a diffusers pipeline folder (default: the tiny SD1 pipeline's layout); the main adapters fit it.
    The first 8 are hand-made (see :func:`_specs`); more are plain kohya LoRAs under ``extras/``.
    """
    folder = Path(folder)
    arch = base_arch(base)
    specs = _specs(arch)[:count]
    for i in range(len(specs), count):
        specs.append(
            SampleSpec(f"extras/extra-style-{i:02d}", f"Extra Style {i}", f"extra style {i}", write={"rank": 2})
        )
    written: list[Path] = []
    for index, spec in enumerate(specs):
        file = _write_one(folder, spec, arch, seed=index)
        file_arch = spec.write.get("arch", arch)
        stem = file.with_suffix("")
        if "json" in spec.sidecars:
            Path(f"{stem}.json").write_text(json.dumps(_a1111_json(spec, file_arch), indent=4), encoding="utf-8")
        if "civitai" in spec.sidecars:
            info = _civitai_info(spec, file_arch, file, index)
            Path(f"{stem}.civitai.info").write_text(json.dumps(info, indent=4), encoding="utf-8")
        if "preview" in spec.sidecars:
            _preview_png(Path(f"{stem}.preview.png"), spec.title)
        written.append(file)
    if written:
        # The same bytes under another name, as happens when a download is saved twice.
        # "_copy" sorts after the original, so an importer walking in name order meets the original (and its
        # sidecars) first.
        duplicate = written[0].with_name(f"{written[0].stem}_copy{written[0].suffix}")
        shutil.copyfile(written[0], duplicate)
        written.append(duplicate)
    return written
