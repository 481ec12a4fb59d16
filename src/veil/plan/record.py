"""The plan: the central record between scanning and rendering.

A plan says, for one media file, which regions of which frames are masked and
why. It is all that rendering needs besides the original file, so a plan can be
saved as a JSON sidecar, edited (review page, manual regions) and rendered
again without scanning.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from veil.errors import UsageError
from veil.settings import MaskSettings, ScanSettings, TrackSettings

Provenance = Literal["detected", "interpolated", "extended", "manual", "deleted"]
#: ``deleted``: a region a reviewer removed (not a face); kept in the plan as a record,
#: never masked. See docs/plan-format.md.
PROVENANCES: tuple[str, ...] = ("detected", "interpolated", "extended", "manual", "deleted")
PLAN_FORMAT = "veil-plan/1"


class PlanError(UsageError, ValueError):
    """A plan file that is not a valid veil plan; the message says where and why, in one
    line. A :class:`~veil.errors.UsageError` (the command line exits 2) and a
    :class:`ValueError` (for callers that catch bad input as such)."""


@dataclass
class Region:
    """One area of one frame to mask (face box, before the render margin)."""

    box: tuple[float, float, float, float]
    score: float = 1.0
    provenance: Provenance = "detected"
    track_id: int | None = None
    released: bool = False  # a reviewer released this face (consent): not masked
    method: str | None = None  # mask method of this region; None: the plan's (mask.method)
    reason: str | None = None  # why it was released or deleted (free text)
    edited_at: str | None = None  # when a person last changed it (ISO 8601, UTC)

    @property
    def masked(self) -> bool:
        """Whether the renderer masks this region (not released, not deleted)."""
        return not self.released and self.provenance != "deleted"

    def to_dict(self) -> dict[str, Any]:
        # Rounded outwards to 1/100 px: a thin box at the frame's edge stays a box
        # (x1 < x2) inside the frame, as the check on load requires.
        x1, y1, x2, y2 = (round(float(v) * 100, 6) for v in self.box)
        d: dict[str, Any] = {
            "box": [math.floor(x1) / 100, math.floor(y1) / 100, math.ceil(x2) / 100,
                    math.ceil(y2) / 100],
            "score": round(float(self.score), 4),
            "provenance": self.provenance,
        }
        if self.track_id is not None:
            d["track"] = int(self.track_id)
        if self.released:
            d["released"] = True
        for key in ("method", "reason", "edited_at"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Region:
        """A region from its JSON form (checked by :func:`veil.plan.schema.check_plan`
        when it comes from :meth:`Plan.from_dict`)."""
        box = d["box"]
        return cls(
            box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            score=float(d.get("score", 1.0)),
            provenance=d.get("provenance", "detected"),
            track_id=d.get("track"),
            released=bool(d.get("released", False)),
            method=d.get("method"),
            reason=d.get("reason"),
            edited_at=d.get("edited_at"),
        )


@dataclass
class FramePlan:
    """The regions of one frame; ``mask_whole`` masks the entire frame (fail closed)."""

    regions: list[Region] = field(default_factory=list)
    mask_whole: bool = False
    note: str = ""

    def active_regions(self) -> list[Region]:
        """The regions that are to be masked (not released, not deleted), in plan order."""
        return [r for r in self.regions if r.masked]

    def active_boxes(self) -> np.ndarray:
        """``(N,4)`` float32 boxes of :meth:`active_regions`, in the same order."""
        boxes = [r.box for r in self.active_regions()]
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


@dataclass
class MediaInfo:
    """What the plan was made for: enough to refuse a plan for a different file."""

    name: str
    sha256: str
    kind: Literal["image", "video"]
    width: int
    height: int
    frame_count: int = 1
    fps: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "sha256": self.sha256,
            "kind": self.kind,
            "width": self.width,
            "height": self.height,
            "frame_count": self.frame_count,
        }
        if self.fps is not None:
            d["fps"] = self.fps
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MediaInfo:
        return cls(
            name=d["name"], sha256=d["sha256"], kind=d["kind"], width=int(d["width"]),
            height=int(d["height"]), frame_count=int(d.get("frame_count", 1)), fps=d.get("fps"),
        )


def _with_article(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


@dataclass
class Plan:
    """Regions to mask for every frame of one media file, with the settings that made it.

    ``frames`` maps a frame index to its :class:`FramePlan`; frames without an
    entry have nothing to mask. A still image has only frame 0.
    """

    media: MediaInfo
    scan: ScanSettings = field(default_factory=ScanSettings)
    mask: MaskSettings = field(default_factory=MaskSettings)
    frames: dict[int, FramePlan] = field(default_factory=dict)
    tool: str = ""
    #: the file this plan was read from (:meth:`load`); not part of the plan's JSON
    loaded_from: Path | None = field(default=None, compare=False, repr=False)
    #: How a video's (or an animation's) faces were followed through its frames; ``None``
    #: for a still picture, and in plans made before veil recorded it.
    track: TrackSettings | None = None

    def frame(self, index: int) -> FramePlan:
        """The plan of frame ``index`` (an empty one when nothing is planned there)."""
        return self.frames.get(index) or FramePlan()

    def add_region(self, index: int, region: Region) -> None:
        self.frames.setdefault(index, FramePlan()).regions.append(region)

    def mask_whole_frame(self, index: int, note: str) -> None:
        fp = self.frames.setdefault(index, FramePlan())
        fp.mask_whole = True
        fp.note = note

    def region_count(self) -> int:
        return sum(len(f.regions) for f in self.frames.values())

    def counts_by_provenance(self, masked_only: bool = False) -> dict[str, int]:
        """Regions by provenance; ``masked_only``: only those masked (neither released
        nor deleted)."""
        counts = dict.fromkeys(PROVENANCES, 0)
        for f in self.frames.values():
            for r in (f.active_regions() if masked_only else f.regions):
                counts[r.provenance] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        frames: dict[str, Any] = {}
        for idx in sorted(self.frames):
            fp = self.frames[idx]
            if not fp.regions and not fp.mask_whole:
                continue
            entry: dict[str, Any] = {"regions": [r.to_dict() for r in fp.regions]}
            if fp.mask_whole:
                entry["mask_whole"] = True
                entry["note"] = fp.note
            frames[str(idx)] = entry
        return {
            "format": PLAN_FORMAT,
            "tool": self.tool,
            "media": self.media.to_dict(),
            "scan": self.scan.plan_dict(),
            "mask": self.mask.to_dict(),
            **({"track": self.track.to_dict()} if self.track is not None else {}),
            "frames": frames,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        """A plan from its JSON form, checked first (:func:`veil.plan.schema.check_plan`):
        raises :class:`PlanError` saying where and why when it is not a valid plan."""
        from veil.plan.schema import check_plan

        check_plan(d)
        frames: dict[int, FramePlan] = {}
        for key, entry in d.get("frames", {}).items():
            frames[int(key)] = FramePlan(
                regions=[Region.from_dict(r) for r in entry.get("regions", [])],
                mask_whole=bool(entry.get("mask_whole", False)),
                note=str(entry.get("note", "")),
            )
        try:
            scan = ScanSettings.from_dict(d.get("scan", {}))
            mask = MaskSettings.from_dict(d.get("mask", {}))
            track = TrackSettings.from_dict(d["track"]) if "track" in d else None
        except (TypeError, ValueError) as exc:
            raise PlanError(f"bad settings: {exc}") from exc
        return cls(media=MediaInfo.from_dict(d["media"]), scan=scan, mask=mask, frames=frames,
                   tool=str(d.get("tool", "")), track=track)

    def require_source(self, path: str | os.PathLike[str], kind: str) -> None:
        """Raise :class:`veil.errors.VeilError` unless this plan was made for the ``kind`` file
        at ``path`` (same SHA-256): a plan is never rendered onto another file."""
        from veil.errors import VeilError
        from veil.media.fingerprint import file_sha256

        if self.media.kind != kind:
            raise VeilError(f"the plan is for a {self.media.kind}, not {_with_article(kind)}")
        if file_sha256(path) != self.media.sha256:
            raise VeilError(f"the plan was made for a different file ({self.media.name})")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the plan as JSON (atomically: temporary name, then rename)."""
        from veil.media.atomic import atomic_path

        with atomic_path(Path(path)) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Plan:
        """Read and check a plan file. Raises :class:`PlanError` (one line: what is wrong
        and where) for a file that is not a valid plan, :class:`OSError` when unreadable."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"not JSON ({exc.msg} at line {exc.lineno}, "
                            f"column {exc.colno})") from exc
        plan = cls.from_dict(data)
        plan.loaded_from = Path(path)
        return plan
