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
