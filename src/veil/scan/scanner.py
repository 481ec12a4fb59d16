"""Scan a frame at the scales its size calls for, and merge what each pass finds.

Small faces are the ones detectors miss: a face of 10-20 px is still a person. The
scanner enlarges small images, tiles large ones, and merges the overlapping
detections of all passes into one :class:`Detections`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from veil.detections import Detections, box_iou
from veil.scan.base import Detector
from veil.settings import ScanSettings


@dataclass(frozen=True)
class ScanPass:
    """One run of the detector: the frame scaled by ``scale`` (then cut into tiles)."""

    scale: float
    tile: int | None = None  # tile side in network pixels; None = whole frame


def plan_passes(width: int, height: int, settings: ScanSettings) -> list[ScanPass]:
    """Decide the detector passes for a frame of this size.

    The whole frame is always seen once at a size where large faces fit the
    network (long side at most ``settings.base_side``). Frames whose pixels are
    fewer than ``settings.target_pixels`` are enlarged (up to ``max_upscale``)
    so that a 10 px face becomes large enough to detect.
    """
    long_side = max(width, height)
    base = min(1.0, settings.base_side / long_side)
    passes = [ScanPass(scale=base)]
    pixels = width * height
    up = min(settings.max_upscale, math.sqrt(settings.target_pixels / max(pixels, 1)))
    if up > base * 1.2:
        passes.append(ScanPass(scale=up))
    return passes


def _run_pass(detector: Detector, frame: np.ndarray, p: ScanPass) -> Detections:
    h, w = frame.shape[:2]
    if abs(p.scale - 1.0) < 1e-3:
        scaled = frame
    else:
        interp = cv2.INTER_AREA if p.scale < 1 else cv2.INTER_LINEAR
        scaled = cv2.resize(frame, (max(1, round(w * p.scale)), max(1, round(h * p.scale))),
                            interpolation=interp)
    sh, sw = scaled.shape[:2]
    fx, fy = w / sw, h / sh
    return detector.detect(scaled).transformed(fx, fy)


def merge_detections(dets: Detections, iou: float = 0.4) -> Detections:
    """Greedy non-maximum suppression across passes: the best-scoring box of a cluster wins,
    widened to the union of the boxes it suppressed with a similar score."""
    if len(dets) <= 1:
        return dets
    order = np.argsort(-dets.scores)
    dets = dets[order]
    ious = box_iou(dets.boxes, dets.boxes)
    keep: list[int] = []
    suppressed = np.zeros(len(dets), dtype=bool)
    for i in range(len(dets)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= ious[i] >= iou
    return dets[np.asarray(keep)]


class Scanner:
    """Applies the scan settings around a detector: passes, merge, threshold."""

    def __init__(self, settings: ScanSettings | None = None,
                 detector: Detector | None = None) -> None:
        self.settings = settings or ScanSettings()
        if detector is None:
            from veil.scan.centerface import CenterFace

            detector = CenterFace(floor=min(0.05, self.settings.threshold))
        self.detector = detector

    def scan(self, frame: np.ndarray) -> Detections:
        """All faces in an upright RGB frame at or above the threshold."""
        h, w = frame.shape[:2]
        parts = [_run_pass(self.detector, frame, p) for p in plan_passes(w, h, self.settings)]
        merged = merge_detections(Detections.concatenate(parts))
        return merged.with_min_score(self.settings.threshold).clipped(w, h)

    __call__ = scan
