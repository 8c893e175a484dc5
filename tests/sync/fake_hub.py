"""A small Hugging Face Hub-compatible HTTP server for the sync tests (stdlib only, loopback only).

It serves the routes huggingface_hub 2.4 calls for create_repo / create_commit (preupload, git-lfs
batch, PUT, verify, NDJSON commit), model_info / list_repo_tree / list_models, and HEAD+GET on
``/resolve``. Blobs live in a temp dir; repos, commits and branches in memory. Every request is
recorded (``hub.requests``) so tests can assert that nothing went to Xet routes, and switches
inject the failures people hit: a status on the next N matching requests (500, 401, 403, 412...),
a download cut in the middle, a hook that commits "from someone else" right before ours.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml
from fake_hub_cards import card_metadata_errors

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".ckpt", ".png", ".jpg", ".jpeg", ".webp", ".gif")
GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass
class Entry:
    size: int
    oid: str  # git blob sha1 (of the pointer for LFS files, as git does)
    sha256: str | None  # set for LFS files
    blob: Path


@dataclass
class Commit:
    oid: str
    parent: str | None
    files: dict[str, Entry]
    summary: str


@dataclass
class Repo:
    id: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    created_at: str = "2024-01-01T00:00:00.000Z"

    def resolve(self, rev: str) -> Commit | None:
        oid = self.branches.get(rev, rev)
        return self.commits.get(oid)


@dataclass
class Injection:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Request:
    method: str
    path: str
    query: str
    host: str
    authorized: bool
    range: str | None = None
    status: int = 0


class FakeHub:
    """The store and the switches; :meth:`start` serves it on 127.0.0.1:``port``."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = root
        self.port = port
        self.repos: dict[str, Repo] = {}
        # token -> (user, role); orgs: org name -> member users
        self.tokens: dict[str, tuple[str, str]] = {
            "hf_write_alice": ("alice", "write"),
            "hf_read_alice": ("alice", "read"),
        }
        self.orgs: dict[str, set[str]] = {"team": {"alice"}}
        self.requests: list[Request] = []
        self.injections: list[Injection] = []
        self.cuts: list[list[Any]] = []  # [pattern, remaining]
        self.hooks: list[tuple[str, re.Pattern[str], Callable[[], None]]] = []
        self.lock = threading.RLock()
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        (root / "blobs").mkdir(parents=True, exist_ok=True)

    # ---------------------------------------------------------------- lifecycle
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def reset(self) -> None:
        """Back to an empty Hub: no repos, no stored blobs (an LFS object left from another test would make
        the batch call skip its upload), no recorded requests, no pending failures."""
        with self.lock:
            self.repos.clear()
            self.requests.clear()
            self.injections.clear()
            self.cuts.clear()
            self.hooks.clear()
            for blob in (self.root / "blobs").iterdir():
                blob.unlink()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # a socket left listening makes "server down" tests hang
            self._server = None

    # ---------------------------------------------------------------- switches
    def fail_next(
        self,
        method: str,
        pattern: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str = "injected failure",
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and the path regex with ``status``."""
        body = {"error": message}
        self.injections.append(
            Injection(
                method, re.compile(pattern), status, times, {"X-Error-Message": message, **(headers or {})}, body
            )
        )

    def cut_downloads(self, pattern: str, *, times: int = 1) -> None:
        """The next ``times`` GETs of a matching resolve URL send half the body, then drop the connection."""
        self.cuts.append([re.compile(pattern), times])

    def before_next(self, method: str, pattern: str, hook: Callable[[], None]) -> None:
        """Run ``hook`` once, right before handling the next matching request (e.g. a concurrent commit)."""
        self.hooks.append((method, re.compile(pattern), hook))

    def paths_requested(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def commits(self, repo_id: str, branch: str = "main") -> list[str]:
        """Summaries of the commits on ``branch``, newest first."""
        repo = self.repos[repo_id]
        out, oid = [], repo.branches[branch]
        while oid:
            out.append(repo.commits[oid].summary)
            oid = repo.commits[oid].parent  # type: ignore[assignment]
        return out

    def tamper(self, repo_id: str, path: str) -> None:
        """Flip the stored bytes of a file while its listed sha256 stays: a corrupt CDN copy."""
        entry = self.repos[repo_id].resolve("main").files[path]  # type: ignore[union-attr]
        data = bytearray(entry.blob.read_bytes())
        data[-1] ^= 0xFF
        bad = entry.blob.with_name(entry.blob.name + ".tampered")
        bad.write_bytes(bytes(data))
        entry.blob = bad

    # ---------------------------------------------------------------- store
    def _new_oid(self, *parts: str) -> str:
        self._counter += 1
        return hashlib.sha1("\n".join([*parts, str(self._counter), str(time.time_ns())]).encode()).hexdigest()

    def _store_blob(self, data: bytes, lfs: bool) -> Entry:
        sha256 = hashlib.sha256(data).hexdigest()
        blob = self.root / "blobs" / sha256
        if not blob.exists():
            blob.write_bytes(data)
        oid = git_blob_sha1(lfs_pointer(sha256, len(data))) if lfs else git_blob_sha1(data)
        return Entry(len(data), oid, sha256 if lfs else None, blob)

    def create_repo(self, repo_id: str, *, private: bool = False) -> Repo:
        with self.lock:
            repo = Repo(repo_id, private)
            init = Commit(
                self._new_oid(repo_id),
                None,
                {".gitattributes": self._store_blob(GITATTRIBUTES, False)},
                "initial commit",
            )
            repo.commits[init.oid] = init
            repo.branches["main"] = init.oid
            self.repos[repo_id] = repo
            return repo

    def commit_files(
        self, repo_id: str, files: dict[str, bytes], *, branch: str = "main", summary: str = "server commit"
    ) -> str:
        """Commit straight into the store (seeding repos, or a push 'from someone else')."""
        with self.lock:
            repo = self.repos.get(repo_id) or self.create_repo(repo_id)
            head = repo.commits[repo.branches[branch]]
            tree = dict(head.files)
            for path, data in files.items():
                tree[path] = self._store_blob(data, path.lower().endswith(LFS_SUFFIXES))
            commit = Commit(self._new_oid(repo_id, summary), head.oid, tree, summary)
            repo.commits[commit.oid] = commit
            repo.branches[branch] = commit.oid
            return commit.oid

    def head(self, repo_id: str, branch: str = "main") -> str:
        return self.repos[repo_id].branches[branch]

    def file_bytes(self, repo_id: str, path: str, rev: str = "main") -> bytes:
        commit = self.repos[repo_id].resolve(rev)
        assert commit is not None
        return commit.files[path].blob.read_bytes()

    def card_data(self, commit: Commit) -> dict[str, Any] | None:
        entry = commit.files.get("README.md")
        if entry is None:
            return None
        text = entry.blob.read_text("utf-8")
        match = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, re.S)
        data = yaml.safe_load(match.group(1)) if match else None
        return data if isinstance(data, dict) else None

    def card_errors(self, text: bytes) -> list[str]:
        match = re.match(r"^---\s*\n(.*?)\n---\s*\n", text.decode("utf-8", errors="replace"), re.S)
        try:
            return card_metadata_errors(yaml.safe_load(match.group(1)) if match else None)
        except yaml.YAMLError as e:
            return [f"Invalid YAML: {e}"]

    def model_info(self, repo: Repo, commit: Commit, *, blobs: bool) -> dict[str, Any]:
        card = self.card_data(commit) or {}
        siblings = []
        for path, e in sorted(commit.files.items()):
            sib: dict[str, Any] = {"rfilename": path}
            if blobs:
                sib.update(size=e.size, blobId=e.oid)
                if e.sha256:
                    sib["lfs"] = {"sha256": e.sha256, "size": e.size, "pointerSize": 134}
            siblings.append(sib)
        tags = [str(t) for t in card.get("tags", []) or []]
        return {
            "_id": repo.id,
            "id": repo.id,
            "modelId": repo.id,
            "author": repo.id.split("/")[0],
            "sha": commit.oid,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "lastModified": "2024-01-02T00:00:00.000Z",
            "createdAt": repo.created_at,
            "tags": tags,
            "library_name": card.get("library_name"),
            "pipeline_tag": card.get("pipeline_tag", "text-to-image" if "text-to-image" in tags else None),
            "cardData": card or None,
            "siblings": siblings,
            "xetEnabled": False,
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # ---------------------------------------------------------------- plumbing
    def _send(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, *, raw: bytes | None = None
    ) -> None:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        if raw is None:
            self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._record.status = status

    def _error(self, status: int, message: str, code: str | None = None, extra: dict[str, str] | None = None) -> None:
        headers = {"X-Error-Message": message, **(extra or {})}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, {"error": message}, headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _user(self) -> tuple[str, str] | bool | None:
        """(user, role); None when no token was sent; False when the token is unknown."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        return self.fake.tokens.get(auth[7:].strip(), False)

    def _can_write(self, namespace: str) -> bool:
        user = self._user()
        if user is None:
            self._error(401, "You must be authenticated to write")
            return False
        if user is False:
            self._error(401, INVALID_CREDENTIALS)
            return False
        name, role = user
        if namespace != name and name not in self.fake.orgs.get(namespace, set()):
            self._error(403, f"You don't have the rights to write to the namespace {namespace}")
            return False
        if role != "write":
            self._error(403, "This token is read-only: pass `create_pr=1` to open a Pull Request")
            return False
        return True

    def _repo(self, repo_id: str, *, write: bool = False) -> Repo | None:
        user = self._user()
        if user is False:
            self._error(401, INVALID_CREDENTIALS)
            return None
        repo = self.fake.repos.get(repo_id)
        if repo is not None and repo.private:
            ns = repo_id.split("/")[0]
            if user is None:
                self._error(401, "Repository not found", "RepoNotFound")
                return None
            if user[0] != ns and user[0] not in self.fake.orgs.get(ns, set()):
                repo = None
        if repo is None:
            self._error(404, "Repository not found", "RepoNotFound")
            return None
        if write and not self._can_write(repo_id.split("/")[0]):
            return None
        return repo

    def _commit(self, repo: Repo, rev: str) -> Commit | None:
        commit = repo.resolve(unquote(rev))
        if commit is None:
            self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return commit

    # ---------------------------------------------------------------- dispatch
    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        auth = bool(self.headers.get("Authorization"))
        self._record = Request(
            self.command, path, url.query, self.headers.get("Host", ""), auth, self.headers.get("Range")
        )
        self.fake.requests.append(self._record)
        body = self._body() if self.command in ("POST", "PUT", "DELETE") else b""
        for i, (method, pattern, hook) in enumerate(self.fake.hooks):
            if method == self.command and pattern.search(path):
                del self.fake.hooks[i]
                hook()
                break
        for inj in self.fake.injections:
            if inj.times > 0 and inj.method == self.command and inj.pattern.search(path):
                inj.times -= 1
                self._send(inj.status, inj.body, inj.headers)
                return
        for route, handler in _ROUTES:
            if route[0] == self.command and (m := re.fullmatch(route[1], path)):
                with self.fake.lock:
                    handler(self, *[unquote(g or "") for g in m.groups()], query=query, body=body)
                return
        self._error(404, f"no route for {self.command} {path}")

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    # ---------------------------------------------------------------- routes
    def whoami(self, *, query: dict, body: bytes) -> None:
        user = self._user()
        if not user:
            self._error(401, INVALID_CREDENTIALS)
            return
        name, role = user
        orgs = [{"type": "org", "name": o} for o, members in self.fake.orgs.items() if name in members]
        auth = {"type": "access_token", "accessToken": {"displayName": "test", "role": role}}
        self._send(200, {"type": "user", "name": name, "fullname": name.title(), "orgs": orgs, "auth": auth})

    def repos_create(self, *, query: dict, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        user = self._user()
        namespace = payload.get("organization") or (user[0] if user else "")
        repo_id = f"{namespace}/{payload['name']}"
        url = f"{self.fake.endpoint}/{repo_id}"
        if not self._can_write(namespace):
            return
        if repo_id in self.fake.repos:
            self._send(409, {"error": "You already created this model repo", "url": url})
            return
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        self.fake.create_repo(repo_id, private=private)
        self._send(200, {"url": url, "name": repo_id, "id": repo_id})

    def repo_info(self, ns: str, name: str, rev: str = "main", *, query: dict, body: bytes) -> None:
        repo = self._repo(f"{ns}/{name}")
        if repo is None or (commit := self._commit(repo, rev)) is None:
            return
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        self._send(200, self.fake.model_info(repo, commit, blobs=blobs))

    def tree(self, ns: str, name: str, rev: str, sub: str = "", *, query: dict, body: bytes) -> None:
        repo = self._repo(f"{ns}/{name}")
        if repo is None or (commit := self._commit(repo, rev)) is None:
            return
        prefix = sub.strip("/")
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        items: dict[str, dict[str, Any]] = {}
        for path, e in sorted(commit.files.items()):
            if prefix and not path.startswith(prefix + "/"):
                continue
            rel = path[len(prefix) + 1 :] if prefix else path
            parts = rel.split("/")
            for depth in range(1, len(parts)):
                d = "/".join(([prefix] if prefix else []) + parts[:depth])
                items.setdefault(d, {"type": "directory", "path": d, "oid": git_blob_sha1(d.encode())})
                if not recursive:
                    break
            if len(parts) > 1 and not recursive:
                continue
            item: dict[str, Any] = {"type": "file", "path": path, "oid": e.oid, "size": e.size}
            if e.sha256:
                item["lfs"] = {"oid": e.sha256, "size": e.size, "pointerSize": 134}
            items[path] = item
        self._send(200, list(items.values()))

    def refs(self, ns: str, name: str, *, query: dict, body: bytes) -> None:
        repo = self._repo(f"{ns}/{name}")
        if repo is not None:
            branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": c} for b, c in repo.branches.items()]
            self._send(200, {"branches": branches, "tags": [], "converts": []})

    def create_branch(self, ns: str, name: str, branch: str, *, query: dict, body: bytes) -> None:
        repo = self._repo(f"{ns}/{name}", write=True)
        if repo is None:
            return
        if branch in repo.branches:
            self._error(409, "Branch already exists")
            return
        start = json.loads(body or b"{}").get("startingPoint") or "main"
        if (commit := self._commit(repo, start)) is not None:
            repo.branches[branch] = commit.oid
            self._send(200, {})

    def validate_yaml(self, *, query: dict, body: bytes) -> None:
        content = json.loads(body).get("content", "")
        match = re.match(r"^---\s*\n(.*?)\n---\s*\n", content, re.S)
        try:
            data = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as e:
            self._send(400, {"errors": [{"message": f"Invalid YAML: {e}"}], "warnings": []})
            return
        errors = [{"message": m} for m in card_metadata_errors(data)]
        self._send(400 if errors else 200, {"errors": errors, "warnings": []})

    def preupload(self, ns: str, name: str, rev: str, *, query: dict, body: bytes) -> None:
        repo = self._repo(f"{ns}/{name}", write=True)
        if repo is None or (commit := self._commit(repo, rev)) is None:
            return
        files = []
        for f in json.loads(body)["files"]:
            sample = base64.b64decode(f.get("sample", ""))
            lfs = f["path"].lower().endswith(LFS_SUFFIXES) or b"\0" in sample
            remote = commit.files.get(f["path"])
            oid = None if remote is None else (remote.sha256 if lfs else remote.oid)
            files.append(
                {"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid}
            )
        self._send(200, {"files": files, "commitOid": commit.oid})

    def lfs_batch(self, ns: str, name: str, *, query: dict, body: bytes) -> None:
        if self._repo(f"{ns}/{name}", write=True) is None:
            return
        objects = []
        for obj in json.loads(body)["objects"]:
            oid, size = obj["oid"], obj["size"]
            item: dict[str, Any] = {"oid": oid, "size": size}
            if not (self.fake.root / "blobs" / oid).exists():  # stored objects get no actions: the client skips them
                item["actions"] = {
                    "upload": {"href": f"{self.fake.endpoint}/lfs-upload/{oid}", "header": {}},
                    "verify": {"href": f"{self.fake.endpoint}/lfs-verify/{oid}", "header": {}},
                }
            objects.append(item)
        self._send(200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_upload(self, oid: str, *, query: dict, body: bytes) -> None:
        if hashlib.sha256(body).hexdigest() != oid:
            self._error(400, "sha256 mismatch")
            return
        (self.fake.root / "blobs" / oid).write_bytes(body)
        self._send(200, {})

    def lfs_verify(self, oid: str, *, query: dict, body: bytes) -> None:
        ok = (self.fake.root / "blobs" / oid).exists()
        self._send(200 if ok else 404, {} if ok else {"error": "object not found"})

    def commit(self, ns: str, name: str, rev: str, *, query: dict, body: bytes) -> None:
        repo = self._repo(f"{ns}/{name}", write=True)
        if repo is None:
            return
        branch = unquote(rev)
        if branch not in repo.branches:
            self._error(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            return
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = lines[0]["value"]
        head = repo.commits[repo.branches[branch]]
        parent = header.get("parentCommit")
        if parent and not head.oid.startswith(parent):
            self._error(412, "A commit has happened since. Please refresh and try again.")
            return
        tree = dict(head.files)
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                content = base64.b64decode(value["content"])
                if value["path"] == "README.md" and (problems := self.fake.card_errors(content)):
                    self._error(400, f"Invalid metadata in README.md: {problems[0]}")  # the Hub re-checks on push
                    return
                tree[value["path"]] = self.fake._store_blob(content, False)
            elif key == "lfsFile":
                blob = self.fake.root / "blobs" / value["oid"]
                if not blob.exists():
                    self._error(422, f"LFS object {value['oid']} was never uploaded")
                    return
                tree[value["path"]] = self.fake._store_blob(blob.read_bytes(), True)
            elif key == "deletedFile":
                if tree.pop(value["path"], None) is None:
                    self._error(404, "A file with this name doesn't exist", "EntryNotFound")
                    return
            elif key == "deletedFolder":
                tree = {p: e for p, e in tree.items() if not p.startswith(value["path"].rstrip("/") + "/")}
        commit = Commit(self.fake._new_oid(repo.id, header["summary"]), head.oid, tree, header["summary"])
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        url = f"{self.fake.endpoint}/{repo.id}/commit/{commit.oid}"
        self._send(200, {"success": True, "commitOid": commit.oid, "commitUrl": url})

    def resolve(self, ns: str, name: str, rev: str, path: str, *, query: dict, body: bytes) -> None:
        repo = self._repo(f"{ns}/{name}")
        if repo is None or (commit := self._commit(repo, rev)) is None:
            return
        entry = commit.files.get(path)
        if entry is None:
            self._error(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.oid})
            return
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{entry.sha256 or entry.oid}"', "Accept-Ranges": "bytes"}
        if entry.sha256:
            headers.update({"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": str(entry.size)})
        data = entry.blob.read_bytes()
        if self.command == "HEAD":
            self._send(200, headers=headers, raw=data)  # HEAD: Content-Length of the file, no body
            return
        start = 0
        if m := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "")):
            start = int(m.group(1))
        status = 206 if start else 200
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        chunk = data[start:]
        for cut in self.fake.cuts:
            if cut[1] > 0 and cut[0].search(self.path):
                cut[1] -= 1
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                self.wfile.write(chunk[: len(chunk) // 2])
                self.wfile.flush()
                self.close_connection = True
                self._record.status = -status  # negative: cut short
                return
        self._send(status, headers=headers, raw=chunk)

    def list_models(self, *, query: dict, body: bytes) -> None:
        user = self._user()
        search = (query.get("search", [""])[0]).lower()
        author = query.get("author", [None])[0]
        filters = query.get("filter", [])
        limit = int(query.get("limit", ["1000"])[0])
        out = []
        for repo in sorted(self.fake.repos.values(), key=lambda r: r.id):
            ns = repo.id.split("/")[0]
            if repo.private and not (user and (user[0] == ns or user[0] in self.fake.orgs.get(ns, set()))):
                continue
            info = self.fake.model_info(repo, repo.commits[repo.branches["main"]], blobs=False)
            # the Hub matches each word of the query in the id ("pixel art" finds pixel-art-xl)
            if search and not all(word in repo.id.lower() for word in search.split()):
                continue
            if author and ns != author:
                continue
            if any(f not in info["tags"] for f in filters):
                continue
            if query.get("cardData", ["false"])[0].lower() != "true":
                info.pop("cardData")
            out.append(info)
        self._send(200, out[:limit])


_REPO = r"/api/models/([^/]+)/([^/]+)"
_ROUTES: list[tuple[tuple[str, str], Callable[..., None]]] = [
    (("GET", r"/api/whoami-v2"), _Handler.whoami),
    (("POST", r"/api/repos/create"), _Handler.repos_create),
    (("POST", r"/api/validate-yaml"), _Handler.validate_yaml),
    (("GET", r"/api/models"), _Handler.list_models),
    (("GET", _REPO), _Handler.repo_info),
    (("GET", _REPO + r"/revision/([^/]+)"), _Handler.repo_info),
    (("GET", _REPO + r"/tree/([^/]+)(/.*)?"), _Handler.tree),
    (("GET", _REPO + r"/refs"), _Handler.refs),
    (("POST", _REPO + r"/branch/([^/]+)"), _Handler.create_branch),
    (("POST", _REPO + r"/preupload/([^/]+)"), _Handler.preupload),
    (("POST", _REPO + r"/commit/([^/]+)"), _Handler.commit),
    (("POST", r"/([^/]+)/([^/]+)\.git/info/lfs/objects/batch"), _Handler.lfs_batch),
    (("PUT", r"/lfs-upload/([0-9a-f]{64})"), _Handler.lfs_upload),
    (("POST", r"/lfs-verify/([0-9a-f]{64})"), _Handler.lfs_verify),
    (("HEAD", r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)"), _Handler.resolve),
    (("GET", r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)"), _Handler.resolve),
]
