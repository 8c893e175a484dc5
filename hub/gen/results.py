"""What ``hub gen`` / ``hub grid`` take and return. Pydantic only: no torch, no I/O."""

from __future__ import annotations

from pydantic import Field

from hub.models import Frozen


class LoraUse(Frozen):
    """One adapter in a render: ``<lora:name:weight>`` in A1111's terms."""

    name: str  # registry name, id, hash prefix or file path: what the user (or the infotext) gave
    weight: float = 1.0
    hash: str | None = None  # AutoV3 prefix from the infotext's "Lora hashes": found first when re-rendering


class GenRequest(Frozen):
    """Everything that decides the pixels. Parsed back from a PNG, it renders the same image again."""

    prompt: str
    negative: str = ""
    loras: list[LoraUse] = Field(default_factory=list)
    base: str | None = None  # None: the adapters' recorded base
    seed: int | None = None  # None: a random one, written into the result
    steps: int = 20
    cfg: float = 7.0
    width: int | None = None  # None: the base's native size
    height: int | None = None
    n: int = 1  # images; image i uses seed + i, as A1111's batches
    sampler: str | None = None  # an A1111 name ("Euler a", "DPM++ 2M Karras"); None: the base's own scheduler
    # Infotext fields hub does not act on (Clip skip, Hires upscale, ...): kept so a round trip loses nothing.
    extra: dict[str, str] = Field(default_factory=dict)


class GeneratedImage(Frozen):
    path: str
    seed: int
    infotext: str  # the PNG's "parameters" text chunk, verbatim
    request: GenRequest  # fully resolved (seed, size, sampler, base, adapter hashes): read_png(path) gives this


class GenResult(Frozen):
    images: list[GeneratedImage]
    base: str
    arch: str
    sampler: str
    device: str
    dtype: str
    loras: list[LoraUse] = Field(default_factory=list)  # resolved: registry names and AutoV3 hashes
    previews_set: list[str] = Field(default_factory=list)  # adapter names whose preview is now the first image
    load_seconds: float = 0.0  # pipeline + adapters (0 when a Renderer had them loaded already)
    seconds: float = 0.0  # the whole call


class GridCell(Frozen):
    column: int
    row: int
    weights: dict[str, float]  # axis adapter name -> weight in this cell
    seed: int
    box: tuple[int, int, int, int]  # left, top, right, bottom of the image inside the grid PNG
    infotext: str


class GridResult(Frozen):
    path: str
    width: int
    height: int
    columns: list[str]  # X labels, left to right
    rows: list[str]  # Y labels, top to bottom
    cells: list[GridCell]
    base: str
    sampler: str
    device: str
    load_seconds: float = 0.0
    seconds: float = 0.0
