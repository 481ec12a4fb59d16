"""Recognition model files, the shipped calibration, and the calibration rule."""

from __future__ import annotations

import numpy as np

from benchmarks.calibrate_reid import threshold_at_fmr
from veil.verify.recognition import (
    FLOOR_THRESHOLD,
    RESNET_MODEL,
    SHAPE_MODEL,
    calibration,
    model_dir,
    reid_distance,
    reid_distances,
    reid_threshold,
    reidentifiable,
    solid_reference,
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


def test_reid_rule_needs_both_the_threshold_and_the_solid_reference():
    t, m = 0.69, 0.05
    assert reidentifiable(0.1, 0.7, t, m)            # unmasked: far closer than a fill
    assert not reidentifiable(0.8, 0.9, t, m)        # above the threshold
    assert not reidentifiable(0.6, 0.62, t, m)       # as good as a solid fill (context only)
    assert reidentifiable(0.5, 0.62, t, m)           # clearly closer than a solid fill
    assert reidentifiable(0.5, None, t, m)           # no reference: the threshold decides


def test_solid_reference_keeps_only_the_mean_colour():
    img = astronaut()
    region = np.zeros(img.shape[:2], bool)
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    region[y1:y2, x1:x2] = True
    ref = solid_reference(img, region)
    assert (ref[~region] == img[~region]).all()
    inside = ref[region].reshape(-1, 3)
    assert (inside == inside[0]).all()
    assert np.abs(inside[0].astype(float) - img[region].reshape(-1, 3).mean(0)).max() <= 0.5
