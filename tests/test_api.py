"""The Python API: ``veil.anonymize_image`` and ``veil.anonymize_file``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import veil
from conftest import face_box, read_rgb, save


def _inside(box: np.ndarray, outer: tuple[int, int, int, int], slack: float = 8) -> bool:
    x1, y1, x2, y2 = outer
    return bool(box[0] <= x1 + slack and box[1] <= y1 + slack and box[2] >= x2 - slack
                and box[3] >= y2 - slack)


def test_version() -> None:
    assert isinstance(veil.__version__, str) and veil.__version__[0].isdigit()


def test_anonymize_image_masks_and_leaves_input_alone(small_astronaut: np.ndarray) -> None:
    original = small_astronaut.copy()
    masked, faces = veil.anonymize_image(small_astronaut)
    assert (small_astronaut == original).all()
    assert masked.shape == small_astronaut.shape and masked.dtype == np.uint8
    assert isinstance(faces, veil.Detections) and len(faces) == 1
    assert _inside(faces.boxes[0], face_box(256))
    x1, y1, x2, y2 = face_box(256)
    diff = np.abs(masked[y1:y2, x1:x2].astype(int) - original[y1:y2, x1:x2].astype(int))
    assert diff.mean() > 15


@pytest.mark.parametrize("method", ["solid", "pixelate", "blur"])
def test_anonymize_image_methods(small_astronaut: np.ndarray, method: str) -> None:
    masked, faces = veil.anonymize_image(small_astronaut, method=method, shape="box",
                                         margin=0.0)
    x1, y1, x2, y2 = (int(v) for v in faces.boxes[0])
    region = masked[y1:y2, x1:x2]
    if method == "solid":
        assert (region == 0).all()
    else:
        assert np.abs(region.astype(int) - small_astronaut[y1:y2, x1:x2].astype(int)).mean() > 10
    assert (masked[:, : x1 - 1] == small_astronaut[:, : x1 - 1]).all()


def test_anonymize_image_threshold_and_settings(small_astronaut: np.ndarray) -> None:
    strict = veil.ScanSettings(threshold=0.99, support_ratio=1.0)
    _, none_found = veil.anonymize_image(small_astronaut, scan=strict)
    assert len(none_found) == 0
    settings = veil.MaskSettings(method="solid", color=(255, 0, 0))
    masked, faces = veil.anonymize_image(small_astronaut, mask=settings, shape="box")
    x1, y1, x2, y2 = (int(v) for v in faces.boxes[0])
    assert (masked[(y1 + y2) // 2, (x1 + x2) // 2] == (255, 0, 0)).all()


def test_anonymize_image_rejects_bad_arrays() -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        veil.anonymize_image(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="uint8 RGB"):
        veil.anonymize_image(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="unknown mask method"):
        veil.anonymize_image(np.zeros((10, 10, 3), np.uint8), method="smudge")  # type: ignore[arg-type]


def test_anonymize_file(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "me.png")
    result = veil.anonymize_file(src, tmp_path / "out" / "me.png", method="pixelate")
    assert isinstance(result, veil.FileResult)
    assert result.ok and result.faces == 1 and result.kind == "image"
    assert read_rgb(result.output).shape == small_astronaut.shape  # type: ignore[arg-type]
    assert result.plan is not None and result.plan.mask.method == "pixelate"
    again = veil.anonymize_file(src, tmp_path / "out" / "me.png")
    assert not again.ok and "exists" in (again.error or "")


def test_anonymize_file_bad_input_is_a_result_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "zero.jpg").write_bytes(b"")
    result = veil.anonymize_file(tmp_path / "zero.jpg", tmp_path / "out" / "zero.jpg")
    assert not result.ok and result.error
    assert not (tmp_path / "out" / "zero.jpg").exists()


def test_api_errors_name_the_keyword_not_the_option(tmp_path: Path,
                                                     small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "x.png")
    dst = tmp_path / "out" / "x.png"
    dst.parent.mkdir()
    dst.write_bytes(b"old")
    result = veil.anonymize_file(src, dst)
    assert not result.ok and "overwrite=True" in (result.error or "")
    assert "--overwrite" not in (result.error or "") and dst.read_bytes() == b"old"
    result = veil.anonymize_file(src, dst, overwrite=True)
    assert result.ok and result.faces == 1 and result.regions == 1
