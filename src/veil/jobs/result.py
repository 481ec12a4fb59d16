"""What a job reports back about one input file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from veil.plan.record import Plan
from veil.progress import PhaseProgress, Progress

if TYPE_CHECKING:
    from veil.verify.check import Verification

__all__ = ["FileResult", "PhaseProgress", "Progress", "Verdict", "finish_counts", "plan_counts"]

#: Two boxes of one frame that overlap this much (IoU) are the same face.
SAME_FACE_IOU = 0.5


@dataclass
class Verdict:
    """The verification of one output veil made (after self-repair): whether it passed,
    the :class:`~veil.verify.check.Verification` (``None`` when verification could not
    run, ``error`` then says why) and what the self-repair did (``repair``: rounds, regions
    added, regions strengthened; see docs/report-schema.md)."""

    passed: bool
    verification: Verification | None = None
    repair: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def checks(self) -> dict[str, str]:
        """Each check's status (``pass``, ``fail``, ``skipped``...); empty on error."""
        return dict(self.verification.checks) if self.verification is not None else {}

    @property
    def reasons(self) -> list[str]:
        """Why it failed, one line each (empty when it passed)."""
        if self.verification is None:
            return [self.error] if self.error else []
        return list(self.verification.reasons)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``--json``'s ``verification``): the verification's fields plus
        ``repair``; or ``passed``, ``error`` and ``repair`` when it could not run."""
        if self.verification is None:
            return {"passed": self.passed, "error": self.error, "repair": self.repair}
        return {**self.verification.to_dict(), "repair": self.repair}


@dataclass
class FileResult:
    """Outcome for one input: where it went, what was masked, or why it failed."""

    source: Path
    output: Path | None = None
    kind: Literal["image", "video"] = "image"
    faces: int = 0            # faces masked (see count_faces); the jobs set regions here first
    frames: int = 1
    seconds: float = 0.0
    plan: Plan | None = None
    plan_path: Path | None = None
    error: str | None = None  # one line; None on success
    verification: Verdict | None = None  # set when the output was verified
    extra: dict[str, Any] = field(default_factory=dict)
    regions: int | None = None  # regions masked (video: summed over frames); see count_faces
    input_bytes: int = 0
    output_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


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
        new = np.ones(len(boxes), bool)
        if previous is not None and previous[0] == index - 1 and len(previous[1]):
            new = ~(box_iou(boxes, previous[1]) > 0).any(axis=1)
        loose += int(new.sum())
        previous = (index, boxes)
    return len(tracks) + loose, regions


def finish_counts(result: FileResult) -> FileResult:
    """Set ``faces`` (faces masked) and ``regions`` (regions masked) from the result's
    plan, and the sizes of input and output. The jobs put the regions they drew in
    ``faces``; this runs once, at the end of a job (after verification and repair)."""
    if result.regions is None:
        result.regions = result.faces
        if result.ok and result.plan is not None:
            result.faces, result.regions = plan_counts(result.plan)
    for attr, path in (("input_bytes", result.source), ("output_bytes", result.output)):
        try:
            setattr(result, attr, Path(path).stat().st_size if path is not None else 0)
        except OSError:
            setattr(result, attr, 0)
    return result
