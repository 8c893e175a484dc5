"""``push``: publish one registered adapter to a Hub repo in one commit, uploading only what changed.

The repo's primary file is the registered file itself, byte for byte, under ``<name><suffix>``, whatever
its format, so a pull gives back the same SHA256. Conversions are extra files: a kohya copy
``kohya/<name>.safetensors`` (for A1111/ComfyUI) when the original is not kohya/LyCORIS, and a diffusers
copy ``pytorch_lora_weights.safetensors`` (``pipe.load_lora_weights(repo)`` finds it without a weight
name; the original's own bytes when it is diffusers already). Then ``README.md``, whose front matter lists
each file's role and SHA256, and the previews under ``images/``. Conversions are not byte-deterministic
(safetensors writes metadata in hash order), so "unchanged" is decided on the SHA256s recorded in the
remote card, not on re-converted bytes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from hub.context import Context
from hub.errors import BadFileError, IncompatibleError, NotFoundError, UnsupportedFormatError, UsageError
from hub.models import AdapterDetail, RemoteRef
from hub.sync import client
from hub.sync.model_card import (
    DIFFUSERS_WEIGHT_NAME,
    CardFile,
    CardImage,
    CardLineage,
    CardSpec,
    ParsedCard,
    Role,
    base_model_for,
    build_card,
    parse_card,
)
from hub.sync.results import PushResult

StepNote = Callable[[str], None]  # one line per step of a push ("uploading 3 files"); not a bar
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
KOHYA_FOLDER = "kohya"  # the kohya copy keeps the adapter's file name, so <lora:name:0.8> is the same either way


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

    dst.parent.mkdir(parents=True, exist_ok=True)
    path, expansion = convert_reporting(src, dst, to=to, label=label, arch=arch)
    if expansion is not None and notes is not None:
        notes.append(expansion.describe())
    return Path(path)


def _arch(detail: AdapterDetail) -> str | None:
    # The registry's arch (probed once, maybe from the header) places kohya names the tensors alone may not.
    return detail.arch if detail.arch not in ("", "unknown") else None


def layout(detail: AdapterDetail, slug: str) -> dict[Role, str]:
    """Where each file goes in the repo: the original under the adapter's name, and the conversions it needs."""
    primary = slug + _container_suffix(detail)
    out: dict[Role, str] = {"original": primary}
    if not _is_kohya(detail):
        out["kohya copy"] = f"{KOHYA_FOLDER}/{slug}.safetensors"
    if primary != DIFFUSERS_WEIGHT_NAME:
        out["diffusers copy"] = DIFFUSERS_WEIGHT_NAME
    elif not _is_diffusers(detail):  # a kohya file named like diffusers' own: the copy cannot take its name
        out["diffusers copy"] = f"diffusers/{DIFFUSERS_WEIGHT_NAME}"
    return out


