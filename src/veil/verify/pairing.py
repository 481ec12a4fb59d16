"""Is this output a masked copy of this original? The check ``veil verify`` makes when it
has no plan.

Without a plan, the masked regions are the pixels that differ between the two files
(:func:`veil.verify.blackbox.black_box_mask`), and the other checks look only outside
them. Given two unrelated pictures, nearly every pixel differs, so nearly everything
counts as "masked" and an unmasked crowd would pass. Two things give that away:

- the shapes differ: an output may be scaled, but not cropped or turned, so its aspect
  ratio must be the original's within :data:`MAX_ASPECT_CHANGE`;
- most of the picture changed: over :data:`MAX_CHANGED` of a checked frame, on most of
  the checked frames. A masked copy changes its faces and a margin around them; even a
  close portrait masked to the chin leaves the background. When so much changed, either
  the pairing is wrong or the masks cover so much that nothing in them can be checked,
  and the file fails either way (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_ASPECT_CHANGE = 0.02  # relative
MAX_CHANGED = 0.8  # share of a checked frame


@dataclass
class PairingCheck:
    """Collects the checked frames of one pair judged without a plan."""

    original_size: tuple[int, int] | None = None  # (width, height)
    output_size: tuple[int, int] | None = None
    changed: list[float] = field(default_factory=list)  # share of each checked frame

    def add(self, original_shape: tuple[int, ...], output_shape: tuple[int, ...],
            masked: np.ndarray) -> None:
        """One checked frame: the two frames' shapes (before any resizing) and the
        changed pixels (output size)."""
        if self.original_size is None:
            self.original_size = (int(original_shape[1]), int(original_shape[0]))
            self.output_size = (int(output_shape[1]), int(output_shape[0]))
        self.changed.append(float(masked.mean()) if masked.size else 0.0)

    def _aspect_differs(self) -> bool:
        if self.original_size is None or self.output_size is None:
            return False
        (w0, h0), (w1, h1) = self.original_size, self.output_size
        a0, a1 = w0 / max(1, h0), w1 / max(1, h1)
        return abs(a1 - a0) / a0 > MAX_ASPECT_CHANGE

    def _mostly_changed(self) -> bool:
        over = sum(share > MAX_CHANGED for share in self.changed)
        return bool(self.changed) and 2 * over > len(self.changed)

    @property
    def failed(self) -> bool:
        return bool(self.reasons())

    def reasons(self) -> list[str]:
        out: list[str] = []
        if self._aspect_differs():
            assert self.original_size is not None and self.output_size is not None
            (w0, h0), (w1, h1) = self.original_size, self.output_size
            out.append(f"the output ({w1}x{h1}) is not the original's shape ({w0}x{h0}): "
                       "it is not a masked copy of this original (check which files "
                       "were paired)")
        elif self._mostly_changed():
            share = float(np.median(self.changed))
            out.append(f"the output differs from the original over {share:.0%} of the "
                       "picture: it is not a masked copy of this original (check which "
                       "files were paired), or it is masked so widely that nothing in it "
                       "can be checked")
        return out
