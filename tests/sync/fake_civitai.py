"""A loopback fake of Civitai's public API v1 for the ``hub civitai`` tests (stdlib only).

It answers ``GET /api/v1/model-versions/by-hash/{hash}`` (any of a file's hashes, any case; 404 with a small JSON
error for an unknown one, as Civitai does) and ``GET /api/v1/models/{id}``, with objects shaped as the public
reference describes them (developer.civitai.com, "model-versions" and "models"), and serves the preview images
under ``/images/``. Every request is recorded (path, headers, time, connections open at once). Switches make it
answer badly, as servers do: an HTML error page, a 500, a 429 with Retry-After, JSON cut in the middle, an
"image" that is not one, a huge image.
"""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float


@dataclass
class Bad:
    """How to answer the next ``times`` requests whose path contains ``where``."""

    where: str
    kind: str  # html | 500 | 429 | truncated
    times: int = 1
    retry_after: str = "1"


def png(width: int = 8, height: int = 8, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def noisy_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: its size is about width * height * 3 bytes."""
    import os

    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class FakeCivitai:
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # any hash (upper) -> model-version object
    models: dict[int, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (content type, body)
    unsized: set[str] = field(default_factory=set)  # images sent without Content-Length (read until closed)
    redirects: dict[str, str] = field(default_factory=dict)  # a path -> the URL its answer is a 302 to
    seen: list[Seen] = field(default_factory=list)
    bad: list[Bad] = field(default_factory=list)
    open_now: int = 0
    most_open: int = 0  # requests in progress at once, at most: a polite client makes one at a time
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FakeCivitai:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake._enter()
                try:
                    fake.seen.append(Seen(self.path, dict(self.headers.items()), time.monotonic()))
                    status, headers, body = fake.answer(self.path)
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if self.path.rsplit("/", 1)[-1] in fake.unsized:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    elif "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    fake._leave()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/v1"

    def _enter(self) -> None:
        with self.lock:
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)

    def _leave(self) -> None:
        with self.lock:
            self.open_now -= 1

    def paths(self, contains: str = "") -> list[str]:
        return [s.path for s in self.seen if contains in s.path]

    # -- content ---------------------------------------------------------------------------------------
    def publish(self, model: dict[str, Any], version: dict[str, Any], *file_hashes: dict[str, str]) -> None:
        """A model and one of its versions, findable by every hash of its files."""
        self.models[model["id"]] = model
        for hashes in file_hashes:
            for value in hashes.values():
                if value:
                    self.versions[value.upper()] = version

    def forget(self, model_id: int) -> None:
        """The model is deleted on Civitai: its versions' hashes and the model answer 404."""
        self.models.pop(model_id, None)
        self.versions = {h: v for h, v in self.versions.items() if v["modelId"] != model_id}

    # -- answers ---------------------------------------------------------------------------------------
    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        for bad in self.bad:
            if bad.where in path and bad.times > 0:
                bad.times -= 1
                return _bad_answer(bad)
        if path in self.redirects:
            return 302, {"Location": self.redirects[path], "Content-Type": "text/plain"}, b""
        if path.startswith("/api/v1/model-versions/by-hash/"):
            version = self.versions.get(path.rsplit("/", 1)[1].upper())
            return _json(version) if version else _json({"error": "Model not found"}, 404)
        if path.startswith("/api/v1/models/"):
            model = self.models.get(int(path.rsplit("/", 1)[1]))
            return _json(model) if model else _json({"error": "No model with id"}, 404)
        if path.startswith("/images/"):
            found = self.images.get(path.rsplit("/", 1)[1])
            if found:
                return 200, {"Content-Type": found[0]}, found[1]
        return 404, {"Content-Type": "text/plain"}, b"not found"


def _json(value: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(value).encode()


def _bad_answer(bad: Bad) -> tuple[int, dict[str, str], bytes]:
    if bad.kind == "html":  # a proxy's or Cloudflare's error page, with a 200
        page = b"<!DOCTYPE html><html><body><h1>We'll be right back</h1></body></html>"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page
    if bad.kind == "500":
        return 500, {"Content-Type": "application/json"}, b'{"error": "Internal Server Error"}'
    if bad.kind == "429":
        return 429, {"Content-Type": "application/json", "Retry-After": bad.retry_after}, b'{"error": "Rate limited"}'
    if bad.kind == "truncated":
        return 200, {"Content-Type": "application/json"}, b'{"id": 11, "modelId": 1, "name": "v1", "trainedWo'
    raise ValueError(bad.kind)


# -- objects as the API reference describes them ----------------------------------------------------------
def model_version(
    *,
    version_id: int,
    model_id: int,
    name: str,
    base_model: str,
    trained_words: list[str],
    sha256: str,
    size_kb: float,
    images: list[dict[str, Any]],
    published_at: str,
    model_name: str,
    nsfw: bool = False,
    nsfw_level: int = 1,
    site: str = "https://civitai.com",
    description: str | None = None,
) -> dict[str, Any]:
    return {
        "id": version_id,
        "modelId": model_id,
        "name": name,
        "createdAt": published_at,
        "updatedAt": published_at,
        "status": "Published",
        "publishedAt": published_at,
        "trainedWords": trained_words,
        "baseModel": base_model,
        "baseModelType": "Standard",
        "nsfwLevel": nsfw_level,
        "earlyAccessTimeFrame": 0,
        "description": description,
        "stats": {"downloadCount": 1200, "ratingCount": 3, "rating": 5, "thumbsUpCount": 40},
        "model": {"name": model_name, "type": "LORA", "nsfw": nsfw, "poi": False},
        "files": [
            {
                "id": version_id * 10,
                "name": f"{model_name}_{name}.safetensors",
                "sizeKB": size_kb,
                "type": "Model",
                "metadata": {"fp": "fp16", "size": "pruned", "format": "SafeTensor"},
                "pickleScanResult": "Success",
                "pickleScanMessage": "No Pickle imports",
                "virusScanResult": "Success",
                "scannedAt": published_at,
                "hashes": {"SHA256": sha256.upper(), "AutoV2": sha256[:10].upper()},
                "downloadUrl": f"{site}/api/download/models/{version_id}",
                "primary": True,
            }
        ],
        "images": images,
        "downloadUrl": f"{site}/api/download/models/{version_id}",
    }


def image(url: str, nsfw_level: int = 1, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "url": url,
        "nsfwLevel": nsfw_level,
        "width": 8,
        "height": 8,
        "hash": "U5Fh~Y00_3-;",
        "type": "image",
        "meta": meta,
    }


def model(
    *,
    model_id: int,
    name: str,
    creator: str,
    tags: list[str],
    description: str,
    versions: list[dict[str, Any]],
    nsfw: bool = False,
) -> dict[str, Any]:
    return {
        "id": model_id,
        "name": name,
        "description": description,
        "type": "LORA",
        "poi": False,
        "nsfw": nsfw,
        "allowNoCredit": False,
        "allowCommercialUse": ["Image", "RentCivit"],
        "allowDerivatives": True,
        "allowDifferentLicense": False,
        "stats": {"downloadCount": 5000, "favoriteCount": 10, "commentCount": 2, "ratingCount": 3, "rating": 5},
        "creator": {"username": creator, "image": None},
        "tags": tags,
        "modelVersions": versions,  # newest first
    }
