"""Render a still-image plan onto its pixels."""

from __future__ import annotations

import numpy as np

from veil.errors import VeilError
from veil.plan.record import Plan
from veil.render.masks import mask_regions, mask_whole_frame


def render_still(pixels: np.ndarray, plan: Plan,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Return a masked copy of ``pixels`` (upright RGB uint8) following frame 0 of ``plan``.

    Released regions are left alone; a frame marked ``mask_whole`` becomes a flat fill.
    The input array is never modified. Raises :class:`VeilError` when the picture's
    size differs from the one the plan was made for.
    """
    h, w = pixels.shape[:2]
    if (w, h) != (plan.media.width, plan.media.height):
        raise VeilError(f"plan is for a {plan.media.width}x{plan.media.height} image, "
                        f"this one is {w}x{h}")
    frame = plan.frame(0)
    if frame.mask_whole:
        return mask_whole_frame(pixels, plan.mask)
    return mask_regions(pixels, frame.active_boxes(), plan.mask, rng)
