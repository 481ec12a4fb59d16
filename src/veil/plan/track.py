"""Link per-frame detections into tracks, and turn tracks into regions to mask.

A detector that misses a face for two frames while the head turns would publish it
in those two frames. The tracker closes such holes: detections are associated from
frame to frame (IoU with a constant-velocity prediction, or centre distance for
small, fast faces), gaps inside a track are filled with interpolated boxes, each
track is extended a few frames before it starts and after it ends, boxes are
widened by the track's recent motion, and no track crosses a scene cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from veil.detections import Detections, box_iou
from veil.plan.record import Provenance
from veil.settings import TrackSettings

__all__ = ["SceneCutDetector", "Track", "TrackSettings", "TrackedRegion", "confirmed_tracks",
           "link_tracks", "track_regions", "track_size"]


@dataclass
class Track:
    """One face followed through consecutive frames of one scene."""

    track_id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    @property
    def last_frame(self) -> int:
        return self.frames[-1]

    def velocity(self) -> np.ndarray:
        """Per-frame change of the box (x1 y1 x2 y2) from its last two detections."""
        if len(self.frames) < 2:
            return np.zeros(4, dtype=np.float32)
        dt = self.frames[-1] - self.frames[-2]
        return (self.boxes[-1] - self.boxes[-2]) / max(dt, 1)

    def predict(self, frame: int) -> np.ndarray:
        return self.boxes[-1] + self.velocity() * (frame - self.last_frame)


@dataclass
class TrackedRegion:
    """A box to mask in one frame, with where it came from."""

    frame: int
    box: np.ndarray
    score: float
    provenance: Provenance
    track_id: int


def _centre_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Centre distance of ``(N,4)`` vs ``(M,4)`` boxes over the larger side of the pair."""
    ca = np.stack([(a[:, 0] + a[:, 2]) / 2, (a[:, 1] + a[:, 3]) / 2], axis=1)
    cb = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
    d = np.linalg.norm(ca[:, None, :] - cb[None, :, :], axis=2)
    sa = np.maximum(a[:, 2] - a[:, 0], a[:, 3] - a[:, 1])
    sb = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    size = np.maximum(np.maximum(sa[:, None], sb[None, :]), 1.0)
    return d / size


def _size_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sa = np.maximum(a[:, 2] - a[:, 0], 1.0)
    sb = np.maximum(b[:, 2] - b[:, 0], 1.0)
    r = sa[:, None] / sb[None, :]
    return np.maximum(r, 1.0 / r)


