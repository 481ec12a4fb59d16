"""How many faces a plan masks: the one count the summary line, ``--json`` and the report
all give.

A picture's faces are its masked regions merged (a box nested in a larger one, or two
boxes overlapping by :data:`SAME_FACE_IOU`, are one face); a video's faces are its
tracks, plus one face per run of overlapping regions in consecutive frames for the
regions added outside the tracker (by verification or by hand)."""

from __future__ import annotations

import numpy as np

from veil.plan.record import Plan

__all__ = ["SAME_FACE_IOU", "plan_counts"]

#: Two boxes of one frame that overlap this much (IoU) are the same face.
SAME_FACE_IOU = 0.5


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
    a video's faces are its tracks, plus, for regions added outside the tracker (by
    verification or by hand), one face per run of overlapping regions in consecutive
    frames. Regions are counted as they are drawn: per frame in a video.
    """
    frames = {i: fp.active_regions() for i, fp in sorted(plan.frames.items())}
    regions = sum(len(r) for r in frames.values())
    if plan.media.kind != "video":
        boxes = np.asarray([r.box for r in frames.get(0, [])], np.float32).reshape(-1, 4)
        return _image_faces(boxes), regions
    from veil.detections import box_iou

    tracks: set[int] = set()
    loose = 0
    previous: tuple[int, np.ndarray] | None = None
    for index, regs in frames.items():
        for r in regs:
            if r.track_id is not None:
                tracks.add(int(r.track_id))
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
