"""Model files shipped inside veil (each folder holds its licence and provenance)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from veil.errors import VeilError


def shipped_file(folder: str, name: str, what: str) -> Path:
    """Path of the model file ``name`` in ``veil/models/<folder>`` of the installed
    package; :class:`VeilError` naming ``what`` when it is missing (a broken install)."""
    path = Path(str(importlib.resources.files(f"veil.models.{folder}").joinpath(name)))
    if not path.is_file():  # pragma: no cover - shipped with the package
        raise VeilError(f"{what} not found at {path}")
    return path
