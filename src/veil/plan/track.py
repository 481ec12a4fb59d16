"""Link per-frame detections into tracks, and turn tracks into regions to mask.

A detector that misses a face for two frames while the head turns would publish it
in those two frames. The tracker closes such holes: detections are associated from
frame to frame (IoU with a constant-velocity prediction, or centre distance for
small, fast faces), gaps inside a track are filled with interpolated boxes, each
track is extended a few frames before it starts and after it ends, boxes are
widened by the track's recent motion, and no track crosses a scene cut.

When the scan measured the camera's motion (:class:`veil.plan.motion.CameraMotion`),
a track's box is carried through it: the prediction used to associate detections is
the last box moved by the camera (plus the face's own motion in the scene), gaps are
filled along the camera's path instead of a straight line, extensions follow the camera
instead of standing still, and a track is kept alive (and masked) through the frames of
a fast camera move where the detector loses the face, up to ``TrackSettings.coast_max``
frames, until its box leaves the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from veil.detections import Detections, box_iou, long_sides
from veil.plan.motion import Affine, accumulate, motion_size, warp_box
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

    def predict(self, frame: int, camera: Sequence[Affine | None] | None = None,
                own: float = 1.0) -> np.ndarray:
        """Where the box is expected in ``frame``: moved by the camera's motion since the
        last detection plus ``own`` times the face's own velocity in the scene (when the
        camera motion is known on the way), otherwise at the track's constant velocity."""
        if camera is not None:
            cam = accumulate(camera, self.last_frame, frame)
            if cam is not None:
                box = warp_box(self.boxes[-1], cam)
                return box + own * self.own_velocity(camera) * (frame - self.last_frame)
        return self.boxes[-1] + self.velocity() * (frame - self.last_frame)

    def own_velocity(self, camera: Sequence[Affine | None]) -> np.ndarray:
        """Per-frame change of the box that the camera does not explain (from the last
        two detections; zero when the camera's motion between them is unknown)."""
        if len(self.frames) < 2:
            return np.zeros(4, dtype=np.float32)
        f0, f1 = self.frames[-2], self.frames[-1]
        cam = accumulate(camera, f0, f1)
        if cam is None:
            return np.zeros(4, dtype=np.float32)
        return (self.boxes[-1] - warp_box(self.boxes[-2], cam)) / max(f1 - f0, 1)


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
    sa, sb = long_sides(a), long_sides(b)
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


def fast_frames(camera: Sequence[Affine | None] | None, frame_size: tuple[int, int] | None,
                settings: TrackSettings) -> np.ndarray:
    """Per frame: True where the camera moved fast into it (more than
    ``settings.coast_fast`` of the frame's long side) or its motion is unknown."""
    if camera is None or frame_size is None or not settings.camera_motion:
        return np.zeros(0, dtype=bool)
    limit = settings.coast_fast * max(frame_size)
    out = np.array([motion_size(m, frame_size) > limit for m in camera], dtype=bool)
    if len(out):
        out[0] = False
    return out


def _camera(camera: Sequence[Affine | None] | None,
            s: TrackSettings) -> Sequence[Affine | None] | None:
    return camera if camera is not None and s.camera_motion else None


def _outside(box: np.ndarray, frame_size: tuple[int, int] | None) -> bool:
    if frame_size is None:
        return False
    w, h = frame_size
    return bool(box[2] <= 0 or box[3] <= 0 or box[0] >= w or box[1] >= h)


