"""A small, polite HTTP client for Civitai's public API (standard library only).

One request at a time, each with a timeout; ``Retry-After`` honoured on 429 (and 503); a host that cannot be
reached ends the command at once (:class:`CivitaiUnreachable`), where an odd answer about one file (a 500, an HTML
page, cut-off JSON) is :class:`CivitaiAnswerError` and only that file's lookup fails. The key
(``CIVITAI_API_KEY``) goes in an ``Authorization`` header to the API's own host only, never into a URL, a message
or the registry. Images are read up to a size cap and kept only when Pillow reads them as pictures.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from hub.errors import AuthError, ConfigError, RemoteError

DEFAULT_API_URL = "https://civitai.com/api/v1"
DEFAULT_TIMEOUT_S = 15.0
MAX_JSON_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_IMAGE_BYTES = 16 * 1024 * 1024
MAX_RETRIES = 3  # after a 429 or 503 (each waits what Retry-After says), or a 5xx (one short wait)
MAX_WAIT_S = 120.0  # a Retry-After longer than this ends the command: come back later
USER_AGENT = "sd-lora-hub (+https://github.com/sd-lora-hub)"


class CivitaiUnreachable(RemoteError):
    """Civitai cannot be reached (refused, timed out, no such host): nothing more can be asked."""


class CivitaiAnswerError(RemoteError):
    """Civitai answered one request with something unusable (a server error, HTML, cut-off JSON)."""


@dataclass(frozen=True)
class CivitaiSettings:
    api_url: str
    key: str | None
    timeout: float
    max_image_bytes: int

    @classmethod
    def from_env(cls) -> CivitaiSettings:
        """``CIVITAI_API_URL``, ``CIVITAI_API_KEY``, ``CIVITAI_TIMEOUT`` (seconds), ``CIVITAI_MAX_IMAGE_MB``."""
        url = os.environ.get("CIVITAI_API_URL", "").strip() or DEFAULT_API_URL
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ConfigError(f"CIVITAI_API_URL is not an http(s) URL: {url!r}", hint=f"e.g. {DEFAULT_API_URL}")
        return cls(
            api_url=url.rstrip("/"),
            key=os.environ.get("CIVITAI_API_KEY", "").strip() or None,
            timeout=_positive("CIVITAI_TIMEOUT", DEFAULT_TIMEOUT_S),
            max_image_bytes=int(_positive("CIVITAI_MAX_IMAGE_MB", DEFAULT_MAX_IMAGE_BYTES / 2**20) * 2**20),
        )


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number, not {raw!r}")
    return value


class _SameHostAuth(urllib.request.HTTPRedirectHandler):
    """A redirect to another host goes there without our key."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


class CivitaiClient:
    def __init__(self, settings: CivitaiSettings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_SameHostAuth)
        self.requests = 0

    # -- the API -------------------------------------------------------------------------------------
    def version_by_hash(self, hash_value: str) -> Any | None:
        """The model-version object of a file hash; None when Civitai does not know it (404)."""
        return self._api(f"/model-versions/by-hash/{quote(hash_value, safe='')}")

    def model(self, model_id: int) -> Any | None:
        """The model object; None when Civitai has no such model (deleted)."""
        return self._api(f"/models/{int(model_id)}")

    def _api(self, path: str) -> Any | None:
        url = self.settings.api_url + path
        headers = {"Accept": "application/json"}
        if self.settings.key:
            headers["Authorization"] = f"Bearer {self.settings.key}"
        status, content_type, body = self._get(url, headers, MAX_JSON_BYTES)
        if status == 404:
            return None
        if status in (401, 403):
            raise AuthError(
                f"Civitai refused {path} ({status})",
                hint="CIVITAI_API_KEY is missing, wrong or lacks access (a key from civitai.com/user/account)",
            )
        if status != 200:
            raise CivitaiAnswerError(f"Civitai answered {status} to {path}")
        if "json" not in content_type:
            kind = "an HTML page" if "html" in content_type else f"'{content_type or 'no content type'}'"
            raise CivitaiAnswerError(f"Civitai answered {path} with {kind}, not JSON")
        if body is None:
            raise CivitaiAnswerError(f"Civitai's answer to {path} is larger than {MAX_JSON_BYTES // 2**20} MiB")
        try:
            return json.loads(body)
        except ValueError as e:
            raise CivitaiAnswerError(f"Civitai's answer to {path} is not whole JSON ({e})") from None

    def image(self, url: str) -> bytes | None:
        """An image's bytes, or None when it is larger than the cap (or not served)."""
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        status, _, body = self._get(url, {"Accept": "image/*"}, self.settings.max_image_bytes)
        return body if status == 200 else None

    # -- one request ---------------------------------------------------------------------------------
    def _get(self, url: str, headers: dict[str, str], cap: int) -> tuple[int, str, bytes | None]:
        """(status, content type, body or None past ``cap``), retrying 429/5xx as the server asks."""
        for attempt in range(MAX_RETRIES + 1):
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
            self.requests += 1
            try:
                with self._opener.open(request, timeout=self.settings.timeout) as response:
                    return response.status, response.headers.get_content_type(), _read_capped(response, cap)
            except urllib.error.HTTPError as e:
                wait = _retry_wait(e, attempt)
                if wait is None:
                    with e:
                        return e.code, e.headers.get_content_type() if e.headers else "", None
                e.close()
                self._sleep(wait)
            except OSError as e:  # URLError, timeouts, refused connections
                reason = getattr(e, "reason", e)
                host = urlsplit(url).netloc
                raise CivitaiUnreachable(
                    f"Civitai is unreachable at {host}: {reason}",
                    hint="check the network (or CIVITAI_API_URL); what was recorded so far is kept",
                ) from None
        raise AssertionError("unreachable: the last attempt returns or raises")


def _read_capped(response: Any, cap: int) -> bytes | None:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > cap:
        return None
    body = response.read(cap + 1)
    return None if len(body) > cap else body


def _retry_wait(e: urllib.error.HTTPError, attempt: int) -> float | None:
    """Seconds to wait before asking again, or None when this status is the answer."""
    if e.code not in (429, 500, 502, 503, 504):
        return None
    if attempt >= MAX_RETRIES:
        if e.code == 429:
            raise RemoteError("Civitai keeps answering 429 (too many requests)", hint="try again later")
        return None
    after = _retry_after(e.headers.get("Retry-After") if e.headers else None)
    if after is None:
        return 2.0**attempt if e.code in (429, 503) else (1.0 if attempt == 0 else None)
    if after > MAX_WAIT_S:
        raise RemoteError(
            f"Civitai asks to wait {after:.0f} s before the next request (429)", hint="run it again later"
        )
    return after


def _retry_after(value: str | None) -> float | None:
    """``Retry-After``: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
