"""Masking methods: make the pixels of each region unrecognisable.

Strength always scales with the face: a blur kernel is a fraction of the face
width, pixelation leaves a fixed number of blocks across the face, so that a
large face is not left recognisable by a fixed-size kernel.

Rendering is deterministic: the blur's noise comes from a generator seeded by a key (the
plan passes the original file's SHA-256), the frame number and the region's rounded box
(:func:`region_seed`), so the same input and settings give the same bytes, and so the
same verdict, every time; a different file gets different noise.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from veil.settings import MaskSettings


def expand_boxes(boxes: np.ndarray, margin: float, pad_px: float = 0.0) -> np.ndarray:
    """Grow ``(N,4)`` xyxy boxes by ``margin`` x width/height plus ``pad_px`` on each side."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    out = boxes.copy()
    out[:, 0] -= margin * w + pad_px
    out[:, 2] += margin * w + pad_px
    out[:, 1] -= margin * h + pad_px
    out[:, 3] += margin * h + pad_px
    return out


def _shape_mask(h: int, w: int, shape: str) -> np.ndarray:
    """Boolean ``(h, w)`` mask of an ellipse inscribed in the box, or the whole box."""
    if shape == "box" or h < 3 or w < 3:
        return np.ones((h, w), dtype=bool)
    yy, xx = np.ogrid[:h, :w]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    ry, rx = h / 2.0, w / 2.0
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _placed_shape(grown: np.ndarray, fw: int, fh: int,
                  shape: str) -> tuple[int, int, int, int, np.ndarray] | None:
    """Integer window ``x1, y1, x2, y2`` of a grown box inside the frame, and its shape mask.

    The shape is laid over the full grown box and then cut to the frame, so a face at
    the border keeps its ellipse rather than getting a squashed one.
    """
    fx1, fy1 = int(math.floor(grown[0])), int(math.floor(grown[1]))
    fx2, fy2 = int(math.ceil(grown[2])), int(math.ceil(grown[3]))
    x1, y1, x2, y2 = max(0, fx1), max(0, fy1), min(fw, fx2), min(fh, fy2)
    if x2 <= x1 or y2 <= y1:
        return None
    full = _shape_mask(fy2 - fy1, fx2 - fx1, shape)
    return x1, y1, x2, y2, full[y1 - fy1:y2 - fy1, x1 - fx1:x2 - fx1]


def _odd(n: float) -> int:
    k = max(3, int(math.ceil(n)))
    return k if k % 2 == 1 else k + 1


