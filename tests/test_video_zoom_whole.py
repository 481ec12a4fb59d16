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


STRIDE = 4  # the schedule measured in BENCHMARKS.md (the default since session 9)


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


class Painted:
    """Stands in for the detector: a pure green region of the input is a weak candidate
    (score 0.1, any size; a texture the detector half believes), a pure red one a clear
    face (0.9). Records the size of every input."""

    name = "painted"
    floor = 0.0

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def detect(self, frame: np.ndarray) -> Detections:
        self.sizes.append(frame.shape[:2])
        boxes, scores = [], []
        for channel, score in ((1, 0.1), (0, 0.9)):
            others = [c for c in range(3) if c != channel]
            hit = (frame[:, :, channel] == 255) & (frame[:, :, others].max(axis=2) == 0)
            ys, xs = np.nonzero(hit)
            if len(xs):
                boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
                scores.append(score)
        if not boxes:
            return Detections.empty()
        return Detections(np.asarray(boxes, np.float32), np.asarray(scores, np.float32))


def _painted(texture: tuple[int, int, int, int] | None,
             face: tuple[int, int, int, int] | None) -> np.ndarray:
    f = np.zeros((H, W, 3), np.uint8)
    if texture is not None:
        x1, y1, x2, y2 = texture
        f[y1:y2, x1:x2, 1] = 255
    if face is not None:
        x1, y1, x2, y2 = face
        f[y1:y2, x1:x2, 0] = 255
    return f


def _chip_inputs(frame: np.ndarray) -> list[tuple[int, int]]:
    """The zoom's inputs on the first chip frame of a clip of ``frame``."""
    det = Painted()
    vs = VideoScanner(_settings(), detector=det)
    chip_frame = next(i for i in range(1, 9) if vs.passes_for(W, H, i) == "chips")
    for i in range(chip_frame):
        vs.scan(frame, i)
    det.sizes.clear()
    vs.scan(frame, chip_frame)
    return det.sizes[1:]


def test_large_faint_candidates_and_large_faces_open_no_chip() -> None:
    # A 240x300 px texture at a faint score, and a 200 px face the base pass sees clearly:
    # neither needs the frame's own pixels, so the chip frames run the base pass only
    # (session 8 opened a chip around each: on real footage they covered much of the frame).
    frame = _painted(texture=(100, 100, 340, 400), face=(800, 200, 1000, 400))
    assert _chip_inputs(frame) == []


def test_a_small_faint_candidate_still_opens_a_chip() -> None:
    frame = _painted(texture=(600, 300, 620, 320), face=None)
    inputs = _chip_inputs(frame)
    assert inputs and sum(a * b for a, b in inputs) < W * H / 8


class FaintSmall(BrightSquare):
    """A small face the detector only half sees: 0.065 (between the faint floor of the
    tracker, 0.06, and the support threshold, 0.075), and only at the frame's own pixels."""

    def detect(self, frame: np.ndarray) -> Detections:
        found = super().detect(frame)
        return Detections(found.boxes, np.full(len(found), 0.065, np.float32))


def test_a_faint_small_face_of_a_whole_frame_gets_chips_on_the_next_zoom_frames() -> None:
    # The tracker keeps a small faint face that persists (from 0.06); the base pass cannot
    # see it, so it persists only if the chip frames look at it again.
    det = FaintSmall()
    vs = VideoScanner(_settings(), detector=det)
    seen = []
    for i in range(vs.whole_every + 1):
        d = vs.scan(_frame(True), i)
        if vs.passes_for(W, H, i) != "base":
            seen.append(len(d.with_min_score(0.06)) == 1)
    assert seen == [True] * len(seen) and len(seen) >= 3


def test_video_chips_start_on_the_detectors_32_px_grid() -> None:
    # A face at x = 600: 16 px cells would start its chip at 528 (16 x 33), off the 32 px
    # grid CenterFace pads to, so the chip's pixels would meet the network shifted by 16.
    det = BrightSquare()
    vs = VideoScanner(_settings(), detector=det)
    for i in range(vs.whole_every):
        vs.scan(_frame(True), i)
        if vs.passes_for(W, H, i) == "chips":
            assert vs.chips
            assert all(x1 % 32 == 0 and y1 % 32 == 0 for x1, y1, _, _ in vs.chips)


def test_a_720p_job_strides_the_native_zoom_by_default() -> None:
    # Since session 9 (BENCHMARKS.md, "Cheaper chips for the strided zoom"): a 720p video's
    # own settings zoom the whole frame one zoom frame in two, and only chips between.
    det = BrightSquare()
    vs = VideoScanner(video_scan_settings(W, H), detector=det)
    kinds = [vs.passes_for(W, H, i) for i in range(9)]
    assert "chips" in kinds and "whole" in kinds
    for i in range(9):
        det.sizes.clear()
        vs.scan(_frame(True), i)
        if kinds[i] == "chips":  # the base pass, then a chip around the face only
            assert det.sizes[0] == (360, 640)
            assert 0 < sum(a * b for a, b in det.sizes[1:]) < W * H / 8
