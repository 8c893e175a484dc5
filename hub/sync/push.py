"""``push``: publish one registered adapter to a Hub repo in one commit, uploading only what changed.

The repo gets the adapter in kohya format under ``<name>.safetensors`` (A1111/ComfyUI), a diffusers
copy as ``pytorch_lora_weights.safetensors`` (``pipe.load_lora_weights(repo)`` finds it without a
weight name), ``README.md`` and the previews under ``images/``. Format conversions are not
byte-deterministic (safetensors writes metadata in hash order), so "unchanged" is decided on the
source adapter's SHA256 recorded in the remote card, not on re-converted bytes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.context import Context
from hub.errors import HubError, IncompatibleError, NotFoundError, UnsupportedFormatError, UsageError
from hub.models import AdapterDetail, RemoteRef
from hub.sync import client
from hub.sync.model_card import (
    DIFFUSERS_WEIGHT_NAME,
    CardImage,
    CardLineage,
    CardSpec,
    base_model_for,
    build_card,
    parse_card,
)
from hub.sync.results import PushResult

StepNote = Callable[[str], None]  # one line per step of a push ("uploading 3 files"); not a bar
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def repo_slug(name: str) -> str:
    """A Hub-valid repo name from an adapter name: letters, digits, ``-_.``; no ``--``/``..``; <= 96 chars."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    slug = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", ".", slug))[:96].strip("-.")
    return slug or "lora"


def check_repo_id(repo: str) -> str:
    if not REPO_ID.fullmatch(repo) or "--" in repo or ".." in repo:
        raise UsageError(f"not a Hub repo id: {repo!r}", hint="use OWNER/NAME (letters, digits, '-', '_', '.')")
    return repo


def file_sha256(path: Path) -> str:
    """The Hub's oid of an LFS file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_blob_sha1(data: bytes) -> str:
    """The Hub's oid of a file stored in git itself."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _is_kohya(detail: AdapterDetail) -> bool:
    return detail.kind == "lycoris" or detail.format.startswith(("kohya", "lycoris"))


def _is_diffusers(detail: AdapterDetail) -> bool:
    return detail.format.startswith("diffusers")


def _convert(
    src: Path, dst: Path, to: str, notes: list[str] | None = None, label: str | None = None, arch: str | None = None
) -> Path:
    """Convert for the repo; a LyCORIS file's diffusers copy follows :func:`hub.formats.convert.expand_lycoris`
    (rank by kept energy, bounded growth), and how it was made goes into ``notes`` (the card says it)."""
    from hub.formats.convert import convert_reporting

    path, expansion = convert_reporting(src, dst, to=to, label=label, arch=arch)
    if expansion is not None and notes is not None:
        notes.append(expansion.describe())
    return Path(path)


def _arch(detail: AdapterDetail) -> str | None:
    # The registry's arch (probed once, maybe from the header) places kohya names the tensors alone may not.
    return detail.arch if detail.arch not in ("", "unknown") else None


def _lineage(detail: AdapterDetail) -> list[CardLineage]:
    out = []
    for edge in detail.parents:
        weight = edge.params.get("weight") if isinstance(edge.params, dict) else None
        out.append(
            CardLineage(
                operation=edge.operation,
                parent=edge.parent_ref,
                weight=float(weight) if isinstance(weight, int | float) else None,
            )
        )
    return out


def _previews(detail: AdapterDetail, slug: str) -> list[tuple[str, Path]]:
    """(repo path under images/, local file) for each preview image that still exists."""
    out: list[tuple[str, Path]] = []
    for i, preview in enumerate(detail.previews):
        local = Path(preview.path)
        if local.suffix.lower() in IMAGE_SUFFIXES and local.is_file():
            out.append((f"images/{slug}-{i + 1}{local.suffix.lower()}", local))
    return out


def _remote_state(api: Any, repo: str, revision: str) -> tuple[str, dict[str, str], str | None]:
    """(head commit, repo path -> oid (sha256 for LFS files, git sha1 otherwise), README text or None)."""
    info = api.model_info(repo, revision=revision, files_metadata=True)
    oids = {s.rfilename: (s.lfs.sha256 if s.lfs else s.blob_id) for s in info.siblings or []}
    readme = None
    if "README.md" in oids:
        readme = Path(api.hf_hub_download(repo, "README.md", revision=info.sha)).read_text("utf-8", errors="replace")
    return info.sha, oids, readme


