"""The plan: the central record between scanning and rendering.

A plan says, for one media file, which regions of which frames are masked and
why. It is all that rendering needs besides the original file, so a plan can be
saved as a JSON sidecar, edited (review page, manual regions) and rendered
again without scanning.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from veil.settings import MaskSettings, ScanSettings

Provenance = Literal["detected", "interpolated", "extended", "manual"]
PROVENANCES: tuple[str, ...] = ("detected", "interpolated", "extended", "manual")
PLAN_FORMAT = "veil-plan/1"


@dataclass
class Region:
    """One area of one frame to mask (face box, before the render margin)."""

    box: tuple[float, float, float, float]
    score: float = 1.0
    provenance: Provenance = "detected"
    track_id: int | None = None
    released: bool = False  # a reviewer released this face (consent): not masked

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "provenance": self.provenance,
        }
        if self.track_id is not None:
            d["track"] = int(self.track_id)
        if self.released:
            d["released"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Region:
        prov = d.get("provenance", "detected")
        if prov not in PROVENANCES:
            raise ValueError(f"unknown provenance {prov!r}")
        box = d["box"]
        if len(box) != 4:
            raise ValueError("a region box has four numbers: x1 y1 x2 y2")
        return cls(
            box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            score=float(d.get("score", 1.0)),
            provenance=prov,
            track_id=d.get("track"),
            released=bool(d.get("released", False)),
        )


@dataclass
class FramePlan:
    """The regions of one frame; ``mask_whole`` masks the entire frame (fail closed)."""

    regions: list[Region] = field(default_factory=list)
    mask_whole: bool = False
    note: str = ""

    def active_regions(self) -> list[Region]:
        """The regions that are to be masked (not released), in plan order."""
        return [r for r in self.regions if not r.released]

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

    def counts_by_provenance(self) -> dict[str, int]:
        counts = dict.fromkeys(PROVENANCES, 0)
        for f in self.frames.values():
            for r in f.regions:
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
            "frames": frames,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        if d.get("format") != PLAN_FORMAT:
            found = d.get("format")
            raise ValueError(f"not a veil plan (format {found!r}, expected {PLAN_FORMAT})")
        frames: dict[int, FramePlan] = {}
        for key, entry in d.get("frames", {}).items():
            frames[int(key)] = FramePlan(
                regions=[Region.from_dict(r) for r in entry.get("regions", [])],
                mask_whole=bool(entry.get("mask_whole", False)),
                note=str(entry.get("note", "")),
            )
        return cls(
            media=MediaInfo.from_dict(d["media"]),
            scan=ScanSettings.from_dict(d.get("scan", {})),
            mask=MaskSettings.from_dict(d.get("mask", {})),
            frames=frames,
            tool=str(d.get("tool", "")),
        )

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
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
