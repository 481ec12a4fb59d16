"""Frames for verification: upright RGB pictures of an original and its output.

Images are read with their EXIF orientation applied (the orientation plans use). For
video, checking every frame would cost more than making the file, so verification looks
at a *sample* (:func:`sample_indices`):

- every ``stride``-th frame (by default two frames per second of video),
- the first and the last frame,
- and, when a plan is given, the frames just outside each track: within
  ``BOUNDARY_SLACK`` frames before a track starts and after it ends (or pauses). These
  are the frames where a tracker most often lets a face through. One checked frame
  serves every boundary whose window holds it (a face the tracker let go is still there
  a frame or two later), so a crowd, where tracks start and end in almost every frame,
  does not make every frame a checked one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from veil.errors import MediaError
from veil.media import kinds
from veil.plan.record import Plan

SAMPLES_PER_SECOND = 2.0
BOUNDARY_SLACK = 2  # frames: how far from a track's boundary its checked frame may lie

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
    """``"image"`` or ``"video"``, by file name (:mod:`veil.media.kinds`; then, for a name
    the table does not know, by trying to open it as an image)."""
    kind = kinds.media_kind(path)
    if kind is not None:
        return kind
    _register_heif()
    try:
        with Image.open(path):
            return "image"
    except (OSError, ValueError):
        return "video"


def read_any_rgb(path: Path) -> np.ndarray:
    """An image file, made by veil or any other tool, as upright RGB ``uint8``
    ``(H, W, 3)``; :class:`MediaError` if unreadable. Lenient on purpose, unlike
    :func:`veil.media.images.read_image` (which refuses what veil will not write from)."""
    return read_rgb_and_profile(path)[0]


def read_rgb_and_profile(path: Path) -> tuple[np.ndarray, bytes | None]:
    """:func:`read_any_rgb`'s pixels and the file's RGB ICC profile (``None`` when it
    has none, or its pixels are not RGB)."""
    _register_heif()
    path = Path(path)
    try:
        with Image.open(path) as im:
            icc = bytes(im.info.get("icc_profile") or b"")
            upright = ImageOps.exif_transpose(im)
            rgb = im.mode == "RGB" and icc[16:20] == b"RGB "
            return np.asarray(upright.convert("RGB")), icc if rgb else None
    except FileNotFoundError as exc:
        raise MediaError(path, "file not found") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(path, f"not a readable image ({exc})") from exc


def read_image_pair(original: Path, output: Path) -> tuple[np.ndarray, np.ndarray]:
    """An original and its output as RGB, the original's colours as the output shows
    them: a job writes an original with a colour profile (Display P3, Adobe RGB,
    Generic RGB) converted to sRGB and without the profile, unless asked to keep it
    (:func:`veil.media.images.to_srgb`); compared unconverted, every pixel would differ."""
    from veil.media.images import pixels_to_srgb

    orig, icc = read_rgb_and_profile(original)
    out, out_icc = read_rgb_and_profile(output)
    if icc is not None and out_icc is None:
        orig = pixels_to_srgb(orig, icc)
    return orig, out


def sample_stride(fps: float | None) -> int:
    """Every how many frames the regular sample takes one (``SAMPLES_PER_SECOND``)."""
    return max(1, int(round((fps or 25.0) / SAMPLES_PER_SECOND)))


def sample_indices(frame_count: int, fps: float | None, plan: Plan | None = None,
                   stride: int | None = None) -> list[int]:
    """Sorted frame indices to verify in a video of ``frame_count`` frames."""
    if frame_count <= 0:
        return []
    chosen = set(range(0, frame_count, max(1, stride or sample_stride(fps))))
    chosen.update({0, frame_count - 1})
    if plan is not None:
        for lo, hi in sorted(boundary_windows(plan, frame_count), key=lambda w: (w[1], w[0])):
            if not any(i in chosen for i in range(lo, hi + 1)):
                chosen.add(hi)  # greedy interval stabbing: the fewest frames hit every window
    return sorted(i for i in chosen if 0 <= i < frame_count)


def boundary_windows(plan: Plan, frame_count: int,
                     slack: int = BOUNDARY_SLACK) -> list[tuple[int, int]]:
    """``(first, last)`` frame windows just outside every track of ``plan``: before each
    start and after each end or pause. Regions without a track (added by hand or by
    self-repair) count as one: their boundaries are where their number changes. Frames
    masked whole hide everything and are left out of the windows."""
    present: dict[object, set[int]] = {}
    whole: set[int] = set()
    for f, fp in plan.frames.items():
        if fp.mask_whole:
            whole.add(f)
            continue
        regions = fp.active_regions()
        for r in regions:
            if r.track_id is not None:
                present.setdefault(r.track_id, set()).add(f)
        untracked = sum(r.track_id is None for r in regions)
        if untracked:
            present.setdefault(("untracked", untracked), set()).add(f)
    windows: list[tuple[int, int]] = []

    def add(frames: set[int], start: int, step: int) -> None:
        # up to slack + 1 frames from ``start`` away from the track, never into the track
        # itself (a short gap's window is the gap) nor past the ends of the video
        near = []
        for i in range(start, start + step * (slack + 1), step):
            if not 0 <= i < frame_count or i in frames:
                break
            if i not in whole:
                near.append(i)
        if near:
            windows.append((min(near), max(near)))

    for frames in present.values():
        for f in frames:
            if f - 1 not in frames:
                add(frames, f - 1, -1)
            if f + 1 not in frames:
                add(frames, f + 1, 1)
    return windows


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
