"""dlib's face-recognition ResNet on onnxruntime (veil.verify.resnet_onnx) against dlib's
own ``compute_face_descriptor``, which stays here as the reference only."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from veil.render.masks import mask_regions
from veil.settings import MaskSettings
from veil.verify import recognition, resnet_onnx
from veil.verify.recognition import RESNET_MODEL, SHAPE_MODEL, model_dir
from veil.verify.resnet_onnx import ResnetEmbedder, ResnetFormatError, read_dat
from verify_media import FACE_BOX, astronaut

dlib = pytest.importorskip("dlib")

#: The largest difference allowed between one of the 128 values of dlib and onnxruntime,
#: and between the distances of two chips; both are float32 sums over the same weights in
#: another order (measured on the chips below: 2.0e-6 and 2.6e-6).
TOLERANCE = 1e-5


@functools.lru_cache(maxsize=1)
def reference_net():
    return dlib.face_recognition_model_v1(str(model_dir() / RESNET_MODEL))


@functools.lru_cache(maxsize=1)
def embedder() -> ResnetEmbedder:
    return ResnetEmbedder(model_dir() / RESNET_MODEL, threads=1)


def dlib_embedding(chip: np.ndarray) -> np.ndarray:
    return np.asarray(reference_net().compute_face_descriptor(chip), dtype=np.float64)


def face_chips() -> list[np.ndarray]:
    """Aligned chips of real faces: every face dlib's HOG detector finds in the demo's group
    picture (the astronaut at several sizes and angles), the astronaut's face whole and
    masked by veil's blur, pixelation and solid fill, then random and uniform chips."""
    from PIL import Image

    from veil.demo import group_picture

    predictor = dlib.shape_predictor(str(model_dir() / SHAPE_MODEL))
    chips = []
    group = np.asarray(group_picture(Image.fromarray(astronaut())).convert("RGB"))
    faces = dlib.get_frontal_face_detector()(group, 1)
    assert len(faces) >= 3
    for rect in faces:
        chips.append(dlib.get_face_chip(group, predictor(group, rect), size=150, padding=0.25))
    img = astronaut()
    rect = dlib.rectangle(*(round(v) for v in FACE_BOX))
    landmarks = predictor(img, rect)
    boxes = np.asarray([FACE_BOX], np.float32)
    for settings in (None, MaskSettings(blur_ratio=0.15), MaskSettings(),
                     MaskSettings(method="pixelate"), MaskSettings(method="solid")):
        out = img if settings is None else mask_regions(img, boxes, settings,
                                                        np.random.default_rng(0))
        chips.append(dlib.get_face_chip(out, landmarks, size=150, padding=0.25))
    rng = np.random.default_rng(15)
    chips += [rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(3)]
    chips += [np.full((150, 150, 3), v, np.uint8) for v in (0, 255)]
    return chips


@pytest.mark.slow
def test_onnxruntime_gives_dlibs_descriptors():
    chips = face_chips()
    ours = np.array([embedder().embed(c) for c in chips])
    ref = np.array([dlib_embedding(c) for c in chips])
    assert np.abs(ours - ref).max() < TOLERANCE
    assert np.abs(ref).max() > 0.1  # the comparison is of real values, not of zeros
    for i, j in itertools.combinations(range(len(chips)), 2):
        d_ours = np.linalg.norm(ours[i] - ours[j])
        d_ref = np.linalg.norm(ref[i] - ref[j])
        assert abs(d_ours - d_ref) < TOLERANCE


def test_the_same_chip_gives_the_same_bytes():
    chip = np.random.default_rng(3).integers(0, 256, (150, 150, 3), dtype=np.uint8)
    first = embedder().embed(chip)
    assert first.dtype == np.float64 and first.shape == (128,)
    again = ResnetEmbedder(model_dir() / RESNET_MODEL, threads=1).embed(chip.copy())
    assert first.tobytes() == embedder().embed(chip).tobytes() == again.tobytes()


def test_a_chip_of_another_shape_is_refused():
    with pytest.raises(ValueError):
        embedder().embed(np.zeros((112, 112, 3), np.uint8))
    with pytest.raises(ValueError):
        embedder().embed(np.zeros((150, 150, 3), np.float32))


def test_the_reader_reads_the_whole_network():
    layers = read_dat((model_dir() / RESNET_MODEL).read_bytes())
    resnet_onnx.build_onnx(layers, check=True)  # a valid ONNX model
    convs = [la for la in layers if la.kind == "con"]
    assert len(convs) == 29 and convs[0].values["weight"].shape == (32, 3, 7, 7)
    assert [la.kind for la in layers].count("add_prev") == 14
    assert layers[-1].values["weight"].shape == (256, 128)
    assert np.allclose(layers[0].values["mean"], (122.782, 117.001, 104.298), atol=1e-3)


def test_a_file_of_another_shape_is_refused(tmp_path):
    data = (model_dir() / RESNET_MODEL).read_bytes()
    with pytest.raises(ResnetFormatError, match="ends early"):
        read_dat(data[: len(data) // 2])
    with pytest.raises(ResnetFormatError, match="left after"):
        read_dat(data + b"\0")
    with pytest.raises(ResnetFormatError, match="expected layer"):
        read_dat(data.replace(b"relu_", b"relU_", 1))
    bad = tmp_path / RESNET_MODEL
    bad.write_bytes(data.replace(b"\x05con_4", b"\x05con_5", 1))
    with pytest.raises(ResnetFormatError):
        ResnetEmbedder(bad)


def test_verification_embeds_without_dlibs_network(monkeypatch):
    """The runtime path never runs dlib's own (slow) ResNet: only its landmarks and chip."""
    recognition._models.cache_clear()

    def refuse(*args, **kwargs):
        raise AssertionError("dlib's ResNet was loaded")

    monkeypatch.setattr(dlib, "face_recognition_model_v1", refuse)
    try:
        img = astronaut()
        flat = img.copy()
        x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
        flat[y1 - 10:y2 + 10, x1 - 10:x2 + 10] = 128
        near, far = recognition.reid_distances(img, [img, flat], FACE_BOX)
        assert near == 0.0 and far > recognition.reid_threshold()
        assert isinstance(recognition._models()[1], resnet_onnx.ResnetEmbedder)
    finally:
        recognition._models.cache_clear()
