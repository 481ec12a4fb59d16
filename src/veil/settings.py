"""Settings that travel with a plan: how faces are found and how they are masked.

They are plain dataclasses so that a plan can record exactly what made it, and a
re-render or a report can show it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

MaskMethod = Literal["solid", "pixelate", "blur"]
MaskShape = Literal["ellipse", "box"]

MASK_METHODS: tuple[str, ...] = ("solid", "pixelate", "blur")
MASK_SHAPES: tuple[str, ...] = ("ellipse", "box")


@dataclass(frozen=True)
class ScanSettings:
    """How the detector is run.

    threshold: minimum detector confidence for a face to be masked.
    base_side: the whole frame is seen once with its long side at most this many pixels.
    target_pixels: frames with fewer pixels are enlarged towards this many, so that
        small faces become visible to the detector.
    max_upscale: the largest factor a frame is enlarged by.
    """

    threshold: float = 0.3
    base_side: int = 1280
    target_pixels: int = 700_000
    max_upscale: float = 2.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanSettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class MaskSettings:
    """How each region is made unrecognisable.

    method: ``solid`` (flat fill), ``pixelate`` (at most ``pixel_blocks`` blocks across
        the face) or ``blur`` (Gaussian, kernel ``blur_ratio`` x face width, plus noise).
    shape: ``ellipse`` or ``box``.
    margin: fraction of the detected box's width/height added on *each* side, so the
        mask reaches hairline and chin.
    """

    method: MaskMethod = "blur"
    shape: MaskShape = "ellipse"
    margin: float = 0.25
    pixel_blocks: int = 6
    blur_ratio: float = 0.6
    noise: float = 12.0
    color: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self) -> None:
        if self.method not in MASK_METHODS:
            raise ValueError(f"unknown mask method {self.method!r}; choose from {MASK_METHODS}")
        if self.shape not in MASK_SHAPES:
            raise ValueError(f"unknown mask shape {self.shape!r}; choose from {MASK_SHAPES}")
        if not 0 <= self.margin <= 2:
            raise ValueError("margin must be between 0 and 2")
        if self.pixel_blocks < 1:
            raise ValueError("pixel_blocks must be at least 1")
        if self.blur_ratio <= 0:
            raise ValueError("blur_ratio must be positive")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["color"] = list(self.color)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MaskSettings:
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        if "color" in kw:
            kw["color"] = tuple(kw["color"])
        return cls(**kw)
