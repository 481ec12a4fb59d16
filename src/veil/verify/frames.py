"""Frames for verification: upright RGB pictures of an original and its output.

Images are read with their EXIF orientation applied (the orientation plans use). For
video, checking every frame would cost more than making the file, so verification looks
at a *sample* (:func:`sample_indices`):

- every ``stride``-th frame (by default two frames per second of video),
- the first and the last frame,
- and, when a plan is given, every frame where the plan's regions change: the frame
  before and the frame after each point where the number of masked regions differs
  from the previous frame (a track starts, ends, or has a gap). These are the frames
  where a tracker most often lets a face through.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from veil.errors import MediaError
from veil.plan.record import Plan

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".gif"}
)
SAMPLES_PER_SECOND = 2.0

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:  # pragma: no cover - a dependency
            pass
        _heif_registered = True


def media_kind(path: Path) -> str:
    """``"image"`` or ``"video"``, by file name (then by trying to open it as an image)."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    from veil.media.video import VIDEO_SUFFIXES

    if suffix in VIDEO_SUFFIXES:
        return "video"
    _register_heif()
    try:
        with Image.open(path):
            return "image"
    except (OSError, ValueError):
        return "video"


def read_image(path: Path) -> np.ndarray:
    """An image file as upright RGB ``uint8`` ``(H, W, 3)``; :class:`MediaError` if unreadable."""
    _register_heif()
    path = Path(path)
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError as exc:
        raise MediaError(path, "file not found") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(path, f"not a readable image ({exc})") from exc


def sample_indices(frame_count: int, fps: float | None, plan: Plan | None = None,
                   stride: int | None = None) -> list[int]:
    """Sorted frame indices to verify in a video of ``frame_count`` frames."""
    if frame_count <= 0:
        return []
    if stride is None:
        stride = max(1, int(round((fps or 25.0) / SAMPLES_PER_SECOND)))
    chosen = set(range(0, frame_count, max(1, stride)))
    chosen.update({0, frame_count - 1})
    if plan is not None:
        def active(i: int) -> int:
            fp = plan.frame(i)
            return -1 if fp.mask_whole else len(fp.active_boxes())

        prev = active(0)
        for i in range(1, frame_count):
            cur = active(i)
            if cur != prev:
                chosen.update({i - 1, i})
            prev = cur
    return sorted(i for i in chosen if 0 <= i < frame_count)


def video_frame_count(path: Path) -> tuple[int, float | None]:
    """Frames (0 when the container does not say) and frame rate of a video."""
    from veil.media.video import probe_video

    info = probe_video(Path(path))
    return info.frame_count, info.fps


def iter_video_frames(path: Path, wanted: set[int] | None) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, upright RGB)`` for the frames in ``wanted`` (all when ``None``), in order.

    Every frame is decoded (video cannot be cut anywhere else than at key frames), but
    only the wanted ones are converted to RGB.
    """
    from veil.media.video import VideoReader

    last = max(wanted) if wanted else None
    with VideoReader(Path(path)) as reader:
        for item in reader.frames():
            if wanted is None or item.index in wanted:
                yield item.index, item.rgb()
            if last is not None and item.index >= last:
                break
