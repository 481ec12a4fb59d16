"""What a tool changed: the black-box mask of ../shared/METRICS.md.

Pixels where any channel differs by more than 12 between the original and the output,
closed twice with a 3x3 structuring element, holes filled. The verifier uses it to
find the masked regions of another tool's output; the benchmarks judge every tool by it.
"""

from __future__ import annotations

import cv2
import numpy as np

CHANGE_THRESHOLD = 12


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Set every background pixel not 4-connected to the border (a hole) in a boolean mask."""
    h, w = mask.shape
    background = np.ones((h + 2, w + 2), np.uint8)
    background[1:-1, 1:-1] = ~mask
    cv2.floodFill(background, None, (0, 0), 0, flags=4)  # outside reached from the border
    return mask | background[1:-1, 1:-1].astype(bool)


def black_box_mask(original: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Boolean ``(H, W)`` mask of what a tool changed between two same-size images."""
    if original.shape != output.shape:
        raise ValueError(f"size differs: original {original.shape}, output {output.shape}")
    diff = np.abs(original.astype(np.int16) - output.astype(np.int16))
    if diff.ndim == 3:
        diff = diff.max(axis=2)
    changed = (diff > CHANGE_THRESHOLD).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    closed = cv2.morphologyEx(changed, cv2.MORPH_CLOSE, kernel, iterations=2)
    return fill_holes(closed.astype(bool))
