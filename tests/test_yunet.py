"""YuNet-n: the vendored weights, veil's decoder on a real face, and the registry."""

from __future__ import annotations

import hashlib

import numpy as np
import onnxruntime as ort
import pytest

from veil.detections import box_iou
from veil.errors import VeilError
from veil.scan import Scanner
from veil.scan.base import Detector
from veil.scan.registry import DETECTORS, get_detector
from veil.scan.yunet import MODEL_SHA256, STRIDES, YuNet, bundled_model_path, decode
from veil.settings import ScanSettings


@pytest.fixture(scope="module")
def yunet() -> YuNet:
    return YuNet(floor=0.05)


def test_vendored_weights_are_the_published_file() -> None:
    path = bundled_model_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == MODEL_SHA256
    assert (path.parent / "LICENSE").read_text().count("Apache License") >= 1
    assert "Version 2.0" in (path.parent / "LICENSE").read_text()


def test_session_runs_on_the_cpu_provider(yunet: YuNet) -> None:
    assert yunet._session.get_providers() == ["CPUExecutionProvider"]
    assert isinstance(yunet, Detector)
    assert yunet.name == "yunet" and MODEL_SHA256[:12] in yunet.version


def test_real_face_agrees_with_centerface(yunet: YuNet, astronaut: np.ndarray) -> None:
    found = yunet.detect(astronaut).with_min_score(0.5)
    assert len(found) == 1
    cf = get_detector("centerface").detect(astronaut).with_min_score(0.5)
    assert len(cf) == 1
    assert box_iou(found.boxes, cf.boxes)[0, 0] > 0.5
    x1, y1, x2, y2 = found.boxes[0]
    assert found.landmarks is not None
    eyes, mouth = found.landmarks[0, :2], found.landmarks[0, 3:]
    assert eyes[0, 0] < eyes[1, 0]                              # left eye first in the picture
    assert (eyes[:, 1] < mouth[:, 1]).all()                     # eyes above the mouth
    assert ((found.landmarks[0] >= [x1, y1]) & (found.landmarks[0] <= [x2, y2])).all()


def test_odd_sizes_are_padded_not_stretched(yunet: YuNet, astronaut: np.ndarray) -> None:
    crop = np.ascontiguousarray(astronaut[7:300, 100:351])  # 293 x 251
    part = yunet.detect(crop).with_min_score(0.5).transformed(1, 1, 100, 7)
    full = yunet.detect(astronaut).with_min_score(0.5)
    assert len(part) == 1 and box_iou(part.boxes, full.boxes)[0, 0] > 0.8


def test_blank_picture_has_no_face(yunet: YuNet) -> None:
    assert len(yunet.detect(np.full((256, 320, 3), 127, np.uint8)).with_min_score(0.3)) == 0


def test_decoder_places_one_cell_by_hand() -> None:
    """One candidate at stride 16, row 2, col 3, centre offset (0.5, 0.25), size e^0 x e^1
    strides: the box and landmarks follow from the interface alone."""
    w, h = 128, 64
    maps: list[np.ndarray] = []
    for s in STRIDES:
        n = (w // s) * (h // s)
        cls, obj = np.zeros((1, n, 1), np.float32), np.zeros((1, n, 1), np.float32)
        bbox, kps = np.zeros((1, n, 4), np.float32), np.zeros((1, n, 10), np.float32)
        if s == 16:
            i = 2 * (w // 16) + 3
            cls[0, i], obj[0, i] = 0.81, 1.0
            bbox[0, i] = [0.5, 0.25, 0.0, 1.0]
            kps[0, i] = [0.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.0, 1.0, 1.0, 1.0]
        maps += [cls, obj, bbox, kps]
    d = decode(maps, w, h, floor=0.5)
    assert len(d) == 1 and d.scores[0] == pytest.approx(0.9)
    cx, cy, bw, bh = (3 + 0.5) * 16, (2 + 0.25) * 16, 16.0, np.e * 16
    assert np.allclose(d.boxes[0], [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2],
                       atol=1e-3)
    assert d.landmarks is not None
    assert np.allclose(d.landmarks[0, 0], [48, 32]) and np.allclose(d.landmarks[0, 4], [64, 48])


def test_registry_shares_one_session_per_detector() -> None:
    assert set(DETECTORS) >= {"centerface", "yunet"}
    a = get_detector("yunet", floor=0.3)
    b = get_detector("yunet", floor=0.1)
    assert a is b and a.floor <= 0.1                 # the shared floor only goes down
    assert Scanner(ScanSettings(detector="yunet")).detector is a
    assert Scanner(ScanSettings()).detector is get_detector("centerface")
    with pytest.raises(VeilError, match="unknown detector"):
        get_detector("nope")
    assert "CPUExecutionProvider" in ort.get_available_providers()


def test_settings_name_the_detector_and_old_plans_load() -> None:
    s = ScanSettings(detector="yunet", search="tiled")
    assert ScanSettings.from_dict(s.to_dict()) == s
    old = ScanSettings().to_dict()
    for key in ("detector", "search", "native_scale", "tile_side", "tile_overlap",
                "confirm_detector", "confirm_threshold"):
        old.pop(key)
    assert ScanSettings.from_dict(old) == ScanSettings()
    assert ScanSettings().detector == "centerface"
    with pytest.raises(ValueError, match="search"):
        ScanSettings(search="spiral")


def test_both_detectors_take_a_workers_share_of_the_cores() -> None:
    """A batch worker limits every detector it makes to its share of the cores: YuNet
    (the verifier's second family) once ran at onnxruntime's default, one spinning thread
    per core in every worker."""
    from veil.scan.base import set_default_threads
    from veil.scan.centerface import CenterFace

    set_default_threads(1)
    try:
        for det in (YuNet(), CenterFace(device="cpu")):
            assert det._session.get_session_options().intra_op_num_threads == 1
    finally:
        set_default_threads(None)


def test_detectors_follow_taskset_when_no_share_is_set() -> None:
    """Without a worker's share, a detector takes the cores this process may use: under
    ``taskset -c 0`` one thread (onnxruntime's own default, one pinned thread per
    physical core, ran veil on two cores under ``taskset -c 0``)."""
    import os

    from veil.scan.centerface import CenterFace

    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        for det in (YuNet(), CenterFace(device="cpu")):
            assert det._session.get_session_options().intra_op_num_threads == 1
    finally:
        os.sched_setaffinity(0, before)
