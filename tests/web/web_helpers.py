"""Helpers the web tests share."""

from __future__ import annotations

ORIGIN = "http://127.0.0.1:7860"


def token(client) -> str:
    """The CSRF token of the client's session (its cookie is set by this request)."""
    return client.get("/api/session").json()["csrf_token"]
