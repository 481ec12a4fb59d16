"""Errors veil reports to users: one clear line each."""

from __future__ import annotations

from pathlib import Path


class VeilError(Exception):
    """Base class: the message is meant to be shown to a user as it is."""


class MediaError(VeilError):
    """A file cannot be read or written safely (corrupt, unsupported, too large...)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    @classmethod
    def from_os_error(cls, path: str | Path, exc: OSError) -> MediaError:
        """The one-line reason for an operating-system error while reading ``path``."""
        if isinstance(exc, FileNotFoundError):
            return cls(path, "no such file")
        if isinstance(exc, IsADirectoryError):
            return cls(path, "is a directory, not an image file")
        if isinstance(exc, PermissionError):
            return cls(path, "permission denied")
        return cls(path, f"cannot read file ({exc.strerror or exc})")


def error_text(exc: BaseException) -> str:
    """One line saying why a job failed (the path is said elsewhere)."""
    if isinstance(exc, MediaError):
        return exc.reason
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class UsageError(VeilError):
    """The command was asked for something it cannot do (bad paths, collisions...)."""
