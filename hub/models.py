"""The vocabulary every package shares: the frozen base of all public results, the progress callback type,
and the registry's rows and results (``hub.compose.results`` and ``hub.sync.results`` build on them).
Pydantic only: no torch, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Arch = Literal["sd1", "sd2", "sdxl", "flux", "tiny", "unknown"]  # tiny: the embedded base (`--base tiny`)
# What a file is. "sidecar" and "not-sd" are answers of the prober, never registry rows.
Kind = Literal["lora", "lycoris", "embedding", "lora+embedding", "sidecar", "not-sd"]
Container = Literal["safetensors", "pickle", "json"]

ARCHES: tuple[str, ...] = ("sd1", "sd2", "sdxl", "flux", "tiny", "unknown")
COMPONENTS: tuple[str, ...] = ("unet", "text_encoder", "text_encoder_2", "transformer", "t5")


# What long verbs call as they go: (done, total) in the verb's unit (files, modules); the CLI draws a bar from it.
Progress = Callable[[int, int], None]


class Frozen(BaseModel):
    """The base of every public result: immutable, so a result handed out is the result recorded.

    ``defer_build``: a class's validator is built on its first use, not at import, so a command pays only for the
    results it makes (`hub ls --json` makes none: SQLite writes the JSON)."""

    model_config = ConfigDict(frozen=True, defer_build=True)


class ProbeResult(Frozen):
    """What the header of an adapter file says, read without loading any tensor data."""

    kind: Kind
    format: str
    arch: Arch = "unknown"
    container: Container = "safetensors"
    rank: int | None = None  # the most common rank across modules
    ranks: list[int] = Field(default_factory=list)  # every distinct rank, sorted
    alpha: float | None = None  # network alpha when uniform (tensors, metadata or adapter_config.json)
    scale: float | None = None  # alpha / rank when uniform: the multiplier applied to up @ down
    modules: dict[str, int] = Field(default_factory=dict)  # component -> number of adapted modules
    dtype: str | None = None  # e.g. "float16"; "mixed" when several
    tensor_count: int = 0
    vectors: int | None = None  # textual inversion: number of embedding vectors
    tokens: list[str] = Field(default_factory=list)  # textual inversion / pivotal tuning token names
    metadata: dict[str, str] = Field(default_factory=dict)  # safetensors __metadata__, verbatim
    header_size: int | None = None  # 8 + N for safetensors: AutoV3 hashes the bytes after it
    truncated: bool = False  # the header promises more bytes than the file has
    usable: bool = True  # False: recognised, but no loader for it yet (``note`` says why)
    note: str | None = None
    evidence: list[str] = Field(default_factory=list)  # why the prober decided arch/format, for `hub show`


class FileHashes(Frozen):
    """Civitai / A1111 hashes, lowercase hex as stored; :meth:`civitai` gives Civitai's printed form."""

    sha256: str
    autov1: str | None  # None below 2 MiB, as Civitai
    autov2: str
    autov3: str | None  # None for files that are not safetensors
    blake3: str
    crc32: str  # already byte-reversed as Civitai prints it

    def civitai(self) -> dict[str, str | None]:
        return {k: (v.upper() if isinstance(v, str) else v) for k, v in self.model_dump().items()}


class LineageEdge(Frozen):
    parent_id: str | None  # None when the parent is not in the registry (a base model id, a remote file)
    parent_ref: str  # human reference: registry name, hash, hf id or path
    child_id: str
    operation: str  # trained-from, mixed-from, resized-from, converted-from, scaled-from, pulled-from, extracted-from
    params: dict[str, Any] = Field(default_factory=dict)
    created_at: str | None = None


class RemoteRef(Frozen):
    repo: str
    revision: str
    commit: str | None = None
    path: str | None = None
    direction: Literal["push", "pull"] = "push"
    at: str | None = None


class Preview(Frozen):
    path: str
    source: str | None = None  # the sidecar or remote it came from
    nsfw_level: int | None = None  # Civitai's level of the image: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX
    infotext: str | None = None  # its generation parameters, A1111's text (Civitai images)


