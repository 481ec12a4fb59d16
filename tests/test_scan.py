"""The scan stage: CenterFace with the graph fix, pass planning, confirmation, merging."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest

from veil.detections import Detections, box_iou
from veil.scan import Scanner
from veil.scan.centerface import CenterFace, bundled_model_path, load_model_bytes
from veil.scan.scanner import ScanPass, confirmed, merge_detections, plan_passes
from veil.settings import ScanSettings


@pytest.fixture(scope="module")
def detector() -> CenterFace:
    return CenterFace(floor=0.05)


def test_graph_fix_removes_weights_from_inputs() -> None:
    raw = onnx.load(str(bundled_model_path()))
    fixed = onnx.load_from_string(load_model_bytes(bundled_model_path()))
    assert len(raw.graph.input) > 1  # the exported graph lists its weights as inputs
    assert [i.name for i in fixed.graph.input] == ["input.1"]
    dims = fixed.graph.input[0].type.tensor_type.shape.dim
    assert dims[2].dim_param == "H" and dims[3].dim_param == "W"


def test_real_face_found_with_landmarks(detector: CenterFace, astronaut: np.ndarray) -> None:
    dets = Scanner(detector=detector).scan(astronaut)
    assert len(dets) == 1
    x1, y1, x2, y2 = dets.boxes[0]
    assert 150 < x1 < 220 and 30 < y1 < 100 and 240 < x2 < 300 and 150 < y2 < 220
    assert dets.landmarks is not None
    eyes = dets.landmarks[0, :2]
    assert eyes[0, 0] < eyes[1, 0]  # left eye (in the picture) before right eye
    assert (eyes[:, 1] > y1).all() and (eyes[:, 1] < (y1 + y2) / 2).all()


def test_odd_sizes_are_padded_not_stretched(detector: CenterFace, astronaut: np.ndarray) -> None:
    crop = np.ascontiguousarray(astronaut[7:300, 100:351])  # 293 x 251: not multiples of 32
    dets = detector.detect(crop).with_min_score(0.5)
    assert len(dets) == 1
    full = Scanner(detector=detector).scan(astronaut)
    shifted = dets.transformed(1, 1, 100, 7)
    assert box_iou(shifted.boxes, full.boxes)[0, 0] > 0.8


def test_small_face_needs_the_zoomed_passes(detector: CenterFace, astronaut: np.ndarray) -> None:
    """A face about 12 px wide on a plain background: a person all the same."""
    face = cv2.resize(astronaut[40:220, 150:310], (14, 16), interpolation=cv2.INTER_AREA)
    canvas = np.full((240, 320, 3), 128, np.uint8)
    canvas[100:116, 150:164] = face
    thorough = Scanner(ScanSettings(), detector=detector).scan(canvas)
    assert len(thorough) >= 1
    assert box_iou(thorough.boxes, [[150, 100, 164, 116]]).max() > 0.3


def test_pass_plan_follows_image_size() -> None:
    s = ScanSettings()
    small = plan_passes(465, 372, s)
    assert [p.scale for p in small] == [1.0, 1.5, 2.0, 2.0] and small[-1].mirror
    # The pyramid (video frames) bounds every pass; the default (native) tiles instead.
    pyramid = ScanSettings(search="pyramid")
    big = plan_passes(4000, 3000, pyramid)
    assert big[0].scale == pytest.approx(1280 / 4000)
    assert all(p.scale * p.scale * 4000 * 3000 <= s.target_pixels * 1.001 for p in big[1:])
    tiled = plan_passes(4000, 3000, s)
    assert tiled[0].scale == pytest.approx(1280 / 4000) and not tiled[0].tile
    assert all(p.tile == s.tile_side for p in tiled[1:])
    assert plan_passes(1280, 720, ScanSettings.fast()) == [ScanPass(scale=1.0)]


def test_mirror_pass_maps_boxes_back(detector: CenterFace, astronaut: np.ndarray) -> None:
    s = ScanSettings(zooms=(1.0,), mirror=True, support_ratio=1.0)
    parts = Scanner(s, detector=detector)
    from veil.scan.scanner import run_pass

    plain = run_pass(parts.detector, astronaut, ScanPass(1.0)).with_min_score(0.5)
    mirrored = run_pass(parts.detector, astronaut, ScanPass(1.0, mirror=True)).with_min_score(0.5)
    assert box_iou(plain.boxes, mirrored.boxes)[0, 0] > 0.85
    assert mirrored.landmarks is not None and plain.landmarks is not None
    assert np.abs(mirrored.landmarks[0] - plain.landmarks[0]).max() < 8


def test_weak_candidates_need_another_pass() -> None:
    a = Detections([[10, 10, 30, 30], [100, 100, 120, 120]], [0.1, 0.1])
    b = Detections([[11, 11, 31, 31]], [0.09])
    c = Detections([[200, 200, 240, 240]], [0.9])
    kept = confirmed([a, b, c], threshold=0.2, support_threshold=0.08, support_passes=1)
    boxes = {tuple(map(int, bx)) for bx in kept.boxes}
    assert (10, 10, 30, 30) in boxes and (11, 11, 31, 31) in boxes   # confirmed by each other
    assert (100, 100, 120, 120) not in boxes                          # alone and weak
    assert (200, 200, 240, 240) in boxes                              # confident on its own
    none = confirmed([a, b], threshold=0.2, support_threshold=0.095, support_passes=1)
    assert len(none) == 0  # b is under the support threshold, so a has no support


def test_merge_keeps_best_of_near_duplicates() -> None:
    d = Detections([[0, 0, 10, 10], [0.5, 0.5, 10.5, 10.5], [8, 8, 18, 18]], [0.5, 0.9, 0.4])
    merged = merge_detections(d)
    assert len(merged) == 2
    assert merged.scores[0] == pytest.approx(0.9)


def test_settings_round_trip_and_validation() -> None:
    s = ScanSettings(threshold=0.3, zooms=(1.0, 2.0))
    assert ScanSettings.from_dict(s.to_dict()) == s
    assert s.support_threshold == pytest.approx(0.3 * s.support_ratio)
    with pytest.raises(ValueError):
        ScanSettings(threshold=0)
    with pytest.raises(ValueError):
        ScanSettings(zooms=())