def _pixelate(roi: np.ndarray, face_width: float, blocks: int) -> np.ndarray:
    h, w = roi.shape[:2]
    block = max(1.0, face_width / blocks)
    small_w = max(1, int(round(w / block)))
    small_h = max(1, int(round(h / block)))
    small = cv2.resize(roi, (small_w, small_h), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def _blur_pad(face_width: float, settings: MaskSettings) -> int:
    """Pixels of context around a region that its blur reads (half its kernel, plus one)."""
    return _odd(settings.blur_ratio * face_width) // 2 + 1


def _blur(frame: np.ndarray, x1: int, y1: int, x2: int, y2: int, face_width: float,
          settings: MaskSettings, rng: np.random.Generator) -> np.ndarray:
    """Blur of the region ``[y1:y2, x1:x2]`` computed with context around it, plus noise."""
    k = _odd(settings.blur_ratio * face_width)
    pad = _blur_pad(face_width, settings)
    fh, fw = frame.shape[:2]
    px1, py1 = max(0, x1 - pad), max(0, y1 - pad)
    px2, py2 = min(fw, x2 + pad), min(fh, y2 + pad)
    patch = frame[py1:py2, px1:px2]
    # Downscale first: a large kernel on a small image is the same blur, far cheaper,
    # and it discards the fine detail outright rather than only attenuating it.
    f = max(1.0, k / 15.0)
    if f > 1.0:
        sw = max(1, int(round((px2 - px1) / f)))
        sh = max(1, int(round((py2 - py1) / f)))
        small = cv2.resize(patch, (sw, sh), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (_odd(k / f), _odd(k / f)), 0)
        blurred = cv2.resize(small, (px2 - px1, py2 - py1), interpolation=cv2.INTER_LINEAR)
    else:
        blurred = cv2.GaussianBlur(patch, (k, k), 0)
    out = blurred[y1 - py1:y2 - py1, x1 - px1:x2 - px1].astype(np.float32)
    if settings.noise > 0:
        out += rng.normal(0.0, settings.noise, size=out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def region_seed(key: str, frame: int, box: Sequence[float]) -> int:
    """The noise seed of one region: SHA-256 of ``key`` (the original's SHA-256), the
    frame number and the box rounded to whole pixels."""
    rounded = ",".join(str(int(round(float(v)))) for v in box)
    digest = hashlib.sha256(f"{key}|{int(frame)}|{rounded}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def mask_regions(frame: np.ndarray, boxes: np.ndarray, settings: MaskSettings,
                 rng: np.random.Generator | None = None, *,
                 methods: Sequence[str | None] | None = None, seed: str = "",
                 frame_index: int = 0) -> np.ndarray:
    """Return a copy of ``frame`` (RGB uint8) with every face box masked.

    ``boxes`` are face boxes (``(N,4)`` xyxy); the settings' margin is added here.
    ``methods[i]`` is box ``i``'s own mask method (``None``: ``settings.method``).
    Noise is drawn from ``rng`` when one is given, otherwise from a generator seeded per
    region by :func:`region_seed` (``seed``, ``frame_index``, the box): the same call
    always gives the same pixels. The input frame is never modified.
    """
    out = np.array(frame, copy=True)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        return out
    fh, fw = out.shape[:2]
    whole = Tile(0, 0, fw, fh, tuple(range(len(boxes))))
    paint_tiles([out], [whole], (fh, fw), boxes, settings, rng, methods=methods, seed=seed,
                frame_index=frame_index)
    return out


@dataclass(frozen=True)
class Tile:
    """A rectangle ``[y1:y2, x1:x2]`` of a frame holding everything that the masks of
    the boxes ``members`` read and write (see :func:`mask_tiles`)."""

    x1: int
    y1: int
    x2: int
    y2: int
    members: tuple[int, ...]


def _method(methods: Sequence[str | None] | None, i: int, settings: MaskSettings) -> str:
    return (methods[i] if methods is not None else None) or settings.method


def _face_width(box: np.ndarray) -> float:
    # Strength follows the larger side of the face box.
    return float(max(box[2] - box[0], box[3] - box[1]))


def paint_tiles(tiles_px: Sequence[np.ndarray], tiles: Sequence[Tile], shape_hw: tuple[int, int],
                boxes: np.ndarray, settings: MaskSettings,
                rng: np.random.Generator | None = None, *,
                methods: Sequence[str | None] | None = None, seed: str = "",
                frame_index: int = 0) -> list[np.ndarray]:
    """Mask, in place, the RGB pixels ``tiles_px[t]`` of the frame rectangles ``tiles[t]``
    of an ``(H, W)`` frame exactly as :func:`mask_regions` masks the whole frame there:
    the geometry is worked out on the whole frame, the boxes are painted in the same
    order (largest first) with the same noise. Each box is painted onto the tile that
    lists it, which must hold its mask and the context its mask reads (as the tiles
    of :func:`mask_tiles` do). Returns, per tile, the boolean mask of the pixels that
    the masks cover (the pixels that may have changed)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if methods is not None and len(methods) != len(boxes):
        raise ValueError("one method per box, or none")
    fh, fw = shape_hw
    covered = [np.zeros(px.shape[:2], dtype=bool) for px in tiles_px]
    home = {i: t for t, tile in enumerate(tiles) for i in tile.members}
    grown = expand_boxes(boxes, settings.margin, settings.pad_px)
    # Largest first, so a small face inside a large one is still masked on top.
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]))
    for i in order:
        face_w = _face_width(boxes[i])
        placed = _placed_shape(grown[i], fw, fh, settings.shape)
        if placed is None or int(i) not in home:
            continue
        t = home[int(i)]
        tile, px = tiles[t], tiles_px[t]
        x1, y1, x2, y2, sel = placed
        # integer shifts into the tile: the same pixels, the same context
        x1, x2, y1, y2 = x1 - tile.x1, x2 - tile.x1, y1 - tile.y1, y2 - tile.y1
        covered[t][y1:y2, x1:x2] |= sel
        roi = px[y1:y2, x1:x2]
        method = _method(methods, int(i), settings)
        if method == "solid":
            roi[sel] = np.array(settings.color, dtype=np.uint8)
            continue
        if method == "pixelate":
            masked = _pixelate(roi, face_w, settings.pixel_blocks)
        else:
            gen = rng or np.random.default_rng(region_seed(seed, frame_index, boxes[i]))
            masked = _blur(px, x1, y1, x2, y2, face_w, settings, gen)
        roi[sel] = masked[sel]
    return covered


def _reach(x1: int, y1: int, x2: int, y2: int, face_w: float, method: str,
           settings: MaskSettings) -> tuple[int, int, int, int]:
    """The rectangle a mask on ``[y1:y2, x1:x2]`` reads (the blur reads around it)."""
    if method in ("solid", "pixelate"):
        return x1, y1, x2, y2
    pad = _blur_pad(face_w, settings)
    return x1 - pad, y1 - pad, x2 + pad, y2 + pad


def mask_tiles(shape_hw: tuple[int, int], boxes: np.ndarray, settings: MaskSettings, *,
               methods: Sequence[str | None] | None = None, margin: int = 8,
               align: int = 2) -> list[Tile]:
    """Disjoint rectangles of an ``(H, W)`` frame, together holding every pixel that
    :func:`mask_regions` reads or writes for ``boxes``, each grown by ``margin`` pixels
    (context for a colour conversion of the tile alone), cut to the frame and aligned to
    ``align`` (2: whole 4:2:0 chroma samples). Rectangles that overlap are merged, so a
    mask never reads pixels another tile's masks write. Boxes wholly outside the frame
    belong to no tile."""
    h, w = shape_hw
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    grown = expand_boxes(boxes, settings.margin, settings.pad_px)
    rects: list[list[int]] = []  # x1, y1, x2, y2, then member indices
    for i, g in enumerate(grown):
        placed = _placed_shape(g, w, h, settings.shape)
        if placed is None:
            continue
        x1, y1, x2, y2 = _reach(*placed[:4], _face_width(boxes[i]), _method(methods, i, settings),
                                settings)
        x1 = max(0, (x1 - margin) // align * align)
        y1 = max(0, (y1 - margin) // align * align)
        x2 = min(w, -(-(x2 + margin) // align) * align)
        y2 = min(h, -(-(y2 + margin) // align) * align)
        rects.append([x1, y1, x2, y2, i])
    merged = True
    while merged:
        merged = False
        for a in range(len(rects)):
            for b in range(a + 1, len(rects)):
                ra, rb = rects[a], rects[b]
                if ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]:
                    rects[a] = [min(ra[0], rb[0]), min(ra[1], rb[1]), max(ra[2], rb[2]),
                                max(ra[3], rb[3])] + ra[4:] + rb[4:]
                    del rects[b]
                    merged = True
                    break
            if merged:
                break
    return [Tile(r[0], r[1], r[2], r[3], tuple(sorted(r[4:]))) for r in rects]


def mask_whole_frame(frame: np.ndarray, settings: MaskSettings) -> np.ndarray:
    """Fail-closed masking: the whole frame becomes a flat fill."""
    out = np.empty_like(frame)
    out[...] = np.array(settings.color, dtype=frame.dtype)
    return out


def mask_windows(shape_hw: tuple[int, int], boxes: np.ndarray, settings: MaskSettings
                 ) -> list[tuple[tuple[slice, slice], np.ndarray]]:
    """For each face box, the window of an ``(H, W)`` frame that its mask touches and the
    boolean mask inside that window (the pixels :func:`mask_regions` changes there).
    Boxes wholly outside the frame are left out."""
    h, w = shape_hw
    grown = expand_boxes(np.asarray(boxes, dtype=np.float32).reshape(-1, 4), settings.margin,
                         settings.pad_px)
    out = []
    for g in grown:
        placed = _placed_shape(g, w, h, settings.shape)
        if placed is not None:
            x1, y1, x2, y2, sel = placed
            out.append(((slice(y1, y2), slice(x1, x2)), sel))
    return out


def coverage_mask(shape_hw: tuple[int, int], boxes: np.ndarray,
                  settings: MaskSettings) -> np.ndarray:
    """Boolean ``(H, W)`` mask of the pixels :func:`mask_regions` would change."""
    cov = np.zeros(shape_hw, dtype=bool)
    for win, sel in mask_windows(shape_hw, boxes, settings):
        cov[win] |= sel
    return cov
