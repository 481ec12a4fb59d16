"""The faceless-texture collateral benchmark: its pictures and its count."""

from __future__ import annotations

import numpy as np

from benchmarks import texture
from veil.detections import Detections


def test_blossoms_deterministic_and_many_round_objects() -> None:
    a = texture.blossoms(seed=3)
    assert a.shape == (768, 1024, 3) and a.dtype == np.uint8
    assert np.array_equal(a, texture.blossoms(seed=3))
    assert not np.array_equal(a, texture.blossoms(seed=4))
    lilac = (a[..., 2] > a[..., 1] + 40) & (a[..., 0] > a[..., 1])
    assert 0.05 < lilac.mean() < 0.6  # flowers over foliage, not one or the other


def test_pictures_are_rgb() -> None:
    pics = texture.pictures(256)
    assert set(pics) == {"blossoms", *texture.SKIMAGE_PICTURES}
    for name in ("blossoms", "coins"):
        pixels = pics[name]()
        assert pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8, name


class _Counting:
    def __init__(self, n: int) -> None:
        self.n = n

    def scan(self, pixels: np.ndarray) -> Detections:
        boxes = [[i, i, i + 10, i + 10] for i in range(self.n)]
        return Detections(boxes, [0.9] * self.n) if self.n else Detections.empty()


def test_count_is_what_the_scan_finds() -> None:
    pixels = texture.blossoms(96, 128)
    assert texture.count_regions(_Counting(0), pixels) == 0  # type: ignore[arg-type]
    assert texture.count_regions(_Counting(5), pixels) == 5  # type: ignore[arg-type]


def test_run_reports_each_picture() -> None:
    results = texture.run(side=256, names=["blossoms", "coins"])
    assert set(results) == {"blossoms", "coins"}
    assert results["blossoms"]["size"] == [256, 192]
    assert all(isinstance(r["regions"], int) and r["regions"] >= 0 for r in results.values())
