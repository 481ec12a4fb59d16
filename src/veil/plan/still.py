"""Plan for a still image: the detections of one picture become the regions of frame 0."""

from __future__ import annotations

import os
from pathlib import Path

from veil.detections import Detections
from veil.media.fingerprint import file_sha256
from veil.plan.record import MediaInfo, Plan, Region
from veil.settings import MaskSettings, ScanSettings


def image_media_info(path: str | os.PathLike[str], width: int, height: int,
                     sha256: str | None = None) -> MediaInfo:
    """The :class:`MediaInfo` of a still image (``width``/``height`` upright, as displayed)."""
    path = Path(path)
    return MediaInfo(name=path.name, sha256=sha256 or file_sha256(path), kind="image",
                     width=int(width), height=int(height))


def plan_still(detections: Detections, media: MediaInfo, *, scan: ScanSettings,
               mask: MaskSettings, tool: str = "") -> Plan:
    """Turn the detections of one image into a :class:`Plan` (frame 0, provenance ``detected``).

    Boxes are stored as found (the mask margin is applied at render time, from ``mask``).
    """
    plan = Plan(media=media, scan=scan, mask=mask, tool=tool)
    dets = detections.clipped(media.width, media.height)
    for box, score in zip(dets.boxes, dets.scores, strict=True):
        region = Region(box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                        score=float(score), provenance="detected")
        plan.add_region(0, region)
    return plan


def plan_whole_image(media: MediaInfo, *, scan: ScanSettings, mask: MaskSettings,
                     note: str, tool: str = "") -> Plan:
    """A fail-closed plan: the whole image is masked (e.g. the scan could not run)."""
    plan = Plan(media=media, scan=scan, mask=mask, tool=tool)
    plan.mask_whole_frame(0, note)
    return plan
