"""Adaptive zoom: the zoomed passes run only on chips around small or weak candidates."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from veil.detections import Detections, box_iou
from veil.scan import Scanner
from veil.scan.scanner import CHIP_MIN_SIDE, plan_chips, plan_passes, split_adaptive
from veil.settings import ScanSettings

#: The default photo search.
ADAPTIVE = ScanSettings()


def test_photos_default_to_the_adaptive_search() -> None:
    assert ADAPTIVE.search == "adaptive" and ADAPTIVE.chip_whole == 1.5


class _Fixed:
    """A detector that records its input sizes and reports fixed boxes (frame pixels) in
    the whole-picture pass at the picture's own pixels only (the first call)."""

    name, version, floor = "fixed", "0", 0.0

    def __init__(self, boxes: list[list[float]], scores: list[float]) -> None:
        self.sizes: list[tuple[int, int]] = []
        self.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.scores = np.asarray(scores, np.float32)

    def detect(self, frame: np.ndarray) -> Detections:
        self.sizes.append(frame.shape[:2])
        if len(self.sizes) > 1:
            return Detections()
        return Detections(self.boxes, self.scores)


def _face(astronaut: np.ndarray, side: int) -> np.ndarray:
    return cv2.resize(astronaut[40:220, 150:310], (side, round(side * 1.1)),
                      interpolation=cv2.INTER_AREA)


def test_adaptive_search_plans_the_native_passes_and_zooms_on_chips_only() -> None:
    for w, h in ((1024, 768), (4032, 3024)):
        passes = plan_passes(w, h, ADAPTIVE)
        assert passes == plan_passes(w, h, ScanSettings(search="native"))
        whole, zoomed = split_adaptive(passes)
        assert all(p.scale <= 1 and not p.mirror for p in whole)
        assert len(zoomed) == 3 and zoomed[0].scale < zoomed[1].scale == zoomed[2].scale
        assert zoomed[-1].mirror and all(p.scale > 1 for p in zoomed)
        whole, zoomed = split_adaptive(passes, ADAPTIVE.chip_whole)   # the default
        assert whole[-1].scale == 1.5 and len(zoomed) == 2 and zoomed[-1].mirror
    # chip_whole 1.5: the 1.5x pass runs whole too and seeds the chips with the 1x pass.
    passes = plan_passes(4032, 3024, ADAPTIVE)
    whole, zoomed = split_adaptive(passes, 1.5)
    assert [p.scale for p in whole][1:] == [1.0, 1.5] and [p.scale for p in zoomed] == [2, 2]
    # Passes with no pass at the picture's own pixels run whole: nothing to seed chips.
    only_zoom = plan_passes(800, 600, ADAPTIVE.with_passes("2"))
    assert split_adaptive(only_zoom) == (only_zoom, [])


def test_blank_picture_gets_no_zoomed_pass() -> None:
    rec = _Fixed([], [])
    found = Scanner(ADAPTIVE, detector=rec).scan(np.full((768, 1024, 3), 128, np.uint8))
    assert len(found) == 0
    assert rec.sizes == [(768, 1024), (1152, 1536)]   # 1x and 1.5x; no 2x or mirrored pass
    native = _Fixed([], [])
    Scanner(ScanSettings(search="native"), detector=native).scan(
        np.full((768, 1024, 3), 128, np.uint8))
    assert len(native.sizes) == 4


def test_one_small_face_far_from_others_is_zoomed_there_only() -> None:
    """A 12 px candidate far from a large confident face: each chip pass (2x, mirrored 2x)
    sees one chip around the small one (a few percent of the picture); the large face
    opens none."""
    small = [700.0, 500.0, 712.0, 513.0]
    large = [100.0, 100.0, 300.0, 320.0]
    s = ADAPTIVE
    parts = [Detections(np.asarray([small, large], np.float32), np.asarray([0.3, 0.99]))]
    chips = plan_chips(parts, 1024, 768, s)
    assert len(chips) == 1
    x1, y1, x2, y2 = chips[0]
    assert x1 <= small[0] - s.chip_margin and x2 >= small[2] + s.chip_margin
    assert y1 <= small[1] - s.chip_margin and y2 >= small[3] + s.chip_margin
    assert (x2 - x1) * (y2 - y1) < 0.05 * 1024 * 768
    assert x2 - x1 >= CHIP_MIN_SIDE and y2 - y1 >= CHIP_MIN_SIDE   # context for the zoom
    assert box_iou(np.asarray([large]), np.asarray([chips[0]], np.float32))[0, 0] == 0
    rec = _Fixed([small, large], [0.3, 0.99])
    Scanner(s, detector=rec).scan(np.zeros((768, 1024, 3), np.uint8))
    assert rec.sizes[:2] == [(768, 1024), (1152, 1536)] and len(rec.sizes) == 4
    for h, w in rec.sizes[2:]:                # the chip, scaled by its pass (at most 2x)
        assert w <= 2 * (x2 - x1) + 2 and h <= 2 * (y2 - y1) + 2
    # A large confident face alone: nothing to zoom.
    assert plan_chips([Detections(np.asarray([large], np.float32), np.asarray([0.99]))],
                      1024, 768, s) == []


