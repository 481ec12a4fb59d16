"""Masking methods: strength follows face size; shapes, margins; the input is never touched."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from veil.render.masks import coverage_mask, mask_regions, mask_whole_frame
from veil.settings import MaskSettings


def textured(h: int, w: int, seed: int = 0, cell: int = 2) -> np.ndarray:
    """A picture of random ``cell``-pixel squares: detail at the scale of a face's features."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h // cell + 1, w // cell + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(
        cv2.resize(base, ((w // cell + 1) * cell, (h // cell + 1) * cell),
                   interpolation=cv2.INTER_NEAREST)[:h, :w])


def detail(pixels: np.ndarray, face: int) -> float:
    """Energy left above about 8 cycles across the face."""
    p = pixels.astype(np.float32)
    smooth = cv2.GaussianBlur(p, (0, 0), face / 16)
    return float((p - smooth).std())


@pytest.mark.parametrize("face", [24, 60, 200])
def test_blur_removes_detail_at_every_face_size(face: int) -> None:
    img = textured(face * 3, face * 3, cell=max(2, face // 10))
    box = np.array([[face, face, 2 * face, 2 * face]], np.float32)
    out = mask_regions(img, box, MaskSettings(method="blur", noise=0, margin=0, pad_px=0))
    inner = slice(face + face // 8, 2 * face - face // 8)
    assert detail(img[inner, inner], face) > 20
    assert detail(out[inner, inner], face) < 0.1 * detail(img[inner, inner], face)


def test_a_fixed_small_kernel_would_not_be_enough() -> None:
    """The strength relation matters: a kernel that is right for a 24 px face leaves a
    200 px face's detail (this is what a weak blur looks like)."""
    face = 200
    img = textured(face * 3, face * 3, cell=face // 10)
    box = np.array([[face, face, 2 * face, 2 * face]], np.float32)
    weak = MaskSettings(method="blur", noise=0, margin=0, pad_px=0, blur_ratio=0.6 * 24 / face)
    out = mask_regions(img, box, weak)
    inner = slice(face + 25, 2 * face - 25)
    assert detail(out[inner, inner], face) > 0.3 * detail(img[inner, inner], face)


@pytest.mark.parametrize("face", [30, 90, 240])
def test_pixelation_leaves_few_blocks_across_the_face(face: int) -> None:
    img = textured(face * 3, face * 3, seed=1)
    box = np.array([[face, face, 2 * face, 2 * face]], np.float32)
    s = MaskSettings(method="pixelate", margin=0, pad_px=0, shape="box")
    out = mask_regions(img, box, s)
    row = out[face + face // 2, face:2 * face].astype(int)
    changes = int((np.abs(np.diff(row, axis=0)).sum(axis=1) > 0).sum())
    assert changes <= s.pixel_blocks + 1


def test_solid_fill_and_coverage_agree() -> None:
    img = textured(120, 160)
    boxes = np.array([[10, 20, 50, 70], [120, 60, 170, 130]], np.float32)  # second runs off
    for shape in ("ellipse", "box"):
        s = MaskSettings(method="solid", shape=shape, color=(255, 0, 255))  # type: ignore[arg-type]
        out = mask_regions(img, boxes, s)
        changed = (out != img).any(axis=2)
        cov = coverage_mask(img.shape[:2], boxes, s)
        assert (changed & ~cov).sum() == 0
        assert (out[cov] == (255, 0, 255)).all()


def test_ellipse_leaves_corners_box_does_not() -> None:
    img = textured(100, 100)
    box = np.array([[20, 20, 80, 80]], np.float32)
    ell = mask_regions(img, box, MaskSettings(method="solid", shape="ellipse", margin=0,
                                              pad_px=0))
    sq = mask_regions(img, box, MaskSettings(method="solid", shape="box", margin=0, pad_px=0))
    assert (ell[21, 21] == img[21, 21]).all() and (sq[21, 21] == 0).all()
    assert (ell[50, 50] == 0).all()


def test_margin_and_pad_grow_the_mask() -> None:
    box = np.array([[40, 40, 60, 60]], np.float32)
    tight = coverage_mask((100, 100), box, MaskSettings(shape="box", margin=0, pad_px=0)).sum()
    padded = coverage_mask((100, 100), box, MaskSettings(shape="box", margin=0, pad_px=2)).sum()
    grown = coverage_mask((100, 100), box, MaskSettings(shape="box", margin=0.25,
                                                        pad_px=0)).sum()
    assert tight == 400 and padded == 24 * 24 and grown == 30 * 30


def test_input_is_never_modified_and_whole_frame_fails_closed() -> None:
    img = textured(64, 64)
    before = img.copy()
    for method in ("solid", "pixelate", "blur"):
        mask_regions(img, np.array([[8, 8, 40, 40]], np.float32),
                     MaskSettings(method=method))  # type: ignore[arg-type]
    assert (img == before).all()
    assert (mask_whole_frame(img, MaskSettings()) == 0).all()


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        MaskSettings(method="smudge")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MaskSettings(pixel_blocks=0)