def link_tracks(detections: Sequence[Detections], scene_cuts: Sequence[int] = (),
                settings: TrackSettings | None = None,
                camera: Sequence[Affine | None] | None = None,
                frame_size: tuple[int, int] | None = None) -> list[Track]:
    """Associate detections frame by frame into tracks.

    ``detections[i]`` are the faces of frame ``i``; ``scene_cuts`` are the indices of
    frames that begin a new shot (every open track ends before them). ``camera[i]``,
    when given, is the camera's motion into frame ``i`` (:mod:`veil.plan.motion`) and
    ``frame_size`` the picture's width and height: predictions then follow the camera,
    and frames of fast camera motion do not count against ``max_gap`` (up to
    ``coast_max`` of them). With ``frame_size``, weak boxes too large for a faint track are
    linked last (``TrackSettings.weak_max_ratio``).
    """
    s = settings or TrackSettings()
    cam = _camera(camera, s)
    fast = fast_frames(cam, frame_size, s)
    fast_sum = np.concatenate([[0], np.cumsum(fast)]) if len(fast) else None
    cuts = set(int(c) for c in scene_cuts)
    weak_limit = None
    if (s.weak_max_ratio is not None and s.confirm_score is not None
            and s.faint_max_size is not None and frame_size is not None):
        weak_limit = s.faint_max_size * max(frame_size[0], frame_size[1], 1)
    tracks: list[Track] = []
    active: list[Track] = []
    copies: set[int] = set()   # tracks holding only weak boxes larger than weak_limit

    def alive(tr: Track, t: int) -> bool:
        gap = t - tr.last_frame
        if gap <= s.max_gap + 1:
            return True
        if fast_sum is None or t >= len(fast_sum):
            return False
        n_fast = min(int(fast_sum[t] - fast_sum[tr.last_frame + 1]), s.coast_max)
        return gap - n_fast <= s.max_gap + 1

    for t, dets in enumerate(detections):
        if t in cuts:
            active = []
        active = [tr for tr in active if alive(tr, t)]
        boxes = dets.boxes
        matched: set[int] = set()
        large_weak = np.zeros(len(boxes), dtype=bool)
        if weak_limit is not None and len(boxes):
            large_weak = (np.asarray(dets.scores) < s.confirm_score) & (
                long_sides(boxes) > weak_limit)
        if len(active) and len(boxes):
            pred = np.stack([tr.predict(t, cam, s.own_velocity)
                             for tr in active]).astype(np.float32)
            iou = box_iou(pred, boxes)
            dist = _centre_dist(pred, boxes)
            ratio = _size_ratio(pred, boxes)
            near = (iou >= s.min_iou) | (dist <= s.max_centre_dist)
            cost = (1.0 - iou) + dist
            # A weak box too large for a faint track is often a copy of a face's box
            # (forehead and hair) or a texture: the other detections are linked
            # first, to tracks that hold one of them before tracks that hold only such
            # boxes; such a box then continues a track left over, at nearly its size.
            other = ~large_weak[None, :]
            held = np.array([tr.track_id not in copies for tr in active])
            stages = [near & (ratio <= 2.0) & other]
            if large_weak.any() or not held.all():
                stages = [stages[0] & held[:, None], stages[0],
                          near & (ratio <= (s.weak_max_ratio or 2.0)) & large_weak[None, :]]
            taken: set[int] = set()
            for allowed in stages:
                if taken:
                    allowed = allowed.copy()
                    allowed[sorted(taken), :] = False
                    allowed[:, sorted(matched)] = False
                for r, k in _assign(cost, allowed):
                    tr = active[r]
                    tr.frames.append(t)
                    tr.boxes.append(boxes[k].copy())
                    tr.scores.append(float(dets.scores[k]))
                    matched.add(k)
                    taken.add(r)
                    if not large_weak[k]:
                        copies.discard(tr.track_id)
        for k in range(len(boxes)):
            if k in matched:
                continue
            tr = Track(track_id=len(tracks), frames=[t], boxes=[boxes[k].copy()],
                       scores=[float(dets.scores[k])])
            if large_weak[k]:
                copies.add(tr.track_id)
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


def _camera_step(camera: Sequence[Affine | None], g: int, box: np.ndarray) -> np.ndarray:
    """|dx|, |dy| by which the camera moved the centre of ``box`` into frame ``g``."""
    m = camera[g] if 0 < g < len(camera) else None
    if m is None:
        return np.zeros(2, dtype=np.float32)
    moved = warp_box(box, m)
    return np.abs((moved[:2] + moved[2:]) / 2 - (box[:2] + box[2:]) / 2).astype(np.float32)


