"""Render a still-image plan onto its pixels (and one planned frame, for video too)."""

from __future__ import annotations

import numpy as np

from veil.errors import VeilError
from veil.plan.record import Plan
from veil.render.masks import mask_regions, mask_whole_frame


def mask_planned(pixels: np.ndarray, plan: Plan, index: int,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """A copy of ``pixels`` with the masked regions of frame ``index`` of ``plan`` masked,
    each with its own method (``Region.method``, else the plan's), the noise seeded by the
    original's SHA-256, the frame and the region: the same plan always renders the same
    pixels. ``mask_whole`` is the caller's to handle."""
    regions = plan.frame(index).active_regions()
    boxes = np.asarray([r.box for r in regions], dtype=np.float32).reshape(-1, 4)
    return mask_regions(pixels, boxes, plan.mask, rng, methods=[r.method for r in regions],
                        seed=plan.media.sha256, frame_index=index)


def render_still(pixels: np.ndarray, plan: Plan,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Return a masked copy of ``pixels`` (upright RGB uint8) following frame 0 of ``plan``.

    Released and deleted regions are left alone; a frame marked ``mask_whole`` becomes a
    flat fill. The input array is never modified. Raises :class:`VeilError` when the
    picture's size differs from the one the plan was made for.
    """
    h, w = pixels.shape[:2]
    if (w, h) != (plan.media.width, plan.media.height):
        raise VeilError(f"plan is for a {plan.media.width}x{plan.media.height} image, "
                        f"this one is {w}x{h}")
    frame = plan.frame(0)
    if frame.mask_whole:
        return mask_whole_frame(pixels, plan.mask)
    return mask_planned(pixels, plan, 0, rng)
