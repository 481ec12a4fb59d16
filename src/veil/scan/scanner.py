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
    """One run of the detector on the frame scaled by ``scale`` (mirrored if ``mirror``)."""

    scale: float
    mirror: bool = False


def plan_passes(width: int, height: int, settings: ScanSettings) -> list[ScanPass]:
    """Decide the detector passes for a frame of this size.

    The base pass sees the whole frame with its long side at most ``base_side``.
    Each zoom enlarges that, bounded by ``max_upscale`` and ``target_pixels``; a zoom
    that the bounds bring down to (about) the previous pass's scale is skipped. The
    largest pass is repeated on the mirrored frame when ``mirror`` is set.
    """
    long_side = max(width, height, 1)
    pixels = max(width * height, 1)
    base = min(1.0, settings.base_side / long_side)
    cap = min(settings.max_upscale, math.sqrt(settings.target_pixels / pixels))
    passes: list[ScanPass] = []
    for zoom in sorted(settings.zooms):
        scale = base * zoom if zoom <= 1 else min(base * zoom, max(cap, base))
        if passes and scale < passes[-1].scale * 1.15:
            continue
        passes.append(ScanPass(scale=scale))
    if settings.mirror:
        passes.append(ScanPass(scale=passes[-1].scale, mirror=True))
    return passes


def _run_pass(detector: Detector, frame: np.ndarray, p: ScanPass) -> Detections:
    h, w = frame.shape[:2]
    if abs(p.scale - 1.0) < 1e-3:
        scaled = frame
    else:
        interp = cv2.INTER_AREA if p.scale < 1 else cv2.INTER_LINEAR
        scaled = cv2.resize(frame, (max(1, round(w * p.scale)), max(1, round(h * p.scale))),
                            interpolation=interp)
    if p.mirror:
        scaled = np.ascontiguousarray(scaled[:, ::-1])
    sh, sw = scaled.shape[:2]
    dets = detector.detect(scaled)
    if p.mirror:
        dets = _unmirror(dets, sw)
    return dets.transformed(w / sw, h / sh)


def _unmirror(dets: Detections, width: int) -> Detections:
    boxes = dets.boxes.copy()
    boxes[:, 0] = width - dets.boxes[:, 2]
    boxes[:, 2] = width - dets.boxes[:, 0]
    lm = None
    if dets.landmarks is not None:
        lm = dets.landmarks.copy()
        lm[:, :, 0] = width - lm[:, :, 0]
        lm = lm[:, [1, 0, 2, 4, 3], :]  # left and right swap in a mirror image
    return Detections(boxes, dets.scores, lm)


def confirmed(parts: list[Detections], threshold: float, support_threshold: float,
              support_passes: int, iou: float = 0.3) -> Detections:
    """Keep confident candidates, and weak ones that other passes found too."""
    weak_parts = [p.with_min_score(support_threshold) for p in parts]
    kept: list[Detections] = []
    for i, p in enumerate(weak_parts):
        if not len(p):
            continue
        support = np.zeros(len(p), dtype=np.int32)
        for j, q in enumerate(weak_parts):
            if i != j and len(q):
                support += box_iou(p.boxes, q.boxes).max(axis=1) >= iou
        kept.append(p[(p.scores >= threshold) | (support >= support_passes)])
    return Detections.concatenate(kept)


def merge_detections(dets: Detections, iou: float = 0.6) -> Detections:
    """Greedy non-maximum suppression: of boxes overlapping by ``iou`` or more, keep the
    best-scoring one. Boxes that overlap less all stay, so the mask covers their union."""
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
    """Applies the scan settings around a detector: passes, confirmation, merge."""

    def __init__(self, settings: ScanSettings | None = None,
                 detector: Detector | None = None) -> None:
        self.settings = settings or ScanSettings()
        if detector is None:
            from veil.scan.centerface import CenterFace

            detector = CenterFace(floor=self.settings.detector_floor,
                                  device=self.settings.device)
        elif getattr(detector, "floor", 0.0) > self.settings.detector_floor:
            # A detector shared with other scanners only ever reports more candidates
            # this way; each scanner keeps what its own settings ask for.
            detector.floor = self.settings.detector_floor  # type: ignore[attr-defined]
        self.detector = detector

    def scan(self, frame: np.ndarray) -> Detections:
        """All faces in an upright RGB frame."""
        h, w = frame.shape[:2]
        parts = [_run_pass(self.detector, frame, p) for p in plan_passes(w, h, self.settings)]
        return self.combine(parts, w, h)

    def combine(self, parts: list[Detections], width: int, height: int) -> Detections:
        """The faces of a ``width`` x ``height`` frame from what each pass found (frame
        coordinates): confident or confirmed candidates, weak ones too with
        ``keep_weak``, overlaps merged."""
        s = self.settings
        found = confirmed(parts, s.threshold, s.support_threshold, s.support_passes)
        if s.keep_weak > 0:  # reported unconfirmed; the video plan confirms them over time
            found = Detections.concatenate([found] + [p.with_min_score(s.keep_weak)
                                                      for p in parts])
        return merge_detections(found).clipped(width, height)

    __call__ = scan
