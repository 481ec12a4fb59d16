"""Camera motion between consecutive frames, estimated cheaply during the scan.

The tracker uses it to follow a face through a pan or a shaking camera: a track's box
is carried through the camera's motion (plus its own) to associate detections, to fill
gaps, and to keep the face masked through the frames a whip pan or a defocus hides it
from the detector.

Each frame is reduced to a grey picture of at most :data:`MOTION_SIDE` px on its long
side. The translation is first found by phase correlation (robust to motion blur and to
large shifts), then refined to a similarity transform (shift, zoom, roll) by tracking
corners with pyramidal Lucas-Kanade flow from that guess and fitting the inliers with
RANSAC. When too few corners agree the phase-correlation shift alone is used, and when
that is not trusted either the motion is unknown (``None``): the tracker then falls back
to the track's own velocity. Everything is deterministic (OpenCV's RANSAC draws from a
fixed seed on each call) and rounded, so equal frames give an equal plan.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MOTION_SIDE", "CameraMotion", "accumulate", "compose", "identity",
           "motion_size", "warp_box", "warp_boxes"]

#: long side, in pixels, of the grey picture the motion is estimated on
MOTION_SIDE = 320

Affine = np.ndarray  # 2x3 float64: frame t-1 pixels -> frame t pixels


def identity() -> Affine:
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def compose(second: Affine, first: Affine) -> Affine:
    """The affine map ``second ∘ first`` (apply ``first``, then ``second``)."""
    a = np.vstack([second, [0.0, 0.0, 1.0]]) @ np.vstack([first, [0.0, 0.0, 1.0]])
    return a[:2]


def invert(m: Affine) -> Affine:
    return np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]


def warp_boxes(boxes: np.ndarray, m: Affine) -> np.ndarray:
    """Carry ``(N, 4)`` x1 y1 x2 y2 boxes through ``m``: the centre is mapped exactly and
    the size scaled by the map's zoom (a face does not turn into its bounding rhombus)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    nx = m[0, 0] * cx + m[0, 1] * cy + m[0, 2]
    ny = m[1, 0] * cx + m[1, 1] * cy + m[1, 2]
    zoom = float(np.sqrt(max(abs(np.linalg.det(m[:, :2])), 1e-6)))
    hw, hh = (b[:, 2] - b[:, 0]) / 2 * zoom, (b[:, 3] - b[:, 1]) / 2 * zoom
    return np.stack([nx - hw, ny - hh, nx + hw, ny + hh], 1).astype(np.float32)


def warp_box(box: np.ndarray, m: Affine) -> np.ndarray:
    return warp_boxes(np.asarray(box)[None], m)[0]


def accumulate(motion: Sequence[Affine | None], start: int, end: int) -> Affine | None:
    """The camera's map from frame ``start`` to frame ``end`` (either direction), or
    ``None`` when the motion of a frame on the way is unknown. ``motion[t]`` maps frame
    ``t - 1`` to frame ``t``; ``motion[0]`` is unused."""
    m = identity()
    if end >= start:
        for t in range(start + 1, end + 1):
            step = motion[t] if t < len(motion) else None
            if step is None:
                return None
            m = compose(step, m)
        return m
    for t in range(start, end, -1):
        step = motion[t] if t < len(motion) else None
        if step is None:
            return None
        m = compose(invert(step), m)
    return m


def motion_size(m: Affine | None, frame_size: tuple[int, int]) -> float:
    """How far the camera moves the picture in one step, in pixels: the largest
    displacement of the frame's four corners (``inf`` when unknown)."""
    if m is None:
        return float("inf")
    w, h = frame_size
    pts = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64)
    moved = pts @ m[:, :2].T + m[:, 2]
    return float(np.linalg.norm(moved - pts, axis=1).max())


class CameraMotion:
    """Global motion of the picture, fed one frame at a time (like the cut detector).

    ``motion[t]`` is the 2x3 affine map from frame ``t - 1``'s pixels to frame ``t``'s
    (``None`` for the first frame, after a frame that could not be read, and when the
    estimate is not trusted). ``cpu_seconds`` is the process CPU time spent here.
    """

    def __init__(self, side: int = MOTION_SIDE, max_corners: int = 200,
                 min_inliers: int = 12, min_response: float = 0.08) -> None:
        self.side = side
        self.max_corners = max_corners
        self.min_inliers = min_inliers
        self.min_response = min_response
        self.motion: list[Affine | None] = []
        self.cpu_seconds = 0.0
        self._prev: np.ndarray | None = None
        self._scale = 1.0

    def _grey(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        h, w = rgb.shape[:2]
        self._scale = min(1.0, self.side / max(w, h, 1))
        small = rgb
        if self._scale < 1.0:
            size = (max(1, round(w * self._scale)), max(1, round(h * self._scale)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2GRAY)

    def update(self, index: int, rgb: np.ndarray | None) -> Affine | None:
        """Feed frame ``index`` (``None``: a frame that could not be read); the motion
        from the previous frame into it, in this frame's full-size pixels."""
        import time

        t0 = time.process_time()
        while len(self.motion) < index:  # frames never fed: unknown
            self.motion.append(None)
            self._prev = None
        m: Affine | None = None
        grey = None if rgb is None or rgb.ndim != 3 or rgb.shape[0] < 16 or rgb.shape[1] < 16 \
            else self._grey(rgb)
        if grey is not None and self._prev is not None and self._prev.shape == grey.shape:
            small = self._estimate(self._prev, grey)
            if small is not None:
                s = self._scale
                m = small.copy()
                m[:, 2] /= s  # the linear part does not depend on the scale
                m = np.round(m, 4)
        self._prev = grey
        self.motion.append(m)
        self.cpu_seconds += time.process_time() - t0
        return m

    def _estimate(self, prev: np.ndarray, cur: np.ndarray) -> Affine | None:
        import cv2

        a = prev.astype(np.float32)
        b = cur.astype(np.float32)
        if float(a.std()) < 2.0 or float(b.std()) < 2.0:
            return None  # a blank picture: nothing to measure motion by
        h, w = a.shape
        win = cv2.createHanningWindow((w, h), cv2.CV_32F)
        (dx, dy), response = cv2.phaseCorrelate(a, b, win)
        shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
        pts = cv2.goodFeaturesToTrack(prev, self.max_corners, 0.01, 6, blockSize=7)
        if pts is not None and len(pts) >= self.min_inliers:
            guess = (pts + np.array([dx, dy], np.float32)).astype(np.float32)
            nxt, status, _err = cv2.calcOpticalFlowPyrLK(
                prev, cur, pts, guess.copy(), winSize=(21, 21), maxLevel=3,
                flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
                criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
            ok = status.reshape(-1) == 1
            if int(ok.sum()) >= self.min_inliers:
                src = pts.reshape(-1, 2)[ok]
                dst = nxt.reshape(-1, 2)[ok]
                m, inliers = cv2.estimateAffinePartial2D(
                    src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.5,
                    maxIters=500, confidence=0.99, refineIters=10)
                if m is not None and inliers is not None and \
                        int(inliers.sum()) >= max(self.min_inliers, int(0.3 * ok.sum())):
                    zoom = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
                    if 0.8 <= zoom <= 1.25:
                        return m.astype(np.float64)
        if response >= self.min_response:
            return shift
        return None
