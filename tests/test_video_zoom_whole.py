"""Strided native zoom for video: on a frame larger than the base pass, the zoom pass at
the frame's own pixels sees the whole frame on one frame in ``video_zoom_whole`` only, and
chips around candidates and recent faces on the zoom frames between."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from veil.detections import Detections
from veil.scan.video import VIDEO_ZOOM_EVERY, VIDEO_ZOOM_WHOLE, VideoScanner, video_scan_settings
from veil.settings import ScanSettings

W, H = 1280, 720


class BrightSquare:
    """Stands in for the detector: finds the bright square of the input as a face when it
    is at least ``least`` input pixels a side (so the 640 px base pass cannot see a 16 px
    one of a 1280x720 frame, and the pass at the frame's own pixels can). Records the size
    of every input."""

    name = "bright-square"
    floor = 0.0

    def __init__(self, least: int = 12) -> None:
        self.least = least
        self.sizes: list[tuple[int, int]] = []

    def detect(self, frame: np.ndarray) -> Detections:
        self.sizes.append(frame.shape[:2])
        ys, xs = np.nonzero(frame[:, :, 0] > 200)
        if not len(xs):
            return Detections.empty()
        box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        if min(box[2] - box[0], box[3] - box[1]) < self.least:
            return Detections.empty()
        return Detections(np.asarray([box], np.float32), np.asarray([0.9], np.float32))


def _frame(face: bool) -> np.ndarray:
    f = np.zeros((H, W, 3), np.uint8)
    if face:
        f[300:316, 600:616] = 255
    return f


STRIDE = 4  # the schedule measured in BENCHMARKS.md (not the default: see there)


def _settings(width: int = W, height: int = H) -> ScanSettings:
    return dataclasses.replace(video_scan_settings(width, height), video_zoom_whole=STRIDE)


def test_the_setting_is_recorded_in_the_plan() -> None:
    assert video_scan_settings(W, H).video_zoom_whole == VIDEO_ZOOM_WHOLE
    assert _settings().plan_dict()["video_zoom_whole"] == STRIDE
    # Plans made before record none: read as the whole zoom on every zoom frame.
    assert ScanSettings.from_dict({}).video_zoom_whole == 0
    with pytest.raises(ValueError):
        ScanSettings(video_zoom_whole=-1)


def test_the_whole_frame_is_zoomed_one_frame_in_n_and_chips_between() -> None:
    det = BrightSquare()
    vs = VideoScanner(_settings(), detector=det)
    every, whole = vs.zoom_every, vs.whole_every
    kinds = [vs.passes_for(W, H, i) for i in range(2 * whole + 1)]
    assert kinds == ["whole" if i % whole == 0 else "chips" if i % every == 0 else "base"
                     for i in range(2 * whole + 1)]
    # Nothing in sight: a chip frame runs the base pass only, the whole frames the full
    # native pass (before session 8, every zoom frame did).
    inputs = []
    for i in range(whole + 1):
        det.sizes.clear()
        vs.scan(_frame(False), i)
        inputs.append(list(det.sizes))
    assert inputs[0] == [(360, 640), (720, 1280)] == inputs[whole]
    assert all(inp == [(360, 640)] for inp in inputs[1:whole])


def test_a_face_entering_mid_clip_is_found_at_the_next_whole_frame_and_kept_on_chips() -> None:
    det = BrightSquare()
    vs = VideoScanner(_settings(), detector=det)
    whole, every = vs.whole_every, vs.zoom_every
    enter = whole + 1  # just after a whole frame: the worst case
    found, chip_inputs = {}, {}
    for i in range(4 * whole):
        det.sizes.clear()
        d = vs.scan(_frame(i >= enter), i)
        found[i] = bool(len(d.with_min_score(0.25)))
        if vs.passes_for(W, H, i) == "chips":
            chip_inputs[i] = list(det.sizes[1:])
    first = min(i for i, f in found.items() if f)
    assert first - enter < whole  # found within N frames of entering
    assert first % whole == 0
    # From there on every zoom frame finds it, the chip frames on a chip around it only.
    zoom_frames = [i for i in found if i >= first and i % every == 0]
    assert all(found[i] for i in zoom_frames)
    chips_after = [i for i in chip_inputs if i > first]
    assert chips_after and all(chip_inputs[i] for i in chips_after)
    assert all(sum(a * b for a, b in chip_inputs[i]) < W * H / 8 for i in chips_after)


def test_640x360_frames_keep_the_whole_zoom_on_every_zoom_frame() -> None:
    det = BrightSquare()
    vs = VideoScanner(_settings(640, 360), detector=det)
    assert [vs.passes_for(640, 360, i) for i in range(6)] == [
        "whole" if i % VIDEO_ZOOM_EVERY == 0 else "base" for i in range(6)]
    off = VideoScanner(dataclasses.replace(video_scan_settings(W, H), video_zoom_whole=0),
                       detector=det)
    assert [off.passes_for(W, H, i) for i in range(6)] == [
        "whole" if i % VIDEO_ZOOM_EVERY == 0 else "base" for i in range(6)]
