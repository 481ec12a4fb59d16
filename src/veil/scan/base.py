"""The small interface every face detector implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from veil.detections import Detections


@runtime_checkable
class Detector(Protocol):
    """Finds faces in one upright RGB ``uint8`` frame of shape ``(H, W, 3)``.

    ``name`` is the registry name (``veil.scan.registry``), ``version`` says which weights
    and decoder made the detections (recorded in plans and reports). Implementations
    return *all* candidates at or above ``floor``; :class:`veil.settings.ScanSettings`
    decides which are kept. Lowering ``floor`` only ever adds candidates.
    """

    name: str
    version: str
    floor: float

    def detect(self, frame: np.ndarray) -> Detections: ...


_default_threads: int | None = None


def set_default_threads(threads: int | None) -> None:
    """onnxruntime intra-op threads of every detector made from now on in this process
    (``None``: onnxruntime's own choice, one per physical core). A batch's workers each
    take their share of the cores (:func:`veil.jobs.runners.threads_per_worker`): a
    detector left at onnxruntime's choice in each of two workers on two cores would run
    four spinning threads on two cores."""
    global _default_threads
    _default_threads = threads


def default_threads() -> int | None:
    """The thread count set by :func:`set_default_threads` (``None``: not set)."""
    return _default_threads
