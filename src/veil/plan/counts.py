"""How many faces a plan masks: the one count the summary line, ``--json`` and the report
all give.

A picture's faces are its masked regions merged (a box nested in a larger one, or two
boxes overlapping by :data:`SAME_FACE_IOU`, are one face); a video's faces are its
tracks that hold a face (a region detected at the scan's threshold, or drawn by hand),
plus one face per run of overlapping regions in consecutive frames for the regions
added outside the tracker (by verification or by hand). A video's *faint* tracks, which
never reach the threshold, are masked as a precaution (a small, blurred face may score
no higher) but are not counted as faces: on real footage most of them are texture
(one woman talking in a room gave 1 face and 23 faint tracks)."""

from __future__ import annotations

import numpy as np

from veil.plan.record import Plan, Region

__all__ = ["SAME_FACE_IOU", "faint_tracks", "holds_face", "plan_counts"]

#: Two boxes of one frame that overlap this much (IoU) are the same face.
SAME_FACE_IOU = 0.5


def holds_face(region: Region, threshold: float) -> bool:
    """Whether a planned region is known to hold a face: detected at the scan's
    ``threshold`` in its frame, or placed by hand."""
    return region.provenance == "manual" or (region.provenance == "detected"
                                             and region.score >= threshold)


def _tracks(plan: Plan) -> tuple[set[int], set[int]]:
    """A video's masked tracks: ``(all, those holding a face)``."""
    every: set[int] = set()
    sure: set[int] = set()
    threshold = plan.scan.threshold
    for fp in plan.frames.values():
        for r in fp.active_regions():
            if r.track_id is None:
                continue
            every.add(int(r.track_id))
            if holds_face(r, threshold):
                sure.add(int(r.track_id))
    return every, sure


def faint_tracks(plan: Plan) -> int:
    """A video's masked tracks that never hold a face (see the module's text); 0 for a
    picture."""
    if plan.media.kind != "video":
        return 0
    every, sure = _tracks(plan)
    return len(every - sure)


def _image_faces(boxes: np.ndarray) -> int:
    """Faces among the regions of one picture: boxes nested in a larger one are parts of
    it, and boxes overlapping another by :data:`SAME_FACE_IOU` are the same face."""
    from veil.detections import box_iou, nested_boxes

    if len(boxes) == 0:
        return 0
    kept = boxes[~nested_boxes(boxes)]
    iou = box_iou(kept, kept)
    seen = np.zeros(len(kept), bool)
    faces = 0
    for i in range(len(kept)):
        if seen[i]:
            continue
        faces += 1
        seen |= iou[i] >= SAME_FACE_IOU
    return faces


def plan_counts(plan: Plan) -> tuple[int, int]:
    """``(faces, regions)`` a plan masks (released regions are not counted).

    A picture's faces are its regions merged (nested and duplicate boxes are one face);
    a video's faces are its tracks that hold a face (not the :func:`faint_tracks`), plus,
    for regions added outside the tracker (by verification or by hand), one face per run
    of overlapping regions in consecutive frames. Regions are counted as they are drawn:
    per frame in a video (faint tracks' regions included).
    """
    frames = {i: fp.active_regions() for i, fp in sorted(plan.frames.items())}
    regions = sum(len(r) for r in frames.values())
    if plan.media.kind != "video":
        boxes = np.asarray([r.box for r in frames.get(0, [])], np.float32).reshape(-1, 4)
        return _image_faces(boxes), regions
    from veil.detections import box_iou

    _, tracks = _tracks(plan)
    loose = 0
    previous: tuple[int, np.ndarray] | None = None
    for index, regs in frames.items():
        boxes = np.asarray([r.box for r in regs if r.track_id is None],
                           np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            previous = None
            continue
        new: np.ndarray | np.bool_ = np.ones(len(boxes), bool)
        if previous is not None and previous[0] == index - 1 and len(previous[1]):
            new = ~(box_iou(boxes, previous[1]) > 0).any(axis=1)
        loose += int(new.sum())
        previous = (index, boxes)
    return len(tracks) + loose, regions
