"""benchmarks.faint_area's figures on a plan built from made-up detections (no media)."""

from __future__ import annotations

import pytest

from benchmarks.faint_area import faint_figures
from veil.detections import Detections
from veil.plan.record import MediaInfo
from veil.plan.track import TrackSettings
from veil.plan.video import build_video_plan
from veil.settings import MaskSettings, ScanSettings


def _plan(track: TrackSettings):
    face = [100.0, 100.0, 200.0, 200.0]       # confirmed in every frame
    texture = [300.0, 50.0, 340.0, 90.0]      # faint, small, steady
    dets = [Detections([face, texture], [0.9, 0.1]) for _ in range(10)]
    media = MediaInfo(name="c.mp4", sha256="0", kind="video", width=640, height=360,
                      frame_count=10)
    return build_video_plan(dets, media, scan=ScanSettings(), mask=MaskSettings(),
                            track=track)


def test_faint_tracks_and_their_area_are_counted_apart() -> None:
    mask = MaskSettings()
    row = faint_figures(_plan(TrackSettings()), mask)
    assert (row["frames"], row["tracks"], row["faint_tracks"]) == (10, 2, 1)
    assert 0.0 < row["faint_alone_area"] <= row["faint_area"] < row["all_area"] < 1.0
    # the faint box is 40x40 of 640x360 before the mask's margin
    assert row["faint_area"] >= 40 * 40 / (640 * 360)
    assert row["largest_faint"] == pytest.approx(40 / 640)
    strict = faint_figures(_plan(TrackSettings(faint_max_size=0.05)), mask)
    assert (strict["tracks"], strict["faint_tracks"], strict["faint_area"]) == (1, 0, 0.0)
