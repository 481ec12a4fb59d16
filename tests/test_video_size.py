"""The video search is size-aware: on frames larger than the 640 px base, the zoom pass
sees the frame's own pixels; 640x360 frames are searched exactly as before."""

from __future__ import annotations

import numpy as np
import pytest

from veil.detections import Detections
from veil.scan.scanner import ScanPass, plan_passes
from veil.scan.video import (
    VIDEO_NATIVE_ZOOM,
    VIDEO_TILE_SIDE,
    VIDEO_ZOOM,
    VideoScanner,
    video_scan_settings,
)
from veil.settings import ScanSettings


class Recorder:
    """Stands in for the detector: records the size of every input, finds nothing."""

    name = "recorder"
    floor = 0.0

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def detect(self, frame: np.ndarray) -> Detections:
        self.sizes.append(frame.shape[:2])
        return Detections.empty()


def _inputs(width: int, height: int, frames: int, scan: ScanSettings | None = None
            ) -> list[list[tuple[int, int]]]:
    """The detector inputs (height, width) of each of ``frames`` frames of a video."""
    det = Recorder()
    vs = VideoScanner(video_scan_settings(width, height, scan), detector=det)
    frame = np.zeros((height, width, 3), np.uint8)
    out = []
    for i in range(frames):
        det.sizes.clear()
        vs.scan(frame, i)
        out.append(list(det.sizes))
    return out


def test_640x360_frames_are_searched_as_before() -> None:
    s = video_scan_settings(640, 360)
    assert plan_passes(640, 360, s) == [ScanPass(scale=1.0), ScanPass(scale=VIDEO_ZOOM)]
    assert _inputs(640, 360, 4) == [[(360, 640), (540, 960)], [(360, 640)],
                                    [(360, 640), (540, 960)], [(360, 640)]]


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (720, 1280)])
def test_the_zoom_pass_of_a_large_frame_covers_its_own_pixels(size: tuple[int, int]) -> None:
    w, h = size
    inputs = _inputs(w, h, 3)
    base = 640 / max(w, h)
    base_input = (round(h * base), round(w * base))
    # Every frame: the whole frame at the 640 px base.
    assert all(frame[0] == base_input for frame in inputs)
    # The zoom frames: the frame's own pixels or more (today x1), not x1.5 of the base
    # (960 px wide), which shows a 10 px face of a 1920x1080 frame at 5 px.
    zoom = inputs[0][1:]
    assert sum(a * b for a, b in zoom) >= w * h * VIDEO_NATIVE_ZOOM ** 2
    assert all(max(a, b) <= VIDEO_TILE_SIDE for a, b in zoom)
    assert inputs[1] == [base_input]


def test_a_4k_frame_is_searched_in_overlapping_tiles() -> None:
    s = video_scan_settings(3840, 2160)
    passes = plan_passes(3840, 2160, s)
    assert passes[0] == ScanPass(scale=640 / 3840)
    assert passes[1].scale == pytest.approx(VIDEO_NATIVE_ZOOM) and passes[1].tile
    inputs = _inputs(3840, 2160, 1)[0][1:]
    assert len(inputs) > 1 and all(max(a, b) <= VIDEO_TILE_SIDE for a, b in inputs)
    assert sum(a * b for a, b in inputs) >= 3840 * 2160


def test_a_one_pass_scan_stays_one_pass_at_any_size() -> None:
    for w, h in [(640, 360), (1920, 1080)]:
        assert len(plan_passes(w, h, video_scan_settings(w, h, ScanSettings.fast()))) == 1


def test_the_plan_records_the_video_search_and_reads_it_back() -> None:
    s = video_scan_settings(1280, 720, ScanSettings(threshold=0.3))
    assert (s.search, s.native_scale, s.tile_side) == ("video", VIDEO_NATIVE_ZOOM,
                                                       VIDEO_TILE_SIDE)
    back = ScanSettings.from_dict(s.plan_dict())
    assert back == s
    assert plan_passes(1280, 720, back) == plan_passes(1280, 720, s)


def test_a_plan_made_before_records_the_pyramid_and_keeps_its_passes() -> None:
    # What video_scan_settings recorded for a 1280x720 clip before the video search.
    old = {"threshold": 0.25, "support_ratio": 0.3, "support_passes": 1,
           "zooms": [1.0, 1.5], "mirror": False, "base_side": 640,
           "target_pixels": 960 * 540, "max_upscale": 1.5, "keep_weak": 0.06,
           "detector": "centerface", "search": "pyramid"}
    s = ScanSettings.from_dict(old)
    assert [p.scale for p in plan_passes(1280, 720, s)] == pytest.approx([0.5, 0.75])
