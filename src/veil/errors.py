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


class UsageError(VeilError):
    """The command was asked for something it cannot do (bad paths, collisions...)."""
