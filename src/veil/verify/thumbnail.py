"""A small picture of what was checked, made from the OUTPUT only.

Masked regions are outlined in green. Residual faces and re-identifiable faces are
covered by a flat fill and outlined in red: they are pixels of a real face that the
output still shows, and a report must not carry them a second time. No pixel of the
original ever goes into a thumbnail.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

THUMB_SIDE = 256
MASK_COLOUR = (0, 200, 70)
ALERT_COLOUR = (230, 30, 30)
COVER_COLOUR = (60, 60, 60)
ALERT_GROW = 0.15  # a detector box is tight: cover hair line and chin too


def output_thumbnail(output: np.ndarray, masked: np.ndarray,
                     alerts: list[tuple[float, float, float, float]],
                     side: int = THUMB_SIDE) -> bytes:
    """JPEG bytes: ``output`` (RGB uint8) scaled to at most ``side`` px, masked regions
    (boolean ``(H, W)``) outlined, ``alerts`` (xyxy boxes) covered and outlined."""
    h, w = output.shape[:2]
    scale = min(1.0, side / max(h, w))
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    thumb = cv2.resize(output, (tw, th), interpolation=cv2.INTER_AREA)
    if masked is not None and masked.any():
        small = cv2.resize(masked.astype(np.uint8), (tw, th), interpolation=cv2.INTER_NEAREST)
        edge = small.astype(bool) & ~cv2.erode(small, np.ones((3, 3), np.uint8)).astype(bool)
        thumb[edge] = MASK_COLOUR
    for box in alerts:
        bx1, by1, bx2, by2 = (float(v) for v in box)
        gw, gh = ALERT_GROW * (bx2 - bx1), ALERT_GROW * (by2 - by1)
        x1, y1, x2, y2 = (int(round(v * scale)) for v in (bx1 - gw, by1 - gh, bx2 + gw, by2 + gh))
        # Cover one thumbnail pixel beyond the box, so resampling cannot leak its edge.
        x1, y1 = max(0, x1 - 1), max(0, y1 - 1)
        x2, y2 = min(tw - 1, x2 + 1), min(th - 1, y2 + 1)
        cv2.rectangle(thumb, (x1, y1), (x2, y2), COVER_COLOUR, thickness=-1)
        cv2.rectangle(thumb, (x1, y1), (x2, y2), ALERT_COLOUR, thickness=1)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(thumb)).save(buf, format="JPEG", quality=80)
    return buf.getvalue()
