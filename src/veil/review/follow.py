"""A region drawn on one video frame becomes a track that follows the face.

Seeded tracking: a tracker starts from the drawn box and follows it frame by frame; on
every third frame (and wherever the tracker loses the face) the detector looks around the
tracked box, and where it finds a face that agrees with it (overlap), the box snaps to it
and the tracker is re-seeded there, so the track does not drift. The drawn box's margin
around the detector's box is kept. When the tracker loses the face and the detector does
not find it, the last box is held (and grown a little) for a few frames, then the track ends.

The tracker is OpenCV's normalised template matching at three scales (``template``), the
default because it was measured best (``tests/test_review_follow.py``): on a moving,
growing face it held the face where OpenCV's MIL tracker (the only classic tracker in the
``opencv-python`` 5 wheel; CSRT and KCF are in the contrib build) drifted, and MIL samples
at random, so the same drawing gave different tracks. ``kind="mil"`` (or ``csrt``/``kcf``
where installed) selects an OpenCV tracker instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from veil.detections import Detections

Box = tuple[float, float, float, float]
FrameAt = Callable[[int], np.ndarray]
Detect = Callable[[np.ndarray], Detections]

#: Frames a track is held at its last box after the face is lost, before it ends.
HOLD_FRAMES = 6
#: The detector looks around the tracked box on one frame in this many.
DETECT_EVERY = 3  # measured: as close as every frame, at a fraction of the cost
#: Overlap (IoU) with the tracked box that a detection needs to re-seed the tracker.
AGREE_IOU = 0.3


def iou(a: Box | np.ndarray, b: Box | np.ndarray) -> float:
    """Intersection over union of two ``x1, y1, x2, y2`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def tracker_kind() -> str:
    """The OpenCV tracker this installation offers (``csrt``, ``kcf``, ``mil``) or
    ``template`` when it has none."""
    for name, attr in (("csrt", "TrackerCSRT"), ("kcf", "TrackerKCF"), ("mil", "TrackerMIL")):
        if hasattr(cv2, attr) or hasattr(cv2, attr + "_create"):
            return name
    return "template"


def _make_cv_tracker(kind: str):  # noqa: ANN202 - an OpenCV object
    attr = {"csrt": "TrackerCSRT", "kcf": "TrackerKCF", "mil": "TrackerMIL"}[kind]
    cls = getattr(cv2, attr, None)
    if cls is not None and hasattr(cls, "create"):
        return cls.create()
    return getattr(cv2, attr + "_create")()


class _Template:
    """Normalised template matching in a window around the last box, at three scales (so a
    face that grows or shrinks is kept). The template is the drawn (or last re-seeded)
    patch: refreshing it from every match drifted off the face in our measurements.
    Deterministic, and about a hundred times faster than MIL."""

    SCALES = (0.97, 1.0, 1.03)

    def init(self, bgr: np.ndarray, xywh: tuple[int, int, int, int]) -> None:
        x, y, w, h = xywh
        self.box = (float(x), float(y), float(w), float(h))
        self.tpl = cv2.cvtColor(bgr[y:y + h, x:x + w], cv2.COLOR_BGR2GRAY).astype(np.float32)

    def update(self, bgr: np.ndarray) -> tuple[bool, tuple[int, int, int, int]]:
        x, y, w, h = self.box
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
        H, W = gray.shape
        best = (-1.0, self.box)
        for s in self.SCALES:
            tw, th = max(4, round(w * s)), max(4, round(h * s))
            tpl = cv2.resize(self.tpl, (tw, th), interpolation=cv2.INTER_AREA)
            cx, cy = x + w / 2, y + h / 2
            x0, y0 = int(max(0, cx - tw)), int(max(0, cy - th))
            x1, y1 = int(min(W, cx + tw)), int(min(H, cy + th))
            window = gray[y0:y1, x0:x1]
            if window.shape[0] <= th or window.shape[1] <= tw:
                continue
            res = cv2.matchTemplate(window, tpl, cv2.TM_CCOEFF_NORMED)
            _, score, _, (bx, by) = cv2.minMaxLoc(res)
            score -= 0.01 * abs(s - 1.0) / 0.03  # prefer the same size on a tie
            if score > best[0]:
                best = (score, (float(x0 + bx), float(y0 + by), float(tw), float(th)))
        score, box = best
        if score < 0.5:
            return False, _ints(self.box)
        self.box = box
        return True, _ints(box)


def _ints(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    return round(box[0]), round(box[1]), round(box[2]), round(box[3])


def _tracker(kind: str):  # noqa: ANN202
    return _Template() if kind == "template" else _make_cv_tracker(kind)


def _xywh(box: Box, w: int, h: int) -> tuple[int, int, int, int]:
    x1, y1 = int(max(0, round(box[0]))), int(max(0, round(box[1])))
    x2, y2 = int(min(w, round(box[2]))), int(min(h, round(box[3])))
    return x1, y1, max(1, x2 - x1), max(1, y2 - y1)


def _clip(box: np.ndarray | Box, w: int, h: int) -> Box:
    return (float(np.clip(box[0], 0, w)), float(np.clip(box[1], 0, h)),
            float(np.clip(box[2], 0, w)), float(np.clip(box[3], 0, h)))


def _detect_near(detect: Detect, rgb: np.ndarray, box: Box) -> np.ndarray:
    """Detector boxes (full-frame coordinates) in a window of 3x the box around it."""
    h, w = rgb.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0, y0 = int(max(0, box[0] - bw)), int(max(0, box[1] - bh))
    x1, y1 = int(min(w, box[2] + bw)), int(min(h, box[3] + bh))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return np.zeros((0, 4), np.float32)
    dets = detect(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
    boxes = np.asarray(dets.boxes, np.float32).reshape(-1, 4).copy()
    boxes[:, [0, 2]] += x0
    boxes[:, [1, 3]] += y0
    return boxes


@dataclass
class Followed:
    """One frame of a followed face: the box and how it was placed."""

    frame: int
    box: Box
    how: str  # "drawn", "tracked", "detected" (snapped to the detector), "held"


def _margin(drawn: Box, det: np.ndarray) -> np.ndarray:
    """The drawn box expressed relative to a detector box (offsets in its widths/heights)."""
    dw, dh = max(det[2] - det[0], 1.0), max(det[3] - det[1], 1.0)
    return np.array([(drawn[0] - det[0]) / dw, (drawn[1] - det[1]) / dh,
                     (drawn[2] - det[2]) / dw, (drawn[3] - det[3]) / dh])


def _apply_margin(det: np.ndarray, m: np.ndarray) -> np.ndarray:
    dw, dh = det[2] - det[0], det[3] - det[1]
    return np.array([det[0] + m[0] * dw, det[1] + m[1] * dh,
                     det[2] + m[2] * dw, det[3] + m[3] * dh])


def follow(frame_at: FrameAt, start: int, box: Box, end: int, *,
           detect: Detect | None = None, kind: str | None = None,
           detect_every: int = DETECT_EVERY) -> list[Followed]:
    """Follow the face drawn as ``box`` on frame ``start`` through frames ``start..end-1``.

    ``frame_at(i)`` gives the upright RGB pixels of frame ``i``; ``detect`` (a scanner's
    ``scan``) re-seeds the tracker where it agrees, on every ``detect_every``-th frame and
    on every frame where the tracker has lost the face. Returns one :class:`Followed` per
    frame, from ``start`` on, until the face is lost for :data:`HOLD_FRAMES` frames.
    """
    kind = kind or "template"
    first = frame_at(start)
    h, w = first.shape[:2]
    drawn = _clip(box, w, h)
    margin = np.zeros(4)
    if detect is not None:
        near = _detect_near(detect, first, drawn)
        overlaps = [iou(drawn, d) for d in near]
        if overlaps and max(overlaps) >= AGREE_IOU:
            margin = _margin(drawn, near[int(np.argmax(overlaps))])
    tracker = _tracker(kind)
    tracker.init(cv2.cvtColor(first, cv2.COLOR_RGB2BGR), _xywh(drawn, w, h))
    out = [Followed(start, drawn, "drawn")]
    last = np.asarray(drawn, np.float64)
    lost = 0
    for i in range(start + 1, end):
        rgb = frame_at(i)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        ok, (x, y, bw, bh) = tracker.update(bgr)
        guess = np.array([x, y, x + bw, y + bh], np.float64) if ok else last
        how = "tracked" if ok else "held"
        if detect is not None and (not ok or (i - start) % detect_every == 0):
            near = _detect_near(detect, rgb, tuple(guess))  # type: ignore[arg-type]
            overlaps = [iou(guess, _apply_margin(d, margin)) for d in near]
            if overlaps and max(overlaps) >= AGREE_IOU:
                guess = _apply_margin(near[int(np.argmax(overlaps))], margin)
                how = "detected"
                tracker = _tracker(kind)
                tracker.init(bgr, _xywh(tuple(guess), w, h))  # type: ignore[arg-type]
        if how == "held":
            lost += 1
            if lost > HOLD_FRAMES:
                break
            grow = 0.05 * (guess[2] - guess[0]), 0.05 * (guess[3] - guess[1])
            guess = guess + np.array([-grow[0], -grow[1], grow[0], grow[1]])
        else:
            lost = 0
        clipped = _clip(guess, w, h)
        if clipped[2] - clipped[0] < 2 or clipped[3] - clipped[1] < 2:
            break  # the face left the picture
        out.append(Followed(i, clipped, how))
        last = np.asarray(clipped, np.float64)
    return out


#: Frames decoded at once when following backwards: a decoder only goes forwards, so
#: frames are read in blocks (one seek each) and handed out last first.
BACK_BLOCK = 32


def _backwards(frame_at: FrameAt, start: int) -> FrameAt:
    """``frame_at`` for frames ``start, start-1, ... 0`` as steps ``0, 1, ... start``,
    reading each block of :data:`BACK_BLOCK` frames forwards once."""
    block: dict[int, np.ndarray] = {}

    def at(step: int) -> np.ndarray:
        index = start - step
        if index not in block:
            block.clear()
            for i in range(max(0, index - BACK_BLOCK + 1), index + 1):
                block[i] = frame_at(i)
        return block[index]

    return at


def follow_both(frame_at: FrameAt, start: int, box: Box, end: int, *,
                detect: Detect | None = None, kind: str | None = None,
                detect_every: int = DETECT_EVERY) -> list[Followed]:
    """Follow the face drawn on frame ``start`` backwards to where it appears and forwards
    to where it leaves (:func:`follow` both ways). Returns the frames in order."""
    forward = follow(frame_at, start, box, end, detect=detect, kind=kind,
                     detect_every=detect_every)
    if start == 0:
        return forward
    back = follow(_backwards(frame_at, start), 0, box, start + 1, detect=detect, kind=kind,
                  detect_every=detect_every)
    earlier = [Followed(start - s.frame, s.box, s.how) for s in reversed(back[1:])]
    return earlier + forward
