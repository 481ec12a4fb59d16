"""Verify one original/output pair: residual faces, re-identification, metadata read-back.

``verify_pair(original, output, plan)`` checks an output the way someone who does not
trust the renderer would, and returns a :class:`Verification`: pass/fail, the reasons in
plain words, and what each check found. It works on veil's own outputs (with the plan
that made them: masked regions are the plan's regions) and on any other tool's outputs
(no plan: masked regions are the pixels the tool changed, METRICS.md's black-box mask,
and the faces to re-identify are those veil's scanner finds in the original). In a video
with a plan, each tracked face is re-identified once, in the frame where it was detected
largest (:func:`reid_choice`); residual faces are looked for in every checked frame.

Embeddings never leave :mod:`veil.verify.recognition`; only distances are recorded.
Metadata is recorded by name only, never by value.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from veil.detections import box_iou, nested_boxes
from veil.errors import MediaError
from veil.plan.counts import holds_face
from veil.plan.record import Plan, Region
from veil.render.masks import coverage_mask, mask_windows
from veil.scan import Scanner
from veil.settings import MaskSettings, ScanSettings
from veil.verify import frames as media
from veil.verify import metadata as meta
from veil.verify.blackbox import black_box_mask
from veil.verify.fidelity import FidelityCheck
from veil.verify.pairing import PairingCheck
from veil.verify.recognition import (
    MIN_REID_SIDE,
    memo_for,
    reference_margin,
    reid_check,
    reid_threshold,
    reidentifiable,
    shorter_side,
    solid_reference,
)
from veil.verify.residual import FAMILIES, PHOTO_FAMILIES, ResidualFinder, photo_finder
from veil.verify.thumbnail import output_thumbnail

Box = tuple[float, float, float, float]
MAX_LISTED = 5  # faces named one by one in a reason; the rest are counted
# Video with a plan: each tracked face is re-identified in this many frames, those where it
# was detected largest (where recognition has the most to work with, and where a mask whose
# strength follows the face size is tried hardest). Every frame of a track is masked the
# same way; checking all of them multiplied the cost (a 282-frame 720p street clip: 871
# face-frames, six minutes of dlib descriptors at 0.14 s each) without a new answer.
REID_FRAMES_PER_TRACK = 1
# A region outside every track that overlaps a face's region this much, in the same
# frame or the frame before, is that face for re-identification (see reid_choice).
_SAME_FACE_IOU = 0.3
UNCHANGED_LEVEL = 3.0  # mean |original - output| under which a planned region was not masked


def _box(values: Any) -> Box:
    x1, y1, x2, y2 = (round(float(v), 1) for v in values)
    return (x1, y1, x2, y2)


@dataclass
class ResidualFace:
    """A face still visible in the output: frame index and box (xyxy, output pixels)."""

    frame: int
    box: Box
    detector: str = ""
    score: float = 0.0
    masked_share: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"frame": self.frame, "box": list(self.box), "detector": self.detector,
                "score": round(self.score, 4), "masked_share": round(self.masked_share, 3)}


@dataclass
class ReidResult:
    """Re-identification distance of one masked face to its own original."""

    frame: int
    box: Box
    distance: float
    reidentifiable: bool
    reference: float | None = None  # distance of the solid-fill reference, measured only
    #                                  when ``distance`` is under the threshold
    region: int | None = None  # with a plan: position among the frame's masked regions

    def to_dict(self) -> dict[str, Any]:
        return {"frame": self.frame, "box": list(self.box),
                "distance": round(self.distance, 4),
                "solid_reference": None if self.reference is None
                else round(self.reference, 4),
                "reidentifiable": self.reidentifiable}


@dataclass
class Verification:
    """Outcome of verifying one output against its original.

    ``checks`` maps ``residual``, ``reid`` and ``metadata`` to ``pass``, ``fail`` or
    ``skipped``. ``metadata_left`` lists every metadata name read back from the output;
    ``metadata_flagged`` the subset that fails the check. ``thumbnail_jpeg`` is a small
    picture of the output (never of the original) for the HTML report; it is not part of
    :meth:`to_dict`.
    """

    kind: str = "image"
    passed: bool = False
    reasons: list[str] = field(default_factory=list)
    residual_faces: list[ResidualFace] = field(default_factory=list)
    reid: list[ReidResult] = field(default_factory=list)
    reid_threshold: float | None = None
    metadata_left: list[str] = field(default_factory=list)
    metadata_before: list[str] = field(default_factory=list)
    metadata_flagged: list[str] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)
    frames_checked: int = 0
    frames_total: int = 0
    with_plan: bool = False
    seconds: float = 0.0
    output_size: tuple[int, int] | None = None  # (width, height) of the output's frames
    fidelity: dict[str, Any] = field(default_factory=dict)  # video: levels outside masks
    thumbnail_jpeg: bytes | None = field(default=None, repr=False)
    # a verification read back from a resumed run's done record: its thumbnail is read
    # from this file when the report asks (never held in memory)
    thumbnail_file: Path | None = field(default=None, repr=False)

    def thumbnail(self) -> bytes | None:
        """The thumbnail's JPEG bytes."""
        if self.thumbnail_jpeg is None and self.thumbnail_file is not None:
            try:
                return self.thumbnail_file.read_bytes()
            except OSError:
                return None
        return self.thumbnail_jpeg

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (no embeddings, no metadata values, no pixels)."""
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "checks": dict(self.checks),
            "kind": self.kind,
            "with_plan": self.with_plan,
            "frames_checked": self.frames_checked,
            "frames_total": self.frames_total,
            "residual_faces": [r.to_dict() for r in self.residual_faces],
            "reid": {
                "threshold": None if self.reid_threshold is None
                else round(self.reid_threshold, 4),
                "min_face_side": MIN_REID_SIDE,
                "reference_margin": None if self.reid_threshold is None
                else round(reference_margin(), 4),
                "faces": [r.to_dict() for r in self.reid],
            },
            "metadata": {
                "before": list(self.metadata_before),
                "left": list(self.metadata_left),
                "flagged": list(self.metadata_flagged),
                # left but harmless: container structure (brands, handler names), the
                # colour profile; they say nothing about the picture's origin
                "structural": [n for n in self.metadata_left
                               if n not in self.metadata_flagged],
            },
            "fidelity": dict(self.fidelity),
            "seconds": round(self.seconds, 3),
        }


@functools.lru_cache(maxsize=4)
def _finder(made_with: ScanSettings, hog: bool, photo: bool = False) -> ResidualFinder:
    return photo_finder(made_with, hog=hog) if photo else ResidualFinder(made_with, hog=hog)


@functools.lru_cache(maxsize=2)
def _original_scanner(settings: ScanSettings) -> Scanner:
    return Scanner(settings)


@dataclass
class _Frame:
    """What one checked frame contributes to the thumbnail choice."""

    index: int
    output: np.ndarray
    masked: np.ndarray
    alerts: list[Box]
    regions: int


def confirmed_face(region: Region, threshold: float) -> bool:
    """Whether a planned region is known to hold a face (:func:`veil.plan.counts.holds_face`:
    detected at the scan's threshold in its frame, or placed by hand). Only those are
    re-identified. Regions kept below the threshold (a faint track that persisted, a
    candidate supported by another pass) and interpolated or extended guesses are masked
    all the same; fed to a recognition model, a texture gives a meaningless distance (on
    generated parade clips blurred foliage came out at 0.37, in a couple's photo a patch
    of wall at 0.44, both "recognised")."""
    return holds_face(region, threshold)


def reid_choice(plan: Plan, per_track: int = REID_FRAMES_PER_TRACK) -> dict[int, set[int]]:
    """For a video plan: which masked faces to re-identify, in which frames.

    Returns ``{frame: {positions in that frame's active boxes}}``: for every track, the
    ``per_track`` frames where it was :func:`confirmed <confirmed_face>` with the largest
    box. A track never detected at the threshold is masked all the same but not
    re-identified.
    A region without a track is its own. The frames need not be among those checked for
    residual faces; :func:`verify_pair` decodes them too.
    """
    by_track: dict[object, list[tuple[float, int, int]]] = {}
    previous: list[tuple[object, np.ndarray]] = []  # (key, box) of the frame before
    for f in sorted(plan.frames):
        fp = plan.frames[f]
        if fp.mask_whole:
            previous = []
            continue
        here: list[tuple[object, np.ndarray]] = []
        untracked: list[tuple[int, np.ndarray]] = []
        for pos, r in enumerate(fp.active_regions()):  # positions of active_boxes()
            if not confirmed_face(r, plan.scan.threshold):
                continue
            box = np.asarray(r.box, np.float32)
            if r.track_id is None:
                untracked.append((pos, box))
                continue
            here.append((r.track_id, box))
            by_track.setdefault(r.track_id, []).append((shorter_side(r.box), f, pos))
        for pos, box in untracked:
            # A region outside every track is the face it overlaps in this frame (a second
            # box of a tracked face), or the one it continues from the frame before;
            # otherwise a face of its own. One face is re-identified once, not per frame.
            key: object = ("region", f, pos)
            for other, obox in here + previous:
                if box_iou(box[None], obox[None])[0, 0] >= _SAME_FACE_IOU:
                    key = other
                    break
            here.append((key, box))
            by_track.setdefault(key, []).append((shorter_side(tuple(box)), f, pos))
        previous = here
    chosen: dict[int, set[int]] = {}
    for items in by_track.values():
        for _, f, pos in sorted(items, reverse=True)[:per_track]:
            chosen.setdefault(f, set()).add(pos)
    return chosen


def _pairs(original: Path, output: Path, kind: str, plan: Plan | None, stride: int | None,
           extra: set[int]
           ) -> tuple[Iterator[tuple[int, np.ndarray, np.ndarray]], int, set[int] | None, int]:
    """Frame pairs ``(index, original, output)``: the frames to check for residual faces
    and the ``extra`` frames (re-identification only). Also the original's frame count,
    the indices checked for residual faces (``None``: every ``stride``-th) and the
    regular sample's stride."""
    if kind == "image":
        orig, out = media.read_image_pair(original, output)
        return iter([(0, orig, out)]), 1, {0}, 1
    count, fps = media.video_frame_count(original)
    if plan is not None and plan.media.frame_count > count:
        count = plan.media.frame_count
    checked: set[int] | None = set(media.sample_indices(count, fps, plan, stride)) or None
    step = stride or media.sample_stride(fps)
    wanted = None if checked is None else checked | extra

    def gen() -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        outs = media.iter_video_frames(output, wanted)
        for (i, a) in media.iter_video_frames(original, wanted):
            if wanted is None and i % step and i not in extra:
                continue
            for j, b in outs:
                if j == i:
                    yield i, a, b
                    break
            else:
                raise MediaError(output, f"the output ends before frame {i} of the original")

    return gen(), count, checked, step


def _changed(original: np.ndarray, output: np.ndarray, region: np.ndarray) -> bool:
    """Whether the output differs from the original inside ``region`` (boolean mask)."""
    a = original[region].astype(np.int16)
    b = output[region].astype(np.int16)
    return float(np.abs(a - b).mean()) >= UNCHANGED_LEVEL


def _plan_masks(plan: Plan, index: int, original: np.ndarray, output: np.ndarray,
                scale: tuple[float, float]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Masked pixels, released (deliberately visible) pixels and masked face boxes."""
    hw = output.shape[:2]
    fp = plan.frame(index)
    mul = np.array([scale[0], scale[1], scale[0], scale[1]], dtype=np.float32)
    boxes = fp.active_boxes() * mul
    if fp.mask_whole:
        return np.ones(hw, dtype=bool), None, np.zeros((0, 4), np.float32)
    masked = np.zeros(hw, dtype=bool)
    # Trust the plan only where the output really changed: a region the renderer skipped
    # is not masked, whatever the plan says. Each region is judged inside its own window
    # (a crowd has hundreds of regions; whole-frame masks per region are slow).
    for win, sel in mask_windows(hw, boxes, plan.mask):
        if sel.any() and _changed(original[win], output[win], sel):
            masked[win] |= sel
    released = [r.box for r in fp.regions if r.released]
    allowed = None
    if released:
        allowed = coverage_mask(hw, np.asarray(released, np.float32) * mul, plan.mask)
    return masked, allowed, boxes


def _reference(original: np.ndarray, masked: np.ndarray, box: np.ndarray,
               shape: MaskSettings) -> np.ndarray:
    """The solid reference of one face: the output's masked pixels plus the face's own mask
    shape, filled with one colour (:func:`veil.verify.recognition.solid_reference`)."""
    region = masked | coverage_mask(masked.shape, np.asarray([box], np.float32), shape)
    return solid_reference(original, region)


class _References:
    """The solid references of one frame's faces (:func:`_reference`), each exact inside
    the window its chip is cut from (:func:`veil.verify.recognition.chip_window`), which is
    all its embedding reads. One copy of the frame serves every face: a 12 MP photo's
    reference cost a copy of the whole picture and a mask of it per face (0.08 CPU-s each,
    about a face descriptor's cost)."""

    def __init__(self, original: np.ndarray, masked: np.ndarray, shape: MaskSettings
                 ) -> None:
        self.original, self.masked, self.shape = original, masked, shape
        self._scratch: np.ndarray | None = None
        self._dirty: tuple[slice, slice] | None = None
        self._sum: np.ndarray | None = None
        self._count = 0

    def __call__(self, box: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
        original, masked = self.original, self.masked
        if self._sum is None:  # the masked pixels' sum, once per frame
            self._sum = original[masked].reshape(-1, 3).sum(axis=0, dtype=np.int64)
            self._count = int(masked.sum())
        total, count = self._sum.copy(), self._count
        own = mask_windows(masked.shape, np.asarray([box], np.float32), self.shape)
        for win, sel in own:  # the face's own shape where it is not masked already
            extra = sel & ~masked[win]
            total += original[win][extra].reshape(-1, 3).sum(axis=0, dtype=np.int64)
            count += int(extra.sum())
        if self._scratch is None:
            self._scratch = original.copy()
        elif self._dirty is not None:
            self._scratch[self._dirty] = original[self._dirty]
        x1, y1, x2, y2 = window
        win = (slice(y1, y2), slice(x1, x2))
        self._dirty = win
        if count:
            # the mean colour, as solid_reference computes it (integer sums are exact)
            colour = (total / count).round().astype(np.uint8)
            region = masked[win].copy()
            for (wy, wx), sel in own:  # the face's shape, cut to the window
                ys = slice(max(wy.start, y1), min(wy.stop, y2))
                xs = slice(max(wx.start, x1), min(wx.stop, x2))
                if ys.stop > ys.start and xs.stop > xs.start:
                    region[ys.start - y1:ys.stop - y1, xs.start - x1:xs.stop - x1] |= \
                        sel[ys.start - wy.start:ys.stop - wy.start,
                            xs.start - wx.start:xs.stop - wx.start]
            self._scratch[win][region] = colour
        return self._scratch


def verify_pair(original: Path, output: Path, plan: Plan | None = None, *,
                reid: bool = True, residual: bool = True, metadata: bool = True,
                video_stride: int | None = None,
                progress: Callable[[int, int | None], None] | None = None) -> Verification:
    """Verify ``output`` against ``original`` (image or video).

    ``plan``: the plan that made the output (veil's own outputs); without it, masked
    regions are the pixels that differ between the two files. ``video_stride``: check
    every n-th frame of a video (default: two frames per second, plus the frames around
    every change in the plan; see :mod:`veil.verify.frames`).
    ``progress(done, total)``: frames read of a video so far, of its frame count.

    Raises :class:`veil.errors.MediaError` when either file cannot be read.
    """
    t0 = time.perf_counter()
    original, output = Path(original), Path(output)
    kind = plan.media.kind if plan is not None else media.media_kind(original)
    v = Verification(kind=kind, with_plan=plan is not None)

    if metadata:
        try:
            v.metadata_before = meta.read_tags(original, kind)
        except MediaError:
            v.metadata_before = []
        v.metadata_left = meta.read_tags(output, kind)
        v.metadata_flagged = meta.identifying(v.metadata_left)

    threshold = reid_threshold() if reid else None
    reference_shape = plan.mask if plan is not None else MaskSettings()
    v.reid_threshold = threshold
    made_with = plan.scan if plan is not None else ScanSettings()
    finder = _finder(made_with, True, kind == "image") if residual else None
    # what names this original while it is verified and repaired (the memos' scope)
    scope = plan.media.sha256 if plan is not None else str(original.resolve())
    if finder is not None:  # a photo's repair round searches again only what changed
        finder.remember(scope if kind == "image" else None)
    best: _Frame | None = None
    families = PHOTO_FAMILIES if kind == "image" else FAMILIES

    # embeddings of this original's chips, kept for its repair rounds (recognition.memo_for)
    memo = memo_for(scope) if threshold is not None else None
    fidelity = FidelityCheck() if kind == "video" else None
    pairing = PairingCheck() if plan is None else None  # veil.verify.pairing
    pick = (reid_choice(plan)
            if threshold is not None and kind == "video" and plan is not None else None)
    pairs, v.frames_total, checked, step = _pairs(original, output, kind, plan, video_stride,
                                                  set(pick or ()))
    if progress is not None and kind == "image":  # a picture is one step: start and end
        progress(0, 1)
    for index, orig, out in pairs:
        sampled = kind == "image" or (index in checked if checked is not None
                                      else index % step == 0)
        v.frames_checked += sampled
        if progress is not None and kind == "video":
            progress(index + 1, v.frames_total or None)
        h, w = out.shape[:2]
        v.output_size = (w, h)
        if plan is not None:
            sx, sy = w / max(1, plan.media.width), h / max(1, plan.media.height)
        else:
            sx, sy = w / orig.shape[1], h / orig.shape[0]
        original_shape = orig.shape
        if orig.shape != out.shape:
            orig = cv2.resize(orig, (w, h), interpolation=cv2.INTER_AREA)
        if plan is not None:
            masked, allowed, faces = _plan_masks(plan, index, orig, out, (sx, sy))
            sure = np.asarray([confirmed_face(r, plan.scan.threshold)
                               for r in plan.frame(index).active_regions()], bool)
        else:
            masked, allowed = black_box_mask(orig, out), None
            faces = np.zeros((0, 4), np.float32)
            if reid:
                found = _original_scanner(ScanSettings()).scan(orig)
                faces = found.boxes[found.scores >= ScanSettings().threshold]
            sure = np.ones(len(faces), bool)
        if fidelity is not None and sampled:
            fidelity.add(index, orig, out, masked)
        if pairing is not None and sampled:
            pairing.add(original_shape, out.shape, masked)
        alerts: list[Box] = []
        if finder is not None and sampled:
            # The second detector family looks at the regular sample (a face one family
            # cannot see stays unseen in every frame); the frames added at track
            # boundaries are about the tracker's timing, which CenterFace checks.
            regular = index % step == 0 or index == v.frames_total - 1
            for cand, share in finder.find(out, masked, original=orig, allowed=allowed,
                                           second_family=regular, families=families):
                rf = ResidualFace(index, _box(cand.box), cand.detector, cand.score, share)
                v.residual_faces.append(rf)
                alerts.append(rf.box)
        if threshold is not None:
            references: _References | None = None
            inner = nested_boxes(faces)
            for pos, box in enumerate(faces):
                if shorter_side(box) < MIN_REID_SIDE or inner[pos] or not sure[pos]:
                    continue  # too small to recognise, a part of a larger face's box, or
                    #           not known to be a face (see confirmed_face)
                if pick is not None and pos not in pick.get(index, ()):
                    continue  # this track is re-identified where it was detected largest
                if references is None:
                    references = _References(orig, masked, reference_shape)
                d, ref = reid_check(orig, out, box, threshold,
                                    functools.partial(references, box), memo)
                rr = ReidResult(index, _box(box), d, reidentifiable(d, ref, threshold), ref,
                                region=pos if plan is not None else None)
                v.reid.append(rr)
                if rr.reidentifiable:
                    alerts.append(rr.box)
        rank = (len(alerts), len(faces))
        if best is None or rank > (len(best.alerts), best.regions):
            best = _Frame(index, out, masked, alerts, len(faces))

    if best is not None:
        v.thumbnail_jpeg = output_thumbnail(best.output, best.masked, best.alerts)
    _conclude(v, reid=reid, residual=residual, metadata=metadata)
    if fidelity is not None:  # veil.verify.fidelity: levels outside the masks
        v.fidelity = fidelity.to_dict()
        v.checks["fidelity"] = "fail" if fidelity.failed else "pass"
        v.reasons.extend(fidelity.reasons())
    if pairing is not None:  # no plan: is the output a masked copy of this original?
        v.checks["pairing"] = "fail" if pairing.failed else "pass"
        v.reasons[:0] = pairing.reasons()
    v.passed = not v.reasons
    v.seconds = time.perf_counter() - t0
    if progress is not None and kind == "image":
        progress(1, 1)
    return v


def _where(frame: int, box: Box, kind: str) -> str:
    at = f"at x {box[0]:.0f}-{box[2]:.0f}, y {box[1]:.0f}-{box[3]:.0f}"
    return f"frame {frame} {at}" if kind == "video" else at


def _conclude(v: Verification, *, reid: bool, residual: bool, metadata: bool) -> None:
    """Fill ``checks``, ``reasons`` and ``passed`` from what was found."""
    reasons: list[str] = []
    if residual:
        v.checks["residual"] = "fail" if v.residual_faces else "pass"
        for rf in v.residual_faces[:MAX_LISTED]:
            reasons.append(f"a face is still visible {_where(rf.frame, rf.box, v.kind)} "
                           f"(found by {rf.detector})")
        if len(v.residual_faces) > MAX_LISTED:
            reasons.append(f"... and {len(v.residual_faces) - MAX_LISTED} more visible faces")
    else:
        v.checks["residual"] = "skipped"
    if reid:
        bad = [r for r in v.reid if r.reidentifiable]
        v.checks["reid"] = "fail" if bad else "pass"
        for r in bad[:MAX_LISTED]:
            ref = "" if r.reference is None else \
                f", closer than a solid fill of the same region ({r.reference:.3f})"
            reasons.append(f"the masked face {_where(r.frame, r.box, v.kind)} can still be "
                           f"recognised (distance {r.distance:.3f} to its original, "
                           f"under {v.reid_threshold:.3f}{ref})")
        if len(bad) > MAX_LISTED:
            reasons.append(f"... and {len(bad) - MAX_LISTED} more recognisable faces")
    else:
        v.checks["reid"] = "skipped"
    if metadata:
        v.checks["metadata"] = "fail" if v.metadata_flagged else "pass"
        if v.metadata_flagged:
            reasons.append("metadata left in the output: " + ", ".join(v.metadata_flagged))
    else:
        v.checks["metadata"] = "skipped"
    v.reasons = reasons
    v.passed = not reasons