class CivitaiLicense(Frozen):
    """The model's licence terms as Civitai lists them."""

    commercial_use: list[str] = Field(default_factory=list)  # e.g. ["Image", "RentCivit"]; [] = none allowed
    credit_required: bool | None = None  # not allowNoCredit
    derivatives: bool | None = None
    different_license: bool | None = None


class CivitaiInfo(Frozen):
    """What Civitai said about an adapter's file (``hub civitai``), as recorded."""

    status: Literal["found", "unknown", "gone"]  # unknown: Civitai does not know the hash; gone: deleted since
    checked_at: str
    found_at: str | None = None
    lookup: str | None = None  # the hash asked, "sha256:<hex>"
    model_id: int | None = None
    version_id: int | None = None
    model_name: str | None = None
    version_name: str | None = None
    creator: str | None = None
    model_type: str | None = None
    base_model: str | None = None  # Civitai's label ("Pony", "SDXL 1.0")
    base_arch: str | None = None  # the label as our arch names
    nsfw: bool = False
    nsfw_level: int | None = None
    trained_words: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    description: str | None = None  # sanitised HTML
    license: CivitaiLicense = Field(default_factory=CivitaiLicense)
    page_url: str | None = None
    download_url: str | None = None
    published_at: str | None = None
    file_size: int | None = None


class Adapter(Frozen):
    """One registry row: one adapter file version."""

    id: str
    name: str
    kind: Kind
    format: str
    arch: Arch
    base_label: str | None = None
    rank: int | None = None
    ranks: list[int] = Field(default_factory=list)
    alpha: float | None = None
    scale: float | None = None
    modules: dict[str, int] = Field(default_factory=dict)
    dtype: str | None = None
    size: int
    sha256: str | None = None  # None until hashed (``hub add --no-hash``)
    triggers: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    description: str | None = None
    license: str | None = None
    preferred_weight: float | None = None
    source: str  # a local path, hf://repo@commit/file, trained:..., mixed:...
    path: str  # where the bytes are now (a store blob, or the original file for --in-place)
    stored: bool = True  # True when the bytes are in the content-addressed store
    usable: bool = True
    note: str | None = None
    created_at: str | None = None
    imported_at: str | None = None


class Removed(Adapter):
    """``hub rm``'s answer: the row that went, and the entries made from it (their lineage and rebuild commands
    still name it, by name and by SHA256 prefix)."""

    children: list[str] = Field(default_factory=list)


class AdapterDetail(Adapter):
    """Everything ``hub show`` prints."""

    hashes: FileHashes | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    sidecars: dict[str, Any] = Field(default_factory=dict)
    previews: list[Preview] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list)
    parents: list[LineageEdge] = Field(default_factory=list)
    children: list[LineageEdge] = Field(default_factory=list)
    remotes: list[RemoteRef] = Field(default_factory=list)
    recipe: dict[str, Any] | None = None
    evidence: list[str] = Field(default_factory=list)
    civitai: CivitaiInfo | None = None  # what `hub civitai` recorded


class AddOutcome(Frozen):
    path: str
    status: Literal["added", "duplicate", "rejected", "skipped"]
    adapter: Adapter | None = None
    message: str | None = None  # why rejected, or which entry it duplicates
    exit_code: int | None = None


class ImportReport(Frozen):
    outcomes: list[AddOutcome]  # one per file seen, skipped ones (not an adapter's extension) included
    interrupted: bool = False  # Ctrl-C: the outcomes are the files finished before it; the rest were not read

    @property
    def skipped(self) -> list[AddOutcome]:
        return [o for o in self.outcomes if o.status == "skipped"]

    @property
    def added(self) -> list[AddOutcome]:
        return [o for o in self.outcomes if o.status == "added"]

    @property
    def duplicates(self) -> list[AddOutcome]:
        return [o for o in self.outcomes if o.status == "duplicate"]

    @property
    def rejected(self) -> list[AddOutcome]:
        return [o for o in self.outcomes if o.status == "rejected"]


