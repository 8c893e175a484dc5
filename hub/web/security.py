"""What keeps other web pages from driving the local server (the threats Jupyter's server guards against).

Two checks, in one ASGI middleware in front of every route:

- **Host** (DNS rebinding): a page on ``evil.example`` can make its own name resolve to 127.0.0.1 and then
  talk to us as same-origin. The browser still sends ``Host: evil.example``, so only names we are bound to,
  ``localhost`` and IP literals (which cannot be rebound) are served; anything else gets 403.
- **CSRF**: a page the user visits can make the browser POST a form to us. Every request that changes
  something (POST, PUT, PATCH, DELETE) must carry the per-session token (form field ``csrf_token`` or header
  ``X-CSRF-Token``) that only our own pages can read, and, when the browser says where it comes from
  (``Origin``, ``Sec-Fetch-Site``), come from this origin. The token is an HMAC of the session cookie
  (random, HttpOnly, SameSite=Strict) under a key made when the server starts.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "lorahub_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_BYTES = 1 << 20  # our forms are a few fields; a bigger urlencoded body is not one of ours

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """``Host`` without its port: ``[::1]:7860`` -> ``::1``, ``localhost:7860`` -> ``localhost``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """The server's secret and the hosts it answers to."""

    def __init__(self, bound_host: str, extra_hosts: Iterable[str] = ()) -> None:
        self.key = secrets.token_bytes(32)
        names = {bound_host.lower().strip("[]"), *LOOPBACK_NAMES, *(h.lower() for h in extra_hosts)}
        # 0.0.0.0 / :: are not names a browser sends; binding to them means "any IP literal", which IP checks cover.
        self.hosts = frozenset(n for n in names if n not in ("0.0.0.0", "::"))
        self.any_ip = not is_loopback(bound_host)

    def host_allowed(self, header: str | None) -> bool:
        if not header:
            return False
        name = _host_name(header)
        if name in self.hosts:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False  # a DNS name we were not bound to: the rebinding case
        return address.is_loopback or self.any_ip

    def token_for(self, session: str) -> str:
        return hmac.new(self.key, session.encode(), hashlib.sha256).hexdigest()[:40]

    def token_valid(self, session: str | None, token: str | None) -> bool:
        if not session or not token:
            return False
        return hmac.compare_digest(self.token_for(session), token)


def new_session() -> str:
    return secrets.token_urlsafe(24)


def _cookies(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, sep, v = part.strip().partition("=")
                if sep:
                    out[k] = v
    return out


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return None


class GuardMiddleware:
    """Refuses foreign Host headers on every request, and unsafe methods without a valid token or with a
    foreign origin. Gives every browser a session cookie; routes read ``scope["csrf_token"]`` for forms."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if not self.guard.host_allowed(host):
            await _refuse(scope, send, f"refused: host '{host}' is not this server (DNS rebinding guard)")
            return
        known = _cookies(scope).get(SESSION_COOKIE)
        fresh = known is None or len(known) > 64
        session = new_session() if fresh or known is None else known
        scope["csrf_token"] = self.guard.token_for(session)
        if scope["method"] in UNSAFE_METHODS:
            reason, receive = await self._check_unsafe(scope, receive, host or "", None if fresh else session)
            if reason:
                await _refuse(scope, send, reason)
                return

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                cookie = f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _check_unsafe(
        self, scope: Scope, receive: Receive, host: str, session: str | None
    ) -> tuple[str | None, Receive]:
        origin = _header(scope, b"origin")
        scheme = scope.get("scheme", "http")
        if origin is not None and origin != f"{scheme}://{host}":
            return f"refused: a request from {origin} may not change anything here (cross-origin)", receive
        if (_header(scope, b"sec-fetch-site") or "same-origin") not in ("same-origin", "none"):
            return "refused: a cross-site request may not change anything here", receive
        token = _header(scope, CSRF_HEADER.encode())
        if token is None:
            ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
            if ctype == "application/x-www-form-urlencoded":
                body, receive = await _buffer(receive)
                if body is None:
                    return "refused: form too large", receive
                fields = parse_qs(body.decode("latin-1")).get(CSRF_FIELD)
                token = fields[0] if fields else None
        if not self.guard.token_valid(session, token):
            return (
                "refused: missing or stale CSRF token; reload the page and try again "
                "(scripts: GET /api/session for a token, send it as X-CSRF-Token with the cookie)",
                receive,
            )
        return None, receive


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole request body, then hand the route a ``receive`` that replays it."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _refuse(scope: Scope, send: Send, reason: str) -> None:
    """403 in the shape the client asked for: JSON for the API, a short page for people."""
    wants_json = scope.get("path", "").startswith("/api/") or "application/json" in (_header(scope, b"accept") or "")
    if wants_json:
        body = json.dumps({"error": reason, "status": 403}).encode()
        ctype = b"application/json"
    else:
        from html import escape

        body = (
            f"<!doctype html><meta charset=utf-8><title>Refused</title><h1>403: refused</h1><p>{escape(reason)}</p>"
        ).encode()
        ctype = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
