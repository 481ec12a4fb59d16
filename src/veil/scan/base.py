"""The small interface every face detector implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from veil.detections import Detections


@runtime_checkable
class Detector(Protocol):
    """Finds faces in one upright RGB ``uint8`` frame of shape ``(H, W, 3)``.

    Implementations return *all* candidates at or above their own floor threshold;
    :class:`veil.settings.ScanSettings` decides which are kept.
    """

    name: str

    def detect(self, frame: np.ndarray) -> Detections: ...