def _assign(cost: np.ndarray, allowed: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (row, col) minimising cost among allowed pairs (Hungarian if scipy is there)."""
    if cost.size == 0 or not allowed.any():
        return []
    big = 1e6
    c = np.where(allowed, cost, big)
    try:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(c)
        return [(int(r), int(k)) for r, k in zip(rows, cols, strict=True) if allowed[r, k]]
    except ImportError:  # greedy: cheapest allowed pair first
        pairs: list[tuple[int, int]] = []
        used_r: set[int] = set()
        used_c: set[int] = set()
        for flat in np.argsort(c, axis=None):
            r, k = divmod(int(flat), c.shape[1])
            if not allowed[r, k] or r in used_r or k in used_c:
                continue
            pairs.append((r, k))
            used_r.add(r)
            used_c.add(k)
        return pairs


def link_tracks(detections: Sequence[Detections], scene_cuts: Sequence[int] = (),
                settings: TrackSettings | None = None) -> list[Track]:
    """Associate detections frame by frame into tracks.

    ``detections[i]`` are the faces of frame ``i``; ``scene_cuts`` are the indices of
    frames that begin a new shot (every open track ends before them).
    """
    s = settings or TrackSettings()
    cuts = set(int(c) for c in scene_cuts)
    tracks: list[Track] = []
    active: list[Track] = []
    for t, dets in enumerate(detections):
        if t in cuts:
            active = []
        active = [tr for tr in active if t - tr.last_frame <= s.max_gap + 1]
        boxes = dets.boxes
        matched: set[int] = set()
        if len(active) and len(boxes):
            pred = np.stack([tr.predict(t) for tr in active]).astype(np.float32)
            iou = box_iou(pred, boxes)
            dist = _centre_dist(pred, boxes)
            ratio = _size_ratio(pred, boxes)
            allowed = ((iou >= s.min_iou) | (dist <= s.max_centre_dist)) & (ratio <= 2.0)
            cost = (1.0 - iou) + dist
            for r, k in _assign(cost, allowed):
                tr = active[r]
                tr.frames.append(t)
                tr.boxes.append(boxes[k].copy())
                tr.scores.append(float(dets.scores[k]))
                matched.add(k)
        for k in range(len(boxes)):
            if k in matched:
                continue
            tr = Track(track_id=len(tracks), frames=[t], boxes=[boxes[k].copy()],
                       scores=[float(dets.scores[k])])
            tracks.append(tr)
            active.append(tr)
    return tracks


def track_size(tr: Track) -> float:
    """Median long side of a track's detected boxes, in pixels."""
    sides = [max(float(b[2] - b[0]), float(b[3] - b[1])) for b in tr.boxes]
    return float(np.median(sides)) if sides else 0.0


def confirmed_tracks(tracks: Sequence[Track], settings: TrackSettings | None = None,
                     frame_size: tuple[int, int] | None = None) -> list[Track]:
    """The tracks to mask: ones with one confident detection, or faint ones that persist
    and are small (``TrackSettings.faint_max_size`` of the long side of ``frame_size``,
    width and height; without it, or without the limit, every persistent one)."""
    s = settings or TrackSettings()
    # Without a score to confirm by, every track is masked (fail closed).
    confirm = s.confirm_score if s.confirm_score is not None else 0.0
    limit = None
    if s.faint_max_size is not None and frame_size is not None:
        limit = s.faint_max_size * max(frame_size[0], frame_size[1], 1)

    def faint_kept(tr: Track) -> bool:
        return len(tr.frames) >= s.min_detections and (limit is None
                                                       or track_size(tr) <= limit)

    return [tr for tr in tracks if max(tr.scores) >= confirm or faint_kept(tr)]


def _widen(box: np.ndarray, motion: np.ndarray, s: TrackSettings) -> np.ndarray:
    """Grow a box on each side by its motion per frame (x for width, y for height)."""
    w = max(float(box[2] - box[0]), 1.0)
    h = max(float(box[3] - box[1]), 1.0)
    mx = min(abs(float(motion[0])) * s.motion_widen, s.max_widen * w)
    my = min(abs(float(motion[1])) * s.motion_widen, s.max_widen * h)
    return np.array([box[0] - mx, box[1] - my, box[2] + mx, box[3] + my], dtype=np.float32)


def _grow(box: np.ndarray, frames_away: int, s: TrackSettings) -> np.ndarray:
    """Grow a box by the uncertainty of a frame ``frames_away`` from a detection."""
    f = min(s.uncertain_grow * frames_away, s.uncertain_max)
    if f <= 0:
        return box
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    return np.array([box[0] - f * w, box[1] - f * h, box[2] + f * w, box[3] + f * h],
                    dtype=np.float32)


def _centre_motion(boxes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Per-detection motion (|dx|, |dy| of the centre, per frame), the larger of the
    steps to the previous and the next detection."""
    n = len(frames)
    out = np.zeros((n, 2), dtype=np.float32)
    if n < 2:
        return out
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
    steps = np.abs(np.diff(centres, axis=0)) / np.maximum(np.diff(frames), 1)[:, None]
    out[1:] = steps
    out[:-1] = np.maximum(out[:-1], steps)
    return out


def track_regions(tracks: Sequence[Track], frame_count: int, scene_cuts: Sequence[int] = (),
                  settings: TrackSettings | None = None) -> list[TrackedRegion]:
    """Regions to mask for every track: detected, gap-filled, extended, motion-widened."""
    s = settings or TrackSettings()
    cuts = np.asarray(sorted(set(int(c) for c in scene_cuts)), dtype=np.int64)
    out: list[TrackedRegion] = []
    for tr in tracks:
        frames = np.asarray(tr.frames, dtype=np.int64)
        boxes = np.stack(tr.boxes).astype(np.float32)
        motion = _centre_motion(boxes, frames)
        tid = tr.track_id
        for i, f in enumerate(frames):
            out.append(TrackedRegion(int(f), _widen(boxes[i], motion[i], s),
                                     tr.scores[i], "detected", tid))
            if i + 1 < len(frames) and frames[i + 1] - f > 1:
                f2 = int(frames[i + 1])
                m = np.maximum(motion[i], motion[i + 1])
                score = min(tr.scores[i], tr.scores[i + 1])
                for g in range(int(f) + 1, f2):
                    a = (g - f) / (f2 - f)
                    box = boxes[i] * (1 - a) + boxes[i + 1] * a
                    box = _grow(_widen(box, m, s), min(g - int(f), f2 - g), s)
                    out.append(TrackedRegion(g, box, score, "interpolated", tid))
        # Extension: hold the end boxes, widened by the motion accumulated meanwhile;
        # never beyond the shot (cuts) or the video.
        first, last = int(frames[0]), int(frames[-1])
        shot_start = int(cuts[cuts <= first].max()) if (cuts <= first).any() else 0
        later = cuts[cuts > last]
        shot_end = int(later.min()) - 1 if len(later) else frame_count - 1
        for d in range(1, s.extend_before + 1):
            g = first - d
            if g < shot_start:
                break
            box = _grow(_widen(boxes[0], motion[0] * (d + 1), s), d, s)
            out.append(TrackedRegion(g, box, tr.scores[0], "extended", tid))
        for d in range(1, s.extend_after + 1):
            g = last + d
            if g > shot_end:
                break
            box = _grow(_widen(boxes[-1], motion[-1] * (d + 1), s), d, s)
            out.append(TrackedRegion(g, box, tr.scores[-1], "extended", tid))
    out.sort(key=lambda r: (r.frame, r.track_id))
    return out


class SceneCutDetector:
    """Cheap shot-change measure, fed one frame at a time during the scan.

    Each frame is reduced to a 64x36 grey thumbnail; a cut is a frame whose grey
    histogram differs from the previous frame's by more than ``hist_threshold``
    (L1, 0..2) *and* whose thumbnail differs by more than ``diff_threshold`` (mean
    absolute difference, 0..1). Both must agree, so camera pans and flashes are not
    taken for cuts (a missed cut only costs a little extra masking).
    """

    def __init__(self, hist_threshold: float = 0.6, diff_threshold: float = 0.2) -> None:
        self.hist_threshold = hist_threshold
        self.diff_threshold = diff_threshold
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self.cuts: list[int] = []

    def update(self, index: int, rgb: np.ndarray) -> bool:
        """Feed frame ``index``; True when it begins a new shot."""
        import cv2

        small = cv2.resize(rgb, (64, 36), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        hist = np.histogram(grey, bins=32, range=(0.0, 1.0))[0].astype(np.float32)
        hist /= max(float(hist.sum()), 1.0)
        cut = False
        if self._prev is not None:
            pg, ph = self._prev
            hd = float(np.abs(hist - ph).sum())
            dd = float(np.abs(grey - pg).mean())
            cut = hd > self.hist_threshold and dd > self.diff_threshold
        self._prev = (grey, hist)
        if cut:
            self.cuts.append(index)
        return cut