def _container_suffix(detail: AdapterDetail) -> str:
    """The original's suffix. The store names blobs by hash alone, so the bytes say whether it is safetensors
    (8 bytes of header length, then the JSON header); a pickle keeps the suffix it was registered with."""
    with Path(detail.path).open("rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[8:9] == b"{":
        return ".safetensors"
    suffix = PurePosixPath(detail.source).suffix.lower()  # a local path or hf://OWNER/NAME@COMMIT/FILE
    return suffix if suffix in WEIGHT_SUFFIXES and suffix != ".safetensors" else ".pt"


def _reusable(previous: ParsedCard | None, planned: dict[Role, str], sha256: str, remote: dict[str, str]) -> bool:
    """The remote card lists this adapter's original and conversions where they belong, and the repo holds those
    bytes: the weight files need no new upload (conversions are not byte-stable, so re-converting would differ)."""
    if previous is None or not previous.files:  # no card, or one from before the roles were listed: convert again
        return False
    roles = {path: role for role, path in planned.items()}
    return (
        previous.original_file == planned["original"]
        and previous.file_sha256.get(planned["original"]) == sha256
        and all(roles.get(f.path) == f.role and remote.get(f.path) == f.sha256 for f in previous.files)
    )


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
    if file_sha256(Path(detail.path)) != detail.sha256:  # the card states this SHA256: the bytes must still have it
        raise BadFileError(
            f"the file of '{detail.name}' changed since it was registered",
            path=detail.path,
            hint=f"hub verify {detail.name}",
        )
    say = on_step or (lambda _msg: None)
    api = client.api(require_token=True)
    slug = repo_slug(detail.name)
    revision = branch or "main"
    with client.remote_errors("push", repo):
        if repo is None:
            repo = f"{api.whoami()['name']}/{slug}"
    check_repo_id(repo)
    planned = layout(detail, slug)
    primary = planned["original"]
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
        reuse = _reusable(previous, planned, detail.sha256, remote)
        if reuse:
            assert previous is not None
            weights = list(previous.files)
        else:
            say("preparing the original, its kohya and diffusers copies")
            weights = _prepare_weights(detail, planned, staging, files, warnings, diffusers_notes)
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
            files=weights,
            diffusers_note="; ".join(diffusers_notes) or (previous.diffusers_note if reuse and previous else None),
            images=[CardImage(path=p, prompt=", ".join(detail.triggers) or None) for p, _ in images],
            lineage=_lineage(detail),
            rank=detail.rank,
            alpha=detail.alpha,
        )
        readme = staging / "README.md"
        readme.write_text(build_card(spec), encoding="utf-8")
        files["README.md"] = readme

        changed: list[str] = []
        same: list[str] = []
        known = {f.path: f.sha256 for f in weights}  # hashed once already
        for repo_path, local in files.items():
            if repo_path == "README.md":
                local_oid = git_blob_sha1(local.read_bytes())
            else:
                local_oid = known.get(repo_path) or file_sha256(local)
            (same if remote.get(repo_path) == local_oid else changed).append(repo_path)
        result: dict[str, Any] = dict(
            name=detail.name, adapter_id=detail.id, repo=repo, revision=revision, private=private, primary=primary
        )
        if not changed:
            registry.record_remote(
                detail.id, RemoteRef(repo=repo, revision=revision, commit=head, path=primary), ctx=ctx
            )
            url = f"{client.endpoint()}/{repo}"
            return PushResult(
                status="unchanged", commit=head, url=url, unchanged=sorted(same), warnings=warnings, **result
            )

        from huggingface_hub import CommitOperationAdd

        first = primary not in remote
        summary = message or (f"Upload {detail.name} with sd-lora-hub" if first else f"Update {detail.name}")
        ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(files[p])) for p in sorted(changed)]
        say(f"uploading {len(ops)} file(s) to {repo}@{revision}")
        with client.remote_errors("push", repo, revision=revision):
            info = api.create_commit(repo, ops, commit_message=summary, revision=revision, parent_commit=head)
        registry.record_remote(
            detail.id, RemoteRef(repo=repo, revision=revision, commit=info.oid, path=primary), ctx=ctx
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
    planned: dict[Role, str],
    staging: Path,
    files: dict[str, Path],
    warnings: list[str],
    notes: list[str],
) -> list[CardFile]:
    """Point at the original and write the conversions ``planned`` asks for; a conversion that cannot be made is a
    warning (and a note on the card for the diffusers copy), never a reason to withhold the original."""
    source = Path(detail.path)
    files[planned["original"]] = source
    out = [CardFile(path=planned["original"], role="original", format=detail.format, sha256=detail.sha256 or "")]
    if "kohya copy" in planned:
        path = planned["kohya copy"]
        try:
            made = _convert(source, staging / "kohya" / Path(path).name, "kohya", arch=_arch(detail))
        except (IncompatibleError, UnsupportedFormatError, UsageError) as e:
            warnings.append(f"no kohya copy: {e.message}")
        else:
            files[path] = made
            out.append(CardFile(path=path, role="kohya copy", format=_probe_format(made), sha256=file_sha256(made)))
    if "diffusers copy" not in planned:
        return out
    path = planned["diffusers copy"]
    if _is_diffusers(detail):
        files[path] = source
        out.append(CardFile(path=path, role="diffusers copy", format=detail.format, sha256=detail.sha256 or ""))
        return out
    try:
        target = staging / "diffusers" / DIFFUSERS_WEIGHT_NAME
        made = _convert(source, target, "diffusers", notes, f"'{detail.name}'", _arch(detail))
    except (IncompatibleError, UnsupportedFormatError) as e:
        warnings.append(f"no diffusers copy: {e}")
        return out
    except UsageError as e:  # a LyCORIS file that would grow past the limit: publish it as it is
        warnings.append(f"no diffusers copy: {e.message}")
        notes.append(
            f"none: {e.message.split(': ', 1)[-1]}; make one with `hub convert {detail.name} --to diffusers --rank N`"
        )
        return out
    files[path] = made
    out.append(CardFile(path=path, role="diffusers copy", format=_probe_format(made), sha256=file_sha256(made)))
    return out


def _probe_format(path: Path) -> str:
    from hub.formats.probe import probe_file

    return probe_file(path).format
