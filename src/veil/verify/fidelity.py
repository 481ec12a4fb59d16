"""Fidelity outside the masks: a checked video frame must keep its original's levels
wherever nothing was masked.

Masking changes pixels inside the mask regions only; everything else should be the
original again, give or take the codec's noise. A decoder, colour-range or matrix
mistake changes the whole picture instead (a full-range clip read as limited range
comes out with stretched levels: 1st/99th luma percentiles 53/177 became 44/188). For
each checked frame this compares the luma of the output with the original's outside
the masked pixels (grown by a margin, so the soft edge of a blur does not count):

- the mean level may move by at most :data:`MAX_MEAN_SHIFT`,
- the 1st and 99th percentiles by at most :data:`MAX_PERCENTILE_SHIFT`,
- the mean absolute difference may be at most :data:`MAX_MEAN_ABS` (codec noise is a
  few levels; another picture is tens).

Codec noise moves pixels both ways and leaves these figures almost still (a veil
output of a 720p clip at its capped bitrate: mean shift under 0.5, percentiles under
2). Frames with fewer than :data:`MIN_OUTSIDE` of their pixels outside the masks are
not judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

MAX_MEAN_SHIFT = 3.0  # levels of 255
MAX_PERCENTILE_SHIFT = 5.0
MAX_MEAN_ABS = 12.0
MIN_OUTSIDE = 0.05  # share of the frame
MARGIN = 0.015  # of the frame's longer side, grown around the masked pixels
MAX_LISTED = 5


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.709 luma of RGB ``uint8`` as float32 levels."""
    f = rgb.astype(np.float32)
    return 0.2126 * f[..., 0] + 0.7152 * f[..., 1] + 0.0722 * f[..., 2]


@dataclass
class FrameFidelity:
    """How one checked frame compares with its original outside the masks."""

    frame: int
    mean_shift: float
    low_shift: float  # 1st percentile, output minus original
    high_shift: float  # 99th percentile
    mean_abs: float
    outside: float  # share of the frame compared

    @property
    def ok(self) -> bool:
        return (abs(self.mean_shift) <= MAX_MEAN_SHIFT
                and abs(self.low_shift) <= MAX_PERCENTILE_SHIFT
                and abs(self.high_shift) <= MAX_PERCENTILE_SHIFT
                and self.mean_abs <= MAX_MEAN_ABS)

    def describe(self) -> str:
        return (f"frame {self.frame} changed outside its masks (levels moved by "
                f"{self.mean_shift:+.1f} on average, 1st/99th percentile by "
                f"{self.low_shift:+.0f}/{self.high_shift:+.0f}, mean difference "
                f"{self.mean_abs:.1f})")

    def to_dict(self) -> dict[str, Any]:
        return {"frame": self.frame, "mean_shift": round(self.mean_shift, 2),
                "p1_shift": round(self.low_shift, 2), "p99_shift": round(self.high_shift, 2),
                "mean_abs": round(self.mean_abs, 2), "outside": round(self.outside, 3)}


def compare(index: int, original: np.ndarray, output: np.ndarray,
            masked: np.ndarray) -> FrameFidelity | None:
    """Compare one frame outside ``masked`` (boolean, output size); ``None`` when too
    little of the frame is outside the masks (or the sizes differ)."""
    if original.shape != output.shape or masked.shape != output.shape[:2]:
        return None
    h, w = masked.shape
    grow = max(2, int(round(MARGIN * max(h, w))))
    if masked.any():
        kernel = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
        covered = cv2.dilate(masked.astype(np.uint8), kernel) > 0
    else:
        covered = masked
    outside = ~covered
    share = float(outside.mean())
    if share < MIN_OUTSIDE:
        return None
    a, b = luma(original)[outside], luma(output)[outside]
    pa = np.percentile(a, (1, 99))
    pb = np.percentile(b, (1, 99))
    return FrameFidelity(index, float(b.mean() - a.mean()), float(pb[0] - pa[0]),
                         float(pb[1] - pa[1]), float(np.abs(b - a).mean()), share)


@dataclass
class FidelityCheck:
    """Collects :func:`compare` over the checked frames of one video."""

    frames: list[FrameFidelity] = field(default_factory=list)

    def add(self, index: int, original: np.ndarray, output: np.ndarray,
            masked: np.ndarray) -> None:
        result = compare(index, original, output, masked)
        if result is not None:
            self.frames.append(result)

    @property
    def failed(self) -> list[FrameFidelity]:
        return [f for f in self.frames if not f.ok]

    def reasons(self) -> list[str]:
        bad = self.failed
        out = [f.describe() for f in bad[:MAX_LISTED]]
        if len(bad) > MAX_LISTED:
            out.append(f"... and {len(bad) - MAX_LISTED} more frames changed outside "
                       "their masks")
        return out

    def to_dict(self) -> dict[str, Any]:
        worst = max(self.frames, key=lambda f: abs(f.mean_shift), default=None)
        return {"frames_compared": len(self.frames), "frames_failed": len(self.failed),
                "worst": worst.to_dict() if worst is not None else None,
                "failed": [f.to_dict() for f in self.failed[:MAX_LISTED]]}
