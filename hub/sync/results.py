"""Typed results of ``push``, ``pull`` and ``search``. Pydantic only: no I/O, no huggingface_hub."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.models import Adapter, CivitaiInfo, Frozen


class PushResult(Frozen):
    """One adapter pushed (or not) to one repo."""

    name: str
    adapter_id: str
    repo: str
    revision: str  # the branch written to
    status: Literal["created", "updated", "unchanged", "failed"]
    commit: str | None = None  # the new commit, or the unchanged head
    url: str | None = None  # the repo page (or the commit page when a commit was made)
    private: bool = False
    primary: str | None = None  # repo path of the original (the registered file, byte for byte)
    uploaded: list[str] = Field(default_factory=list)  # repo paths in the new commit
    unchanged: list[str] = Field(default_factory=list)  # repo paths already identical on the Hub
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None  # why, when status is "failed" (push_all keeps going)


class PulledFile(Frozen):
    path: str  # repo-relative weight file
    sha256: str
    size: int | None = None
    status: Literal["added", "already-registered", "unchanged"]
    adapter: Adapter
    previews: list[str] = Field(default_factory=list)  # repo paths of the preview images taken from the card


class PullResult(Frozen):
    repo: str
    revision: str  # what was asked for (branch, tag or commit)
    commit: str  # what it resolved to
    offline: bool = False  # served from the local Hugging Face cache only
    files: list[PulledFile]

    @property
    def adapter(self) -> Adapter:
        return self.files[0].adapter


class RemoteModel(Frozen):
    """One LoRA repo found by ``search``."""

    id: str
    author: str | None = None
    arch: str = "unknown"  # from the repo's tags / base model
    base_model: str | None = None
    trigger: str | None = None  # instance_prompt of the card, when the Hub sent card data
    tags: list[str] = Field(default_factory=list)
    downloads: int | None = None
    likes: int | None = None
    last_modified: str | None = None
    private: bool | None = None
    url: str


class CivitaiOutcome(Frozen):
    """``hub civitai``: one adapter looked up (or not)."""

    adapter_id: str
    name: str
    # found: recorded now; unknown: Civitai does not know its hash (recorded with the date); gone: found before, since
    # deleted on Civitai (what was recorded is kept); recorded: asked before, not asked again (--refresh asks);
    # skipped: not hashed yet; failed: Civitai's answer was unusable (``error`` says how), nothing recorded
    status: Literal["found", "unknown", "gone", "recorded", "skipped", "failed"]
    info: CivitaiInfo | None = None
    previews: int = 0  # images downloaded and kept now
    notes: list[str] = Field(default_factory=list)  # images left out, and why
    error: str | None = None


class CivitaiReport(Frozen):
    outcomes: list[CivitaiOutcome]
    requests: int = 0  # HTTP requests made (retries included)

    @property
    def failed(self) -> list[CivitaiOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


class CivitaiVersion(Frozen):
    """A newer version of an adapter's Civitai model, for the same base model, and what changed."""

    version_id: int
    name: str | None = None
    published_at: str | None = None
    page_url: str
    download_url: str | None = None
    size: int | None = None
    size_change: int | None = None  # bytes more (or fewer) than the recorded version's file
    trained_words_added: list[str] = Field(default_factory=list)
    trained_words_removed: list[str] = Field(default_factory=list)


class CivitaiUpdate(Frozen):
    """``hub civitai --updates``: one adapter with newer versions of its model (newest first)."""

    adapter_id: str
    name: str
    model_name: str | None = None
    version_name: str | None = None
    base_model: str | None = None
    published_at: str | None = None
    newer: list[CivitaiVersion]
