"""Size-aware (tiled) search: the plan of passes, tiles, and small faces in big pictures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from veil.detections import Detections, box_iou
from veil.scan import Scanner
from veil.scan.scanner import (
    COARSE_MIN_SIDE,
    ScanPass,
    plan_passes,
    run_pass,
    tile_size,
    tile_starts,
)
from veil.settings import ScanSettings


def test_tiles_cover_with_overlap() -> None:
    assert tile_starts(500, 1024, 128) == [0]
    assert tile_size(500, 1024, 128) == 500
    for length in (1025, 3000, 4000, 4032, 8001, 8064):
        starts = tile_starts(length, 1024, 128)
        assert starts[0] == 0 and starts[-1] + 1024 == length
        assert all(b - a <= 1024 - 128 for a, b in zip(starts, starts[1:], strict=False))
        # As many tiles, each no larger than needed: less overlap paid for.
        side = tile_size(length, 1024, 128)
        assert side <= 1024 and side % 32 == 0
        fitted = tile_starts(length, side, 128)
        assert len(fitted) == len(starts) and fitted[-1] + side == length
        assert all(b - a <= side - 128 for a, b in zip(fitted, fitted[1:], strict=False))
    assert tile_size(4032, 1024, 128) == 928     # 5 tiles of 928 px, not of 1024


@pytest.mark.parametrize("size", [(640, 480), (1024, 768), (4000, 3000), (8000, 6000)])
def test_tiled_plan_searches_native_pixels_whatever_the_size(size: tuple[int, int]) -> None:
    w, h = size
    s = ScanSettings(search="tiled")
    passes = plan_passes(w, h, s)
    assert passes[0].scale == 1.0                       # the smallest faces at native pixels
    assert max(w, h) * passes[-1].scale <= s.base_side * 1.001 and not passes[-1].tile
    assert all(a.scale > b.scale for a, b in zip(passes, passes[1:], strict=False))
    # Cost grows with the area: all passes together see under 1.5x the picture's pixels.
    assert sum(p.scale ** 2 for p in passes) < 1.5
    assert all(p.tile == s.tile_side for p in passes[:-1] if max(w, h) * p.scale > s.tile_side)

@pytest.mark.parametrize("size", [(465, 372), (1024, 768), (1280, 720), (2016, 1512),
                                  (4032, 3024), (8000, 6000)])
def test_default_search_never_shrinks_the_zooms_below_native_pixels(
        size: tuple[int, int]) -> None:
    """The default (``adaptive``, whose passes are ``native``'s): a picture up to 1280 px
    is searched exactly as the pyramid does; a larger one gets the same zooms of its own
    pixels, tiled, mirrored at the largest, plus the whole picture at 1280 px for the
    largest faces."""
    w, h = size
    s = ScanSettings()
    assert s.search == "adaptive"
    assert plan_passes(w, h, s) == plan_passes(w, h, ScanSettings(search="native"))
    passes = plan_passes(w, h, s)
    if max(w, h) <= s.base_side:
        assert passes == plan_passes(w, h, ScanSettings(search="pyramid"))
        return
    assert passes[0] == ScanPass(scale=s.base_side / max(w, h),        # whole, coarse,
                                 min_side=COARSE_MIN_SIDE)             # large faces only
    zoomed = [p for p in passes[1:] if not p.mirror]
    assert [p.scale for p in zoomed] == [z for z in s.zooms if z >= passes[0].scale * 1.15]
    assert all(p.tile == s.tile_side and p.overlap == s.tile_overlap for p in passes[1:])
    assert passes[-1].mirror and passes[-1].scale == zoomed[-1].scale
    # Cost grows with the area: the same passes per pixel whatever the size.
    assert sum(p.scale ** 2 for p in passes[1:]) == pytest.approx(1 + 1.5 ** 2 + 2 * 2 ** 2)
    # The pyramid (video frames) still brings the whole frame to 1280 px.
    assert plan_passes(w, h, ScanSettings(search="pyramid"))[0].scale == 1280 / max(w, h)


class _Recorder:
    """A detector that records the input sizes it is given and finds nothing."""

    name, version, floor = "recorder", "0", 0.0

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def detect(self, frame: np.ndarray) -> Detections:
        self.sizes.append(frame.shape[:2])
        return Detections()


def test_a_48_megapixel_picture_is_searched_in_bounded_tiles() -> None:
    frame = np.zeros((6000, 8000, 3), np.uint8)
    rec = _Recorder()
    Scanner(ScanSettings(search="tiled", native_scale=2.0), detector=rec).scan(frame)
    assert max(max(hw) for hw in rec.sizes[:-1]) <= 1024 + 4   # tiles (window rounding)
    assert max(rec.sizes[-1]) <= 1280                            # the whole picture, coarse
    seen = sum(h * w for h, w in rec.sizes)
    # The 2x pass (4 x 48 MP), coarser passes (+1/3) and tile overlaps: linear in the area.
    assert 4 * 48e6 <= seen < 4 * 48e6 * 2


@pytest.mark.slow
def test_small_face_in_a_big_picture_is_found_across_a_tile_border(astronaut: np.ndarray) -> None:
    """A 20 px face in a 12 MP picture, on a tile seam: the default pyramid shrinks the
    picture (the face to under 10 px) and misses it; the tiled search and the default
    (native) search see it at native pixels, whole."""
    face = cv2.resize(astronaut[40:220, 150:310], (20, 22), interpolation=cv2.INTER_AREA)
    canvas = np.full((3000, 4000, 3), 128, np.uint8)
    side = tile_size(4000, 1024, 128)
    x = tile_starts(4000, side, 128)[1] - 10     # straddles the second tile's left edge
    canvas[1500:1522, x:x + 20] = face
    gt = [[x, 1500, x + 20, 1522]]
    found = Scanner(ScanSettings(search="tiled", native_scale=1.0)).scan(canvas)
    assert len(found) >= 1
    assert (box_iou(found.boxes, gt)[:, 0] > 0.3).all()          # whole, never a half face
    pyramid = Scanner(ScanSettings(search="pyramid")).scan(canvas)
    assert len(pyramid) == 0 or box_iou(pyramid.boxes, gt).max() < 0.3
    default = Scanner(ScanSettings()).scan(canvas)
    assert len(default) >= 1 and (box_iou(default.boxes, gt)[:, 0] > 0.3).any()


def test_tiled_pass_maps_boxes_like_a_whole_pass(astronaut: np.ndarray) -> None:
    """A tile pass on a picture larger than one tile finds the face where a whole pass does."""
    canvas = np.full((1500, 2200, 3), 90, np.uint8)
    canvas[900:1412, 1500:2012] = astronaut
    from veil.scan.registry import get_detector

    det = get_detector("centerface")
    whole = run_pass(det, canvas, ScanPass(1.0)).with_min_score(0.5)
    tiled = run_pass(det, canvas, ScanPass(1.0, tile=1024, overlap=128)).with_min_score(0.5)
    assert len(whole) == 1 and len(tiled) >= 1
    assert box_iou(whole.boxes, tiled.boxes).max() > 0.9


def test_second_detector_confirms_a_weak_face_not_a_blank_patch(astronaut: np.ndarray) -> None:
    from veil.scan.registry import get_detector
    from veil.scan.scanner import confirm_on_crops

    canvas = np.full((400, 600, 3), 128, np.uint8)
    canvas[150:190, 100:135] = cv2.resize(astronaut[40:220, 150:310], (35, 40),
                                          interpolation=cv2.INTER_AREA)
    candidates = Detections([[100, 150, 135, 190], [400, 150, 435, 190]], [0.15, 0.15])
    ok = confirm_on_crops(get_detector("centerface"), canvas, candidates, threshold=0.3)
    assert ok.tolist() == [True, False]


def test_cascade_keeps_confirmed_weak_candidates_only(astronaut: np.ndarray) -> None:
    """YuNet's weak candidates count as faces when CenterFace confirms them; without a
    confirming detector the same threshold drops them."""
    face = cv2.resize(astronaut[40:220, 150:310], (24, 27), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[200:227, 300:324] = face
    weak_only = ScanSettings(detector="yunet", search="tiled", threshold=1.0, support_ratio=0.1)
    alone = Scanner(weak_only).scan(canvas)
    cascade = Scanner(ScanSettings(**{**weak_only.to_dict(), "confirm_detector": "centerface"}))
    found = cascade.scan(canvas)
    assert len(alone) == 0
    assert len(found) == 1
    cx, cy = found.boxes[0, 0::2].mean(), found.boxes[0, 1::2].mean()
    assert 300 < cx < 324 and 200 < cy < 227     # on the pasted face (YuNet's box is tight)


def test_whole_picture_pass_of_a_large_picture_keeps_only_large_faces() -> None:
    """The whole-picture pass of a 12 MP picture (at 1280 px) is for faces too large for a
    tile; its small boxes, which the tiled passes see at full size, are its false alarms."""

    class WholeOnly(_Recorder):
        """Finds ``boxes`` (frame pixels) in the first, whole-picture pass only."""

        def __init__(self, boxes: list[list[float]], frame_side: int) -> None:
            super().__init__()
            self.boxes, self.frame_side = np.asarray(boxes, np.float32), frame_side

        def detect(self, frame: np.ndarray) -> Detections:
            super().detect(frame)
            if len(self.sizes) > 1:
                return Detections()
            k = max(frame.shape[:2]) / self.frame_side
            return Detections(self.boxes * k, np.full(len(self.boxes), 0.9, np.float32))

    s = ScanSettings()
    passes = plan_passes(4032, 3024, s)
    assert not passes[0].tile and all(p.tile for p in passes[1:])
    big = [100, 100, 100 + 4 * COARSE_MIN_SIDE, 100 + 4 * COARSE_MIN_SIDE]
    small = [2000, 2000, 2000 + COARSE_MIN_SIDE / 2, 2000 + COARSE_MIN_SIDE / 2]
    scanner = Scanner(s, detector=WholeOnly([big, small], 4032))
    found = scanner.scan(np.zeros((3024, 4032, 3), np.uint8))
    assert len(found) == 1 and box_iou(found.boxes, np.asarray([big]))[0, 0] > 0.99
    # A picture searched whole (no tiles: up to 1280 px) keeps every box of its passes.
    boxes = [[10, 10, 250, 250], [500, 500, 520, 520]]
    whole = Scanner(s, detector=WholeOnly(boxes, 1000))
    assert len(whole.scan(np.zeros((800, 1000, 3), np.uint8))) == 2