def track_regions(tracks: Sequence[Track], frame_count: int, scene_cuts: Sequence[int] = (),
                  settings: TrackSettings | None = None,
                  camera: Sequence[Affine | None] | None = None,
                  frame_size: tuple[int, int] | None = None) -> list[TrackedRegion]:
    """Regions to mask for every track: detected, gap-filled, extended, motion-widened.

    With ``camera`` (and ``frame_size``), gaps are filled and ends extended along the
    camera's motion, and an end is extended further while the camera moves fast (up to
    ``coast_max`` frames), until the box leaves the picture.
    """
    s = settings or TrackSettings()
    cam = _camera(camera, s)
    fast = fast_frames(cam, frame_size, s)
    cuts = np.asarray(sorted(set(int(c) for c in scene_cuts)), dtype=np.int64)
    out: list[TrackedRegion] = []
    for tr in tracks:
        frames = np.asarray(tr.frames, dtype=np.int64)
        boxes = np.stack(tr.boxes).astype(np.float32)
        motion = _centre_motion(boxes, frames)
        if cam is not None:
            # The face's smear is what the picture moved by: its own motion in the scene
            # (what the camera does not explain) is all the tracker could not follow.
            own = _own_motion(boxes, frames, cam)
            motion = own + s.camera_widen * np.maximum(motion - own, 0.0)
        tid = tr.track_id
        for i, f in enumerate(frames):
            out.append(TrackedRegion(int(f), _widen(boxes[i], motion[i], s),
                                     tr.scores[i], "detected", tid))
            if i + 1 < len(frames) and frames[i + 1] - f > 1:
                f2 = int(frames[i + 1])
                m = np.maximum(motion[i], motion[i + 1])
                score = min(tr.scores[i], tr.scores[i + 1])
                fwd = accumulate(cam, int(f), f2) if cam is not None else None
                for g in range(int(f) + 1, f2):
                    a = (g - f) / (f2 - f)
                    if fwd is not None and cam is not None:
                        # along the camera's path, from both ends, blended
                        ma = accumulate(cam, int(f), g)
                        mb = accumulate(cam, f2, g)
                        assert ma is not None and mb is not None
                        box = warp_box(boxes[i], ma) * (1 - a) + warp_box(boxes[i + 1], mb) * a
                        step = np.maximum(m, _camera_step(cam, g, box) * s.camera_widen)
                        box = _grow(_widen(box, step, s), min(g - int(f), f2 - g), s)
                    else:
                        box = boxes[i] * (1 - a) + boxes[i + 1] * a
                        box = _grow(_widen(box, m, s), min(g - int(f), f2 - g), s)
                    out.append(TrackedRegion(g, box, score, "interpolated", tid))
        # Extension: hold the end boxes (or carry them with the camera), widened by the
        # motion accumulated meanwhile; never beyond the shot (cuts) or the video.
        first, last = int(frames[0]), int(frames[-1])
        shot_start = int(cuts[cuts <= first].max()) if (cuts <= first).any() else 0
        later = cuts[cuts > last]
        shot_end = int(later.min()) - 1 if len(later) else frame_count - 1
        for direction in (-1, 1):
            end = first if direction < 0 else last
            box0 = boxes[0] if direction < 0 else boxes[-1]
            m0 = motion[0] if direction < 0 else motion[-1]
            score = tr.scores[0] if direction < 0 else tr.scores[-1]
            plain = s.extend_before if direction < 0 else s.extend_after
            coasted = 0
            d = 0
            while True:
                d += 1
                g = end + direction * d
                if g < shot_start or g > shot_end:
                    break
                # the frame's own camera step: the one into g (after) or out of g (before)
                step_frame = g if direction > 0 else g + 1
                if d > plain:
                    if (len(fast) == 0 or step_frame >= len(fast) or not fast[step_frame]
                            or coasted >= s.coast_max):
                        break
                    coasted += 1
                held = accumulate(cam, end, g) if cam is not None else None
                if held is None or cam is None:
                    if d > plain:
                        break
                    box = _grow(_widen(box0, m0 * (d + 1), s), d, s)
                else:
                    box = warp_box(box0, held)
                    if _outside(box, frame_size):
                        break
                    step = np.maximum(m0, _camera_step(cam, step_frame, box)
                                      * s.camera_widen)
                    box = _grow(_widen(box, step, s), min(d, plain) if plain else d, s)
                out.append(TrackedRegion(g, box, score, "extended", tid))
    out.sort(key=lambda r: (r.frame, r.track_id))
    return out


def _own_motion(boxes: np.ndarray, frames: np.ndarray,
                camera: Sequence[Affine | None]) -> np.ndarray:
    """Like :func:`_centre_motion`, but of the motion the camera does not explain (the
    whole motion where the camera's is unknown)."""
    n = len(frames)
    out = np.zeros((n, 2), dtype=np.float32)
    if n < 2:
        return out
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
    steps = np.zeros((n - 1, 2), dtype=np.float32)
    for i in range(n - 1):
        f0, f1 = int(frames[i]), int(frames[i + 1])
        cam = accumulate(camera, f0, f1)
        start = centres[i]
        if cam is not None:
            start = cam[:, :2] @ centres[i] + cam[:, 2]
        steps[i] = np.abs(centres[i + 1] - start) / max(f1 - f0, 1)
    out[1:] = steps
    out[:-1] = np.maximum(out[:-1], steps)
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
