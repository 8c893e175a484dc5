"""The one door to huggingface_hub: the API client, the token, and the error table.

huggingface_hub is imported lazily (``hub ls`` never pays for it) and only here. Its exceptions
become :mod:`hub.errors` through one ordered table, the way huggingface_hub's own CLI maps them
to messages: one line each, with a hint. The token is read by huggingface_hub itself (HF_TOKEN,
then the token file); it is passed to the client and never printed, logged or stored.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import AuthError, ConflictError, DependencyError, HubError, NotFoundError, RemoteError

if TYPE_CHECKING:
    from huggingface_hub import HfApi

OFFLINE_HINT = "check the connection or HF_ENDPOINT; to work from the local cache alone, set HF_HUB_OFFLINE=1"
TOKEN_HINT = "set HF_TOKEN to a Hugging Face access token, or run `hf auth login` (HF_TOKEN wins over the token file)"


def _hf() -> Any:
    """The huggingface_hub package with the submodules read here as attributes (``constants``, ``errors``).

    Its ``__init__`` loads submodules lazily, on first access to a name it exports; ``constants`` and
    ``errors`` are not among those names, so a fresh process must import them itself (in the tests
    diffusers had already done it, which hid the crash).
    """
    try:
        import huggingface_hub
        import huggingface_hub.constants
        import huggingface_hub.errors
    except ImportError as e:  # pragma: no cover - a hard dependency
        raise DependencyError("huggingface_hub is not installed", hint="pip install huggingface_hub") from e
    _bound_the_network(huggingface_hub)
    return huggingface_hub


_bounded = False


def _bound_the_network(hf: Any) -> None:
    """Make an unreachable Hub fail in seconds, once per process, for every caller of huggingface_hub
    (sync, base downloads, transformers' and diffusers' downloads in this process).

    huggingface_hub 2.x sends requests with no timeout at all (a host that accepts and never answers hangs
    forever) and retries refused connections and timeouts 5 times over 23 s, printing a warning per try. Here:
    each request waits at most ``HF_HUB_ETAG_TIMEOUT`` seconds (default 10) for the host, and a host that
    refused or did not answer is not asked again; retries stay for 5xx/429 answers and dropped connections.
    """
    global _bounded
    if _bounded:
        return
    _bounded = True
    from huggingface_hub.utils import _http

    httpx2 = _http.httpx2  # the HTTP library this huggingface_hub is built on (its dependency, not ours)

    wait = float(hf.constants.HF_HUB_ETAG_TIMEOUT)
    bounds = httpx2.Timeout(wait).as_dict()

    def bound_request(request: Any) -> None:
        # huggingface_hub passes timeout=None (no limit) unless its caller gave one: give ours then.
        timeouts = request.extensions.get("timeout") or {}
        request.extensions["timeout"] = {k: (bounds[k] if timeouts.get(k) is None else timeouts[k]) for k in bounds}

    def bounded_client() -> Any:
        session = _http.default_client_factory()
        session.event_hooks["request"] = [bound_request, *session.event_hooks["request"]]
        return session

    hf.set_client_factory(bounded_client)
    # Retried only when the connection broke mid-answer; not when the host is not there (refused, timed out).
    dropped = (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError)
    for backoff in (_http.http_backoff, _http.http_stream_backoff):  # the stream one is a contextmanager
        inspect.unwrap(backoff).__kwdefaults__["retry_on_exceptions"] = dropped


def endpoint() -> str:
    """The Hub URL in use (``HF_ENDPOINT``, read by huggingface_hub when it was first imported)."""
    return str(_hf().constants.ENDPOINT).rstrip("/")


def is_offline() -> bool:
    return bool(_hf().constants.HF_HUB_OFFLINE)


def token() -> str | None:
    """The token huggingface_hub would send: HF_TOKEN first, then the token file; None when neither."""
    return _hf().get_token()


def api(*, require_token: bool = False) -> HfApi:
    """An ``HfApi`` bound to the configured endpoint and token. ``require_token`` for writes."""
    tok = token()
    if require_token and not tok:
        raise AuthError("no Hugging Face token: pushing needs a write token", hint=TOKEN_HINT)
    return _hf().HfApi(endpoint=endpoint(), token=tok)


def snapshot(repo: str, *, revision: str | None = None, allow_patterns: list[str] | None = None) -> Path:
    """The files of a model repo at ``revision``, through huggingface_hub's cache (offline: the cache alone).

    Errors are the client's own; wrap the call in :func:`remote_errors` for one-line HubErrors."""
    return Path(api().snapshot_download(repo, revision=revision, allow_patterns=allow_patterns))


@dataclass(frozen=True)
class Context:
    """What the failing call was about, so messages can name it."""

    action: str  # "push", "pull", "search"
    repo: str | None = None
    revision: str | None = None
    filename: str | None = None


def _status(e: BaseException) -> int | None:
    response = getattr(e, "response", None)
    return getattr(response, "status_code", None)


def _server_line(e: BaseException) -> str:
    """The server's own one-line reason, when it sent one."""
    response = getattr(e, "response", None)
    msg = getattr(e, "server_message", None) or (
        response.headers.get("X-Error-Message") if response is not None else None
    )
    return str(msg).strip().splitlines()[0] if msg and str(msg).strip() else ""


def _repo_not_found(e: BaseException, c: Context) -> HubError:
    if _status(e) == 401 and not token():
        return AuthError(
            f"{c.repo} was not found or is private, and no token was sent",
            hint="if it is private, " + TOKEN_HINT,
        )
    return NotFoundError(
        f"repository {c.repo} not found on {endpoint()} (or it is private and this token cannot see it)",
        hint="check the OWNER/NAME spelling; for a private repo use a token of a member",
    )


