"""Typed results of ``push``, ``pull`` and ``search``. Pydantic only: no I/O, no huggingface_hub."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.models import Adapter, Frozen


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