class VerifyResult(Frozen):
    adapter_id: str
    name: str
    path: str
    # repaired: missing or damaged, and found again by its SHA256 (``note`` says where); orphan: stored bytes whose
    # hash no entry has
    status: Literal["ok", "missing", "changed", "unhashed", "repaired", "orphan"]
    expected_sha256: str | None = None
    actual_sha256: str | None = None
    note: str | None = None


class DupeGroup(Frozen):
    by: Literal["sha256", "autov3"]
    value: str
    adapters: list[Adapter]
    paths: list[str] = Field(default_factory=list)


class ParentLink(Frozen):
    """A lineage edge to write when registering a new adapter (the child is the new row)."""

    parent_ref: str  # registry name/id/hash, an HF id, a base model path
    operation: str  # trained-from, mixed-from, resized-from, converted-from, scaled-from, pulled-from, extracted-from
    params: dict[str, Any] = Field(default_factory=dict)  # e.g. {"weight": 0.7, "method": "svd", "rank": 16}
    parent_id: str | None = None  # filled by the registry when parent_ref resolves to a row


class GalleryResult(Frozen):
    """``hub gallery``: the contact sheet written."""

    path: str
    adapters: int
    with_preview: int
    blurred: int = 0  # previews blurred: NSFW above the LORAHUB_NSFW_BLUR setting


class LinkedFile(Frozen):
    """One file of a ``hub link`` folder and what this run did with it."""

    path: str  # relative to the folder, ``/``-separated: loras/NAME.safetensors, loras/NAME.json, ...
    role: Literal["lora", "embedding", "preview", "a1111", "civitai", "comfyui-paths"]
    adapter: str | None = None  # the adapter's registry name (None: the folder's own files)
    adapter_id: str | None = None
    # created/updated/unchanged/removed: hub link's own files; kept: one it made that was changed since (a sidecar
    # edited in the UI), left as it is; blocked: a file of the user's has that name, nothing written; missing: the
    # adapter's own file is missing (`hub verify` finds it), nothing linked
    status: Literal["created", "updated", "unchanged", "removed", "kept", "blocked", "missing"]
    how: Literal["hardlink", "symlink", "file"] | None = None  # file: written (sidecars), never a copy of an adapter
    note: str | None = None


class LinkResult(Frozen):
    """``hub link DIR``: the folder laid out for A1111/Forge and ComfyUI."""

    folder: str
    ui: Literal["a1111", "comfyui", "both"]
    adapters: int  # adapters selected (linked, or blocked/missing as ``files`` says)
    files: list[LinkedFile]
    changed: bool  # False: the folder already was what was asked, nothing was written

    @property
    def links(self) -> list[LinkedFile]:
        return [
            f
            for f in self.files
            if f.role in ("lora", "embedding") and f.status in ("created", "updated", "unchanged")
        ]


class DemoResult(Frozen):
    """``hub demo``: the tiny base, its sample adapters imported, a LoRA trained on a subject and rendered before
    and after, mixed with a sample."""

    home: str  # the demo's own registry home (``<home>/demo``), never the user's registry
    base: str
    base_dir: str
    samples_dir: str
    report: ImportReport
    trained: Adapter  # the LoRA trained on the demo's drawn pictures
    train_command: str  # the recipe: `hub train ...` that retrains it
    train_seconds: float
    train_loss: tuple[float, float]  # (first step, last step)
    run_dir: str  # the training run: loss curve, sample grids, log
    subject_dir: str  # the drawn pictures of the subject (an orange ball) and their captions, trained on
    pictures_dir: str  # the before/after picture and the weight grid
    prompt: str  # what they render: "a photo of a sks ball on a green background"
    before_after: str  # the base alone, then with the LoRA (same seeds)
    weight_grid: str  # the LoRA's weight from 0 to 1 along X, seeds down Y
    subject_before: float  # share of the before pictures that show the subject (read from the pixels)
    subject_after: float
    mixed: Adapter | None = None  # the trained LoRA and a sample merged by SVD, registered with lineage
    mix_command: str | None = None
    adapters: list[Adapter]
