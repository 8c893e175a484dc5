"""One exception hierarchy for the whole library.

Every error a user can cause (a bad argument, a missing adapter, a broken file, a refused
remote call) is a :class:`HubError`. Each subclass carries the process exit code the CLI uses
and an optional hint. The CLI is the only place these are printed; the library only raises.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error a user of ``hub`` can cause. ``str(e)`` is one line."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(HubError):
    """An argument the parser accepted but that makes no sense (bad weight spec, conflicting flags)."""

    exit_code = 2


class NotFoundError(HubError, LookupError):
    """An adapter, file, base model or remote repository that does not exist."""

    exit_code = 3


class AmbiguousError(UsageError):
    """A reference (name prefix, hash prefix) that matches several adapters."""


class ConflictError(HubError):
    """Something already there: a name taken, a hash that does not match, a stale remote parent."""

    exit_code = 4


class IncompatibleError(HubError, ValueError):
    """Inputs that cannot go together: SD1 with SDXL, a format that cannot be converted."""

    exit_code = 5


class BadFileError(HubError, ValueError):
    """A file that is not a usable adapter: corrupt, truncated, empty, not Stable Diffusion."""

    exit_code = 6

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None) -> None:
        if path:
            message = f"{path}: {message}"
        super().__init__(message, hint=hint)
        self.path = path


class UnsafePickleError(BadFileError):
    """A pickle that asks to import something outside the tensor allow-list (it could run code)."""


class UnsupportedFormatError(BadFileError):
    """A format we recognise but cannot use yet; the message says exactly which and why."""


class RemoteError(HubError):
    """The Hugging Face Hub refused or failed: auth, permissions, offline, server errors."""

    exit_code = 7


class AuthError(RemoteError):
    """Missing, invalid or read-only token."""


class ConfigError(HubError):
    """A bad setting (env var, config file)."""

    exit_code = 8


class RegistryError(HubError):
    """The registry database is locked, corrupt or from a newer version."""

    exit_code = 9


class DependencyError(HubError):
    """An optional package the operation needs is missing; the hint says what to install."""

    exit_code = 10


ALL_ERRORS: tuple[type[HubError], ...] = (
    HubError,
    UsageError,
    NotFoundError,
    AmbiguousError,
    ConflictError,
    IncompatibleError,
    BadFileError,
    UnsafePickleError,
    UnsupportedFormatError,
    RemoteError,
    AuthError,
    ConfigError,
    RegistryError,
    DependencyError,
)
