"""The one table of the media files veil reads: which suffixes are images, which are
videos, which images may be animations, what name an output gets, and what is refused.

Every layer asks here (the batch collecting inputs, ``veil render``, ``veil verify``
pairing files, the image and video readers); no other module lists suffixes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

MediaKind = Literal["image", "video"]

IMAGE_SUFFIXES: frozenset[str] = frozenset({
    ".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif",
    ".avif", ".gif",
})
"""File name suffixes (lower case, with the dot) of the image files veil handles."""

ANIMATED_SUFFIXES: frozenset[str] = frozenset({".gif", ".webp"})
"""Image suffixes whose files may hold an animation (masked frame by frame, written in
their own format; whether one does is read from the file)."""

VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm",
                                            ".3gp"})
"""File name suffixes (lower case, with the dot) of the video files veil handles."""

MEDIA_SUFFIXES: frozenset[str] = IMAGE_SUFFIXES | VIDEO_SUFFIXES

#: Containers the video writer produces under their own name; other videos become .mp4.
KEPT_VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".m4v", ".mov", ".mkv"})
#: Image suffixes written as JPEG (the output is named ``.jpg``).
JPEG_OUTPUT_SUFFIXES: frozenset[str] = frozenset({".heic", ".heif"})


def media_kind(path: str | Path) -> MediaKind | None:
    """``"image"``, ``"video"`` or ``None`` (not a media file veil reads), by file name."""
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return None


def may_be_animated(path: str | Path) -> bool:
    """True for an image whose format can hold an animation (GIF, WebP)."""
    return Path(path).suffix.lower() in ANIMATED_SUFFIXES


def output_name(path: Path, kind: MediaKind) -> str:
    """File name of the output for ``path``: the same name, except that HEIC/HEIF
    become ``.jpg`` and videos in containers veil does not write become ``.mp4``."""
    suffix = path.suffix.lower()
    if kind == "video":
        return path.name if suffix in KEPT_VIDEO_SUFFIXES else path.stem + ".mp4"
    if suffix in JPEG_OUTPUT_SUFFIXES:
        return path.stem + ".jpg"
    return path.name


def refusal(path: Path) -> str | None:
    """Why veil refuses the file ``path`` by its name (one line), or ``None``."""
    if media_kind(path) is not None:
        return None
    return f"not a supported image or video type ({path.suffix or '(no suffix)'})"
