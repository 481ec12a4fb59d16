"""Recognition model files, the shipped calibration, and the calibration rule."""

from __future__ import annotations

import numpy as np

from veil.bench.calibrate_reid import threshold_at_fmr
from veil.verify.recognition import (
    FLOOR_THRESHOLD,
    RESNET_MODEL,
    SHAPE_MODEL,
    calibration,
    model_dir,
    reid_distance,
    reid_distances,
    reid_threshold,
)
from verify_media import FACE_BOX, astronaut


def test_model_files_found_without_importing_the_package():
    folder = model_dir()
    assert (folder / SHAPE_MODEL).is_file() and (folder / RESNET_MODEL).is_file()


def test_shipped_calibration_has_its_numbers():
    cal = calibration()
    assert cal.threshold >= FLOOR_THRESHOLD
    assert reid_threshold() == cal.threshold
    for key in ("different_pairs", "false_match_rate_at_threshold", "date", "command"):
        assert key in cal.data
    assert cal.data["false_match_rate_at_threshold"] <= 0.01
    assert cal.data["different_pairs"] >= 1000


def test_threshold_rule():
    d = list(np.linspace(0.5, 1.5, 200))      # 1% of 200 = 2 pairs may lie below
    t = threshold_at_fmr(d)
    assert sum(x < t for x in d) == 2
    assert sum(x < np.nextafter(t, 2) for x in d) == 3  # any larger threshold breaks 1%


def test_same_face_distance_is_zero_and_mask_raises_it():
    img = astronaut()
    assert reid_distance(img, img, FACE_BOX) < 1e-6
    flat = img.copy()
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    flat[y1 - 10:y2 + 10, x1 - 10:x2 + 10] = 128
    near, far = reid_distances(img, [img, flat], FACE_BOX)
    assert near < 1e-6 and far > reid_threshold()
