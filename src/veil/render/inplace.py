"""Mask a decoded Y'CbCr frame in place: only the windows the masks touch go to RGB.

A frame that can pass through the writer as decoded (8-bit SDR 4:2:0 or a format that
becomes it with no level change, no rotation, no padding) is not turned into RGB as a
whole. The rectangles that the masks read and write (:func:`veil.render.masks.mask_tiles`:
each mask's window, the blur's context and a margin, aligned to whole chroma samples)
are converted to RGB with the stream's colour, masked exactly as
:func:`veil.render.masks.mask_regions` masks them on the whole frame, converted back,
and only the pixels the masks cover are written into the planes (luma where covered,
chroma where any of its four luma pixels is covered). Every other pixel keeps its
decoded value, so unmasked areas are not touched by a colour round trip at all.
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np

from veil.media.colour import Colour
from veil.media.video import SWS_THREADS  # one swscale thread: the same bytes everywhere
from veil.plan.record import Plan
from veil.render.masks import mask_tiles, paint_tiles

#: pixels around each mask's context that are converted with it, so that the chroma
#: interpolation at a tile's edge does not reach the pixels that are written back
TILE_MARGIN = 8


def yuv_planes(frame: Any) -> list[np.ndarray]:
    """Writable ``(height, width)`` views of a ``yuv420p`` frame's three planes."""
    return [np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width]
            for p in frame.planes]


class _Frames:
    """New frames of any size that carry a decoded frame's properties. swscale reads the
    chroma siting from the frame (FFmpeg 8: H.264's is "left"; a frame PyAV makes from
    an array has none and is read as another), so a window converted in a frame of its
    own must carry the decoded one's to give the pixels the whole frame gives."""

    def __init__(self, decoded: Any) -> None:
        self._seed = decoded.reformat(width=2, height=2, threads=SWS_THREADS)

    def new(self, fmt: str, width: int, height: int) -> Any:
        return self._seed.reformat(format=fmt, width=width, height=height,
                                   interpolation="POINT", threads=SWS_THREADS)

    def yuv(self, planes: list[np.ndarray]) -> Any:
        h, w = planes[0].shape
        frame = self.new("yuv420p", w, h)
        for dst, src in zip(yuv_planes(frame), planes, strict=True):
            dst[...] = src
        return frame

    def rgb(self, rgb: np.ndarray) -> Any:
        h, w = rgb.shape[:2]
        frame = self.new("rgb24", w, h)
        p = frame.planes[0]
        view = np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :3 * w]
        view[...] = rgb.reshape(h, 3 * w)
        return frame


def mask_frame_yuv(frame: Any, plan: Plan, index: int, colour: Colour,
                   rng: np.random.Generator | None = None) -> Any:
    """A new ``yuv420p`` frame: ``frame`` (``yuv420p``, as :meth:`Colour.passthrough`
    gives it) with the regions of frame ``index`` of ``plan`` masked (see the module
    docstring). ``frame`` itself is never modified: the decoder may still refer to it."""
    if frame.format.name != "yuv420p":
        raise ValueError(f"a yuv420p frame is needed, not {frame.format.name}")
    regions = plan.frame(index).active_regions()
    boxes = np.asarray([r.box for r in regions], dtype=np.float32).reshape(-1, 4)
    methods = [r.method for r in regions]
    h, w = frame.height, frame.width
    like = _Frames(frame)
    # the frame to encode: a copy (its chroma siting does not matter to the encoder)
    out = av.VideoFrame(w, h, "yuv420p")
    for dst, src in zip(yuv_planes(out), yuv_planes(frame), strict=True):
        dst[...] = src
    out.colorspace, out.color_range = frame.colorspace, frame.color_range
    if not len(boxes):
        return out
    planes = yuv_planes(out)
    tiles = mask_tiles((h, w), boxes, plan.mask, methods=methods, margin=TILE_MARGIN)
    cuts = [(slice(t.y1, t.y2), slice(t.x1, t.x2)) for t in tiles]
    halves = [(slice(t.y1 // 2, t.y2 // 2), slice(t.x1 // 2, t.x2 // 2)) for t in tiles]
    rgbs = [colour.to_rgb(like.yuv([planes[0][c], planes[1][hc], planes[2][hc]]),
                          threads=SWS_THREADS) for c, hc in zip(cuts, halves, strict=True)]
    covered = paint_tiles(rgbs, tiles, (h, w), boxes, plan.mask, rng, methods=methods,
                          seed=plan.media.sha256, frame_index=index)
    for rgb, cov, c, hc in zip(rgbs, covered, cuts, halves, strict=True):
        if not cov.any():
            continue
        back = yuv_planes(colour.yuv_of_rgb_frame(like.rgb(rgb), threads=SWS_THREADS))
        planes[0][c][cov] = back[0][cov]
        # a chroma sample is written when any of its four luma pixels is covered
        chroma = cov[0::2, 0::2] | cov[1::2, 0::2] | cov[0::2, 1::2] | cov[1::2, 1::2]
        planes[1][hc][chroma] = back[1][chroma]
        planes[2][hc][chroma] = back[2][chroma]
    return out