def test_weak_candidate_of_any_size_opens_a_chip() -> None:
    """A weak candidate needs a second pass to count as a face: it gets one."""
    weak = [400.0, 300.0, 500.0, 420.0]       # 120 px, score between 0.075 and 0.25
    chips = plan_chips([Detections(np.asarray([weak], np.float32), np.asarray([0.15]))],
                       1024, 768, ADAPTIVE)
    assert len(chips) == 1
    x1, y1, x2, y2 = chips[0]
    assert x1 <= 400 - 60 and y1 <= 300 - 60 and x2 >= 500 + 60 and y2 >= 420 + 60


def test_overlapping_chips_merge_and_many_cover_the_whole_picture() -> None:
    s = ADAPTIVE
    boxes = [[200.0, 200.0, 212.0, 212.0], [260.0, 210.0, 272.0, 222.0]]
    chips = plan_chips([Detections(np.asarray(boxes, np.float32), np.asarray([0.3, 0.3]))],
                       1024, 768, s)
    assert len(chips) == 1                    # 60 px apart: one chip holds both
    grid = [[x, y, x + 12.0, y + 12.0] for x in range(20, 1024, 60) for y in range(20, 768, 60)]
    many = Detections(np.asarray(grid, np.float32), np.full(len(grid), 0.3, np.float32))
    assert plan_chips([many], 1024, 768, s) == [(0, 0, 1024, 768)]


@pytest.mark.slow
def test_face_rich_picture_is_searched_exactly_as_the_native_search(
        astronaut: np.ndarray) -> None:
    """Small faces everywhere: the chips cover the picture, so the adaptive search runs
    every pass whole and finds exactly what the full search finds."""
    canvas = np.full((420, 600, 3), 120, np.uint8)
    rng = np.random.default_rng(3)
    for y in range(20, 400, 60):
        for x in range(20, 580, 60):
            side = int(rng.integers(16, 23))
            f = _face(astronaut, side)
            canvas[y:y + f.shape[0], x:x + f.shape[1]] = f
    adaptive = Scanner(ADAPTIVE).scan(canvas)
    native = Scanner(ScanSettings(search="native")).scan(canvas)
    assert len(native) > 10
    np.testing.assert_array_equal(adaptive.boxes, native.boxes)
    np.testing.assert_array_equal(adaptive.scores, native.scores)


@pytest.mark.slow
def test_small_face_far_from_others_is_found_in_its_chip(astronaut: np.ndarray) -> None:
    """An 18 px face in a corner of a picture with one large face: the adaptive search finds
    it (its zooms on a chip there) as the full search does, at a fraction of the input."""
    canvas = np.full((768, 1024, 3), 128, np.uint8)
    canvas[100:356, 100:356] = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    small = _face(astronaut, 18)
    canvas[600:600 + small.shape[0], 850:868] = small
    gt = np.asarray([[850, 600, 868, 600 + small.shape[0]]], np.float32)

    from benchmarks.search import Metered
    from veil.scan.registry import get_detector

    def sizes() -> Metered:  # counts the detector's input, in (padded) megapixels
        return Metered(get_detector("centerface", floor=ADAPTIVE.detector_floor))

    native_det, adaptive_det = sizes(), sizes()
    native = Scanner(ScanSettings(search="native"), detector=native_det).scan(canvas)  # type: ignore[arg-type]
    adaptive = Scanner(ADAPTIVE, detector=adaptive_det).scan(canvas)  # type: ignore[arg-type]
    assert box_iou(native.boxes, gt).max() > 0.3
    assert box_iou(adaptive.boxes, gt).max() > 0.3
    assert adaptive_det.cost.mpix < 0.5 * native_det.cost.mpix


def test_adaptive_settings_are_checked_and_recorded() -> None:
    s = ScanSettings(search="adaptive", chip_score=0.05, chip_face=20, chip_margin=16,
                     chip_full=0.8)
    assert ScanSettings.from_dict(s.plan_dict()) == s
    assert s.detector_floor == pytest.approx(0.05)           # candidates that seed chips
    assert ScanSettings(search="native", chip_score=0.05).detector_floor == pytest.approx(0.075)
    # No pass runs on chips (--fast, --passes 1,1.5): no candidate below the rules is needed.
    assert ScanSettings.fast(chip_score=0.05).detector_floor == pytest.approx(0.03)
    assert ScanSettings(chip_score=0.05).with_passes("1,1.5").detector_floor == \
        pytest.approx(0.075)
    for bad in ({"chip_score": 0}, {"chip_face": -1}, {"chip_margin": -1}, {"chip_full": 0},
                {"chip_whole": 0.5}):
        with pytest.raises(ValueError):
            ScanSettings(search="adaptive", **bad)  # type: ignore[arg-type]

