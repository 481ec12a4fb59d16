"""Media made by the verify/report tests themselves: the public-domain astronaut
(skimage.data.astronaut), masked in several ways, plus helpers to build plans and videos."""

from __future__ import annotations

import functools
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from veil.plan.record import MediaInfo, Plan, Region
from veil.render.masks import mask_regions
from veil.settings import MaskSettings, ScanSettings

# The astronaut's face (CenterFace box on skimage.data.astronaut(), 512x512).
FACE_BOX = (181.5, 58.2, 269.9, 177.8)
# Too weak: a blur kernel of 0.15 x the face width. (A quarter of the face width fails on
# 17% of the dev faces >= 40 px, but not on the astronaut: see docs/report-schema.md.)
WEAK = MaskSettings(blur_ratio=0.15)


@functools.lru_cache(maxsize=1)
def astronaut() -> np.ndarray:
    from skimage.data import astronaut as load

    return np.ascontiguousarray(load())


def image_plan(settings: MaskSettings | None = None, boxes: list | None = None,
               size: tuple[int, int] = (512, 512)) -> Plan:
    """A plan for one image with the given face boxes (default: the astronaut's face)."""
    plan = Plan(MediaInfo("original.png", "0" * 64, "image", size[0], size[1]),
                mask=settings or MaskSettings())
    for b in boxes if boxes is not None else [FACE_BOX]:
        plan.add_region(0, Region(tuple(b)))
    return plan


def write_masked(path: Path, settings: MaskSettings | None, boxes: list | None = None) -> Path:
    """Save the astronaut masked with ``settings`` (``None``: left unmasked)."""
    img = astronaut()
    if settings is not None:
        img = mask_regions(img, np.asarray(boxes or [FACE_BOX], np.float32), settings,
                           np.random.default_rng(0))
    Image.fromarray(img).save(path)
    return path


NEAR_LOSSLESS = {"crf": "4", "preset": "ultrafast"}


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10,
                metadata: dict[str, str] | None = None, pix_fmt: str = "yuv444p",
                options: dict[str, str] | None = NEAR_LOSSLESS) -> Path:
    """Encode RGB frames as H.264 with PyAV (by default near-lossless; ``pix_fmt`` and
    ``options`` for a clip as cameras make them: ``"yuv420p"``, ``None``)."""
    with av.open(str(path), "w") as out:
        if metadata:
            out.metadata.update(metadata)
        stream = out.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = pix_fmt
        if options:
            stream.options = dict(options)
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def photo_yunet_inputs(monkeypatch: Any) -> list[tuple[int, ...]]:
    """The shapes of every input the photo check's YuNet (the default settings' finder,
    shared through ``veil.verify.check._finder``) is given from now on."""
    from veil.verify.check import _finder

    finder = _finder(ScanSettings(), True, True)
    assert finder.yunet is not None
    remembering = finder.yunet.detector
    inner = remembering.inner
    shown: list[tuple[int, ...]] = []

    class Counting:
        floor = property(lambda self: inner.floor)

        def detect(self, frame: np.ndarray) -> Any:
            shown.append(frame.shape)
            return inner.detect(frame)

    monkeypatch.setattr(remembering, "inner", Counting())
    return shown