def _http_error(e: BaseException, c: Context) -> HubError:
    status = _status(e)
    reason = _server_line(e)
    where = f" ({reason})" if reason else ""
    if status == 401:
        return AuthError("the Hub rejected the token (401 invalid credentials)", hint=TOKEN_HINT)
    if status == 403:
        target = f" to {c.repo}" if c.repo else ""
        return AuthError(
            f"this token may not {c.action}{target} (403 forbidden: a read-only token, or no access){where}",
            hint="use a token with write access to this namespace (a fine-grained or 'write' token)",
        )
    if status == 412:
        return ConflictError(
            f"someone pushed to {c.repo} while this push was running (412 stale parent commit)",
            hint="run the push again: it re-reads the repo and uploads only what differs",
        )
    if status == 409:
        return ConflictError(f"the Hub reported a conflict on {c.repo} (409){where}", hint="retry in a moment")
    if status == 429:
        return RemoteError(f"the Hub rate-limited this client (429){where}", hint="wait a minute, or use a token")
    if status is not None and status >= 500:
        return RemoteError(f"the Hub failed with HTTP {status} after retries{where}", hint="try again later")
    return RemoteError(f"the Hub refused the {c.action}: HTTP {status}{where}")


def _offline(e: BaseException, c: Context) -> HubError:
    what = c.repo + (f"@{c.revision}" if c.revision else "") if c.repo else "this request"
    return RemoteError(
        f"offline (HF_HUB_OFFLINE=1) and {what} is not in the local Hugging Face cache",
        hint="unset HF_HUB_OFFLINE and pull once with a connection; later pulls of that commit work offline",
    )


ErrorTypes = type[BaseException] | tuple[type[BaseException], ...]


def _error_table() -> list[tuple[ErrorTypes, Callable[[Any, Context], HubError | None]]]:
    """Ordered: subclasses before their bases (first match wins), as in huggingface_hub's CLI table."""
    hf = _hf()
    err = hf.errors

    return [
        (err.OfflineModeIsEnabled, _offline),
        (err.LocalTokenNotFoundError, lambda e, c: AuthError("no Hugging Face token found", hint=TOKEN_HINT)),
        (
            err.GatedRepoError,
            lambda e, c: AuthError(f"{c.repo} is gated: accept its terms on the Hub first", hint=TOKEN_HINT),
        ),
        (err.RepositoryNotFoundError, _repo_not_found),
        (
            err.RevisionNotFoundError,
            lambda e, c: NotFoundError(
                f"revision {c.revision or 'main'!r} not found in {c.repo}", hint="give a branch, tag or commit sha"
            ),
        ),
        (
            err.RemoteEntryNotFoundError,
            lambda e, c: NotFoundError(f"{c.filename or 'the file'} is not in {c.repo}@{c.revision or 'main'}"),
        ),
        (
            err.LocalEntryNotFoundError,
            lambda e, c: (
                _offline(e, c)
                if is_offline()
                else RemoteError(
                    f"cannot reach {endpoint()}{_why_unreachable(e)}"
                    f" and {c.filename or c.repo} is not in the local cache",
                    hint=OFFLINE_HINT,
                )
            ),
        ),
        (err.HfHubHTTPError, _http_error),
        (_transport_errors(), _unreachable),
        (
            ValueError,  # the client raises ValueError for a card the Hub refused or a malformed answer
            lambda e, c: (
                RemoteError(f"the Hub rejected the {c.action}: {_first_line(e)}") if _raised_by_client(e) else None
            ),
        ),
    ]


def _unreachable(e: BaseException, c: Context) -> HubError:
    return RemoteError(f"cannot reach {endpoint()}{_why_unreachable(e)}", hint=OFFLINE_HINT)


def _why_unreachable(e: BaseException) -> str:
    """``: the host refused the connection (ConnectError)`` from the transport error in ``e``'s chain, or ''."""
    seen: BaseException | None = e
    while seen is not None and not isinstance(seen, _transport_errors()):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return ""
    name = type(seen).__name__
    why = "did not answer in time" if "Timeout" in name else "refused the connection" if "Connect" in name else name
    return f": the host {why} ({name})"


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection failures of whichever HTTP library this huggingface_hub uses (httpx2 in 2.x)."""
    found: list[type[BaseException]] = []
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "ConnectionError")):
        try:
            found.append(getattr(__import__(module), name))
            break  # the first one present is the one the client uses
        except (ImportError, AttributeError):
            continue
    return tuple(found) or (ConnectionError,)


def _first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(e).__name__


def _raised_by_client(e: BaseException) -> bool:
    tb = e.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and "huggingface_hub" in last


def translate(e: BaseException, context: Context) -> HubError | None:
    """The :class:`HubError` for a huggingface_hub/httpx exception, or None if it is not one of theirs."""
    if isinstance(e, HubError):
        return e
    for exc_type, make in _error_table():
        if isinstance(e, exc_type):
            return make(e, context)  # None: not ours after all (a ValueError from our own code)
    return None


@contextlib.contextmanager
def remote_errors(
    action: str, repo: str | None = None, *, revision: str | None = None, filename: str | None = None
) -> Iterator[Context]:
    """``with remote_errors("pull", repo): ...`` turns client exceptions into one-line HubErrors."""
    ctx = Context(action, repo, revision, filename)
    try:
        yield ctx
    except HubError:
        raise
    except Exception as e:
        mapped = translate(e, ctx)
        if mapped is None:
            raise
        raise mapped from e


def offline_env() -> bool:
    """HF_HUB_OFFLINE as the user set it now (huggingface_hub reads it at import; both are honoured)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"} or is_offline()