def push(
    detail: AdapterDetail,
    *,
    repo: str | None = None,
    private: bool = False,
    branch: str | None = None,
    message: str | None = None,
    on_step: StepNote | None = None,
    ctx: Context,
) -> PushResult:
    """Push one registered adapter; see the module docstring for what goes into the commit."""
    from hub.registry import api as registry

    if not detail.id:
        raise NotFoundError(f"{detail.path} is not registered", hint=f"hub add {detail.path}, then push it by name")
    if not detail.sha256:
        raise UsageError(f"'{detail.name}' has no SHA256 yet", hint=f"hub verify {detail.name}")
    if not Path(detail.path).is_file():
        raise NotFoundError(f"the file of '{detail.name}' is gone: {detail.path}", hint=f"hub verify {detail.name}")
    say = on_step or (lambda _msg: None)
    api = client.api(require_token=True)
    slug = repo_slug(detail.name)
    revision = branch or "main"
    with client.remote_errors("push", repo):
        if repo is None:
            repo = f"{api.whoami()['name']}/{slug}"
    check_repo_id(repo)
    kohya_name = f"{slug}.safetensors"
    warnings: list[str] = []

    with client.remote_errors("push", repo, revision=revision):
        say(f"creating or reading {repo}")
        api.create_repo(repo, private=private, exist_ok=True)
        if branch:
            api.create_branch(repo, branch=branch, exist_ok=True)
        head, remote, remote_card = _remote_state(api, repo, revision)
    previous = parse_card(remote_card) if remote_card else None

    tmp_root = ctx.paths.tmp
    tmp_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="push-", dir=tmp_root))
    try:
        files: dict[str, Path] = {}  # repo path -> local file, for files that may need uploading
        diffusers_notes: list[str] = []  # how the diffusers copy was made (or why there is none)
        weights: dict[str, str] = {}  # repo path -> sha256 of every weight file in the repo after the push
        reuse = (
            previous is not None
            and previous.source_sha256 == detail.sha256
            and all(remote.get(p) == s for p, s in previous.file_sha256.items())
            and kohya_name in previous.file_sha256
        )
        if reuse:
            assert previous is not None
            weights.update(previous.file_sha256)
        else:
            say("preparing the kohya file and the diffusers copy")
            weights.update(_prepare_weights(detail, staging, kohya_name, files, warnings, diffusers_notes))
        diffusers_file = DIFFUSERS_WEIGHT_NAME if DIFFUSERS_WEIGHT_NAME in weights else None
        images = _previews(detail, slug)
        for repo_path, local in images:
            files[repo_path] = local
        spec = CardSpec(
            name=detail.name,
            repo=repo,
            arch=detail.arch,
            base_model=base_model_for(detail.arch, detail.base_label),
            base_label=detail.base_label,
            triggers=detail.triggers,
            tags=detail.tags,
            description=detail.description,
            license=detail.license,
            kohya_file=kohya_name,
            diffusers_file=diffusers_file,
            diffusers_note="; ".join(diffusers_notes) or (previous.diffusers_note if reuse and previous else None),
            images=[CardImage(path=p, prompt=", ".join(detail.triggers) or None) for p, _ in images],
            lineage=_lineage(detail),
            source_sha256=detail.sha256,
            file_sha256=weights,
            rank=detail.rank,
            alpha=detail.alpha,
        )
        readme = staging / "README.md"
        readme.write_text(build_card(spec), encoding="utf-8")
        files["README.md"] = readme

        changed, same = [], []
        for repo_path, local in files.items():
            local_oid = git_blob_sha1(local.read_bytes()) if repo_path == "README.md" else file_sha256(local)
            (same if remote.get(repo_path) == local_oid else changed).append(repo_path)
        result = dict(name=detail.name, adapter_id=detail.id, repo=repo, revision=revision, private=private)
        if not changed:
            registry.record_remote(
                detail.id, RemoteRef(repo=repo, revision=revision, commit=head, path=kohya_name), ctx=ctx
            )
            url = f"{client.endpoint()}/{repo}"
            return PushResult(
                status="unchanged", commit=head, url=url, unchanged=sorted(same), warnings=warnings, **result
            )

        from huggingface_hub import CommitOperationAdd

        first = kohya_name not in remote
        summary = message or (f"Upload {detail.name} with sd-lora-hub" if first else f"Update {detail.name}")
        ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(files[p])) for p in sorted(changed)]
        say(f"uploading {len(ops)} file(s) to {repo}@{revision}")
        with client.remote_errors("push", repo, revision=revision):
            info = api.create_commit(repo, ops, commit_message=summary, revision=revision, parent_commit=head)
        registry.record_remote(
            detail.id, RemoteRef(repo=repo, revision=revision, commit=info.oid, path=kohya_name), ctx=ctx
        )
        return PushResult(
            status="created" if first else "updated",
            commit=info.oid,
            url=str(info.commit_url),
            uploaded=sorted(changed),
            unchanged=sorted(same),
            warnings=warnings,
            **result,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _prepare_weights(
    detail: AdapterDetail,
    staging: Path,
    kohya_name: str,
    files: dict[str, Path],
    warnings: list[str],
    notes: list[str],
) -> dict[str, str]:
    """Write (or point at) the kohya file and the diffusers copy; returns their sha256 by repo path."""
    source = Path(detail.path)
    kohya = source if _is_kohya(detail) else _convert(source, staging / kohya_name, "kohya", arch=_arch(detail))
    files[kohya_name] = kohya
    shas = {kohya_name: detail.sha256 if kohya == source else file_sha256(kohya)}
    try:
        diffusers = (
            source
            if _is_diffusers(detail)
            else _convert(
                source, staging / DIFFUSERS_WEIGHT_NAME, "diffusers", notes, f"'{detail.name}'", _arch(detail)
            )
        )
    except (IncompatibleError, UnsupportedFormatError) as e:
        warnings.append(f"no diffusers copy: {e}")
        return shas  # type: ignore[return-value]
    except UsageError as e:  # a LyCORIS file that would grow past the limit: publish it as it is
        warnings.append(f"no diffusers copy: {e.message}")
        notes.append(
            f"none: {e.message.split(': ', 1)[-1]}; make one with `hub convert {detail.name} --to diffusers --rank N`"
        )
        return shas  # type: ignore[return-value]
    except HubError:
        raise
    files[DIFFUSERS_WEIGHT_NAME] = diffusers
    shas[DIFFUSERS_WEIGHT_NAME] = detail.sha256 if diffusers == source else file_sha256(diffusers)
    return shas  # type: ignore[return-value]
