"""Build the plan of a video from what the scan found in each frame."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from veil.detections import Detections
from veil.plan.motion import Affine
from veil.plan.record import MediaInfo, Plan, Region
from veil.plan.track import TrackSettings, confirmed_tracks, link_tracks, track_regions
from veil.settings import MaskSettings, ScanSettings


def build_video_plan(detections: Sequence[Detections], media: MediaInfo, *,
                     scan: ScanSettings, mask: MaskSettings,
                     scene_cuts: Sequence[int] = (), bad_frames: Iterable[int] = (),
                     track: TrackSettings | None = None, tool: str = "",
                     camera: Sequence[Affine | None] | None = None) -> Plan:
    """Tracks, gap filling, extension and motion widening → a :class:`Plan`.

    ``detections[i]`` are the faces of frame ``i`` (upright picture coordinates);
    ``bad_frames`` are frames that could not be decoded or scanned cleanly: they are
    masked whole. A track is kept when one of its detections reaches the scan's
    threshold, or when it persists and its boxes are small (:class:`TrackSettings`).
    Boxes are clipped to the picture; regions of one track never repeat in a frame.
    ``camera[i]`` is the camera's motion into frame ``i``
    (:class:`veil.plan.motion.CameraMotion`), when the scan measured it: tracks then
    follow it (``TrackSettings.camera_motion``).
    """
    track = track or TrackSettings()
    if track.confirm_score is None:
        track = dataclasses.replace(track, confirm_score=scan.threshold)
    plan = Plan(media=media, scan=scan, mask=mask, tool=tool, track=track)
    n = len(detections)
    size = (media.width, media.height)
    tracks = confirmed_tracks(link_tracks(detections, scene_cuts, track, camera, size), track,
                              frame_size=size)
    w, h = float(media.width), float(media.height)
    for r in track_regions(tracks, n, scene_cuts, track, camera, size):
        x1, y1, x2, y2 = (float(v) for v in r.box)
        x1, x2 = float(np.clip(x1, 0, w)), float(np.clip(x2, 0, w))
        y1, y2 = float(np.clip(y1, 0, h)), float(np.clip(y2, 0, h))
        if x2 <= x1 or y2 <= y1:
            continue
        plan.add_region(r.frame, Region(box=(x1, y1, x2, y2), score=r.score,
                                        provenance=r.provenance, track_id=r.track_id))
    for f in bad_frames:
        plan.mask_whole_frame(int(f), "frame could not be decoded or scanned")
    return plan
