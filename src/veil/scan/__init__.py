"""Stage 1, scan: detectors turn a frame into :class:`veil.detections.Detections`.

``Scanner(settings).scan(frame)`` is what the other stages call; the detector
behind it is a plug-in (:class:`veil.scan.base.Detector`).
"""

from veil.scan.base import Detector
from veil.scan.scanner import Scanner

__all__ = ["Detector", "Scanner"]
