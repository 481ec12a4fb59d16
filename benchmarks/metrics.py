"""Protection metrics exactly as ../shared/METRICS.md defines them.

Black-box: a tool's mask is the set of pixels it changed (any channel differs by
more than 12), closed twice with a 3x3 structuring element, holes filled. Every tool
is judged by the pixels it changed, not by what it reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from veil.verify.blackbox import CHANGE_THRESHOLD, black_box_mask

__all__ = ["CHANGE_THRESHOLD", "black_box_mask", "FrameScore", "Totals", "score_frame"]

LEAK_COVERAGE = 0.8
MIN_FACE_SIDE = 10.0


def xyxy(boxes_xywh: np.ndarray) -> np.ndarray:
    """``(N, 4)`` float32 ``x1, y1, x2, y2`` boxes from ground truth's ``x, y, w, h``."""
    b = np.asarray(boxes_xywh, dtype=np.float32).reshape(-1, 4)
    return np.column_stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]])


def box_window(box: Iterable[float], w: int, h: int) -> tuple[int, int, int, int]:
    """Pixel window ``x1, y1, x2, y2`` of an ``x, y, w, h`` box, clipped to the image.

    A pixel belongs to the box when its centre lies inside it.
    """
    x, y, bw, bh = (float(v) for v in box)
    x1 = int(np.clip(np.round(x), 0, w))
    y1 = int(np.clip(np.round(y), 0, h))
    x2 = int(np.clip(np.round(x + bw), 0, w))
    y2 = int(np.clip(np.round(y + bh), 0, h))
    return x1, y1, x2, y2


def face_coverage(mask: np.ndarray, box_xywh: Iterable[float]) -> float:
    """Fraction of a ground-truth box's pixels inside ``mask``."""
    h, w = mask.shape
    x1, y1, x2, y2 = box_window(box_xywh, w, h)
    area = (x2 - x1) * (y2 - y1)
    if area <= 0:
        return 0.0
    return float(mask[y1:y2, x1:x2].mean())


def counts(box_xywh: Iterable[float], invalid: bool = False) -> bool:
    """A face counts when not flagged invalid and its shorter side is at least 10 px."""
    _, _, bw, bh = (float(v) for v in box_xywh)
    return (not invalid) and min(bw, bh) >= MIN_FACE_SIDE


def collateral_pixels(mask: np.ndarray, boxes_xywh: np.ndarray) -> int:
    """Masked pixels outside every ground-truth box enlarged to 1.5x (25% each side)."""
    h, w = mask.shape
    allowed = np.zeros_like(mask, dtype=bool)
    for bx, by, bw, bh in np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4):
        grown = (bx - 0.25 * bw, by - 0.25 * bh, 1.5 * bw, 1.5 * bh)
        x1, y1, x2, y2 = box_window(grown, w, h)
        allowed[y1:y2, x1:x2] = True
    return int(np.count_nonzero(mask & ~allowed))


def counted_face_pixels(boxes_xywh: np.ndarray, valid: np.ndarray, w: int, h: int) -> int:
    """Pixels of all counted face boxes (the collateral denominator)."""
    total = 0
    for box, ok in zip(np.asarray(boxes_xywh).reshape(-1, 4), valid, strict=True):
        if ok and counts(box):
            x1, y1, x2, y2 = box_window(box, w, h)
            total += max(0, x2 - x1) * max(0, y2 - y1)
    return total


@dataclass
class FrameScore:
    """Per-frame (or per-image) outcome for each ground-truth face."""

    coverage: list[float] = field(default_factory=list)   # one per GT box
    counted: list[bool] = field(default_factory=list)     # one per GT box
    collateral_px: int = 0
    face_px: int = 0

    @property
    def leaked(self) -> list[bool]:
        return [c and cov < LEAK_COVERAGE for c, cov in zip(self.counted, self.coverage,
                                                                 strict=True)]


def score_frame(mask: np.ndarray, boxes_xywh: np.ndarray,
                invalid: np.ndarray | None = None) -> FrameScore:
    """Coverage of every ground-truth box, plus collateral numerator and denominator."""
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    inv = np.zeros(len(boxes), dtype=bool) if invalid is None else np.asarray(invalid, bool)
    h, w = mask.shape
    score = FrameScore()
    for box, bad in zip(boxes, inv, strict=True):
        score.counted.append(counts(box, bool(bad)))
        score.coverage.append(face_coverage(mask, box))
    # Collateral is measured against every GT box (invalid ones included: masking a real
    # but unlabelled-quality face is not collateral damage).
    score.collateral_px = collateral_pixels(mask, boxes)
    score.face_px = counted_face_pixels(boxes, ~inv, w, h)
    return score


@dataclass
class TrackTally:
    """Per ground-truth face of one clip (its index in every frame's boxes): counted in at
    least one frame, and leaked in at least one counted frame (METRICS.md track leak)."""

    counted: set[int] = field(default_factory=set)
    leaked: set[int] = field(default_factory=set)

    def add(self, s: FrameScore) -> None:
        """Add one frame's score."""
        for i, (c, lk) in enumerate(zip(s.counted, s.leaked, strict=True)):
            if c:
                self.counted.add(i)
                if lk:
                    self.leaked.add(i)


@dataclass
class Totals:
    """Sums over many frames or images."""

    counted: int = 0
    leaked: int = 0
    collateral_px: int = 0
    face_px: int = 0

    def add(self, s: FrameScore, selected: Iterable[int] | None = None) -> None:
        """Add a frame; ``selected`` restricts the face counts to those GT indices (0-based)."""
        idx = range(len(s.counted)) if selected is None else selected
        leaked = s.leaked
        for i in idx:
            if s.counted[i]:
                self.counted += 1
                self.leaked += int(leaked[i])
        if selected is None:
            self.collateral_px += s.collateral_px
            self.face_px += s.face_px

    @property
    def leak_rate(self) -> float:
        return self.leaked / self.counted if self.counted else 0.0

    @property
    def collateral(self) -> float:
        return self.collateral_px / self.face_px if self.face_px else 0.0
