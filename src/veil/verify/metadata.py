"""Metadata read-back: name every metadata item left in a file (names only, never values).

Images are read with :func:`veil.media.metadata.metadata_tags`, which walks the file's
container structure itself. Video is read with PyAV: container tags
(``container:<key>``), stream tags (``<video|audio>:<key>``, ``#n`` for the n-th stream
of a kind after the first) and every stream beyond the first video and first audio stream
(``stream:<type>:<codec>``: data, subtitles, attachments, cover pictures, extra tracks).

A check fails on any name outside :data:`HARMLESS`: the colour profile of an image and
the few structural tags a muxer always writes (brand, stream language, handler name),
which say nothing about the picture's origin, place or time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from veil.errors import MediaError

HARMLESS: frozenset[str] = frozenset(
    {
        "ICC",
        "container:major_brand",
        "container:minor_version",
        "container:compatible_brands",
        "container:encoder",
        "video:language",
        "video:handler_name",
        "video:vendor_id",
        "video:encoder",
        "audio:language",
        "audio:handler_name",
        "audio:vendor_id",
        "audio:encoder",
    }
)


def image_tags(path: Path) -> list[str]:
    """Names of every metadata item in an image file."""
    from veil.media.metadata import metadata_tags

    return metadata_tags(Path(path))


def _keys(meta: Any) -> list[str]:
    try:
        return sorted(str(k) for k in dict(meta or {}))
    except (TypeError, ValueError):
        return []


def video_tags(path: Path) -> list[str]:
    """Names of container tags, stream tags and extra streams of a video file."""
    import av
    import av.error

    path = Path(path)
    try:
        container = av.open(str(path), metadata_errors="replace")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(path, f"not a readable video ({exc})") from exc
    names: list[str] = []
    try:
        names += [f"container:{k}" for k in _keys(container.metadata)]
        seen: dict[str, int] = {}
        for stream in container.streams:
            kind = str(stream.type)
            seen[kind] = seen.get(kind, 0) + 1
            label = kind if seen[kind] == 1 else f"{kind}#{seen[kind]}"
            if kind not in ("video", "audio") or seen[kind] > 1:
                ctx = getattr(stream, "codec_context", None)
                codec = getattr(ctx, "name", None) if ctx is not None else None
                names.append(f"stream:{label}:{codec or 'unknown'}")
            names += [f"{label}:{k}" for k in _keys(stream.metadata)]
            disposition = getattr(stream, "disposition", None)
            if disposition is not None and "attached_pic" in str(disposition).lower():
                names.append(f"{label}:attached_pic")
    finally:
        container.close()
    return names


def read_tags(path: Path, kind: str) -> list[str]:
    """Metadata names of an image (``kind="image"``) or video file."""
    return image_tags(path) if kind == "image" else video_tags(path)


def identifying(names: list[str]) -> list[str]:
    """The names that make a metadata check fail (everything not known to be harmless)."""
    return [n for n in names if n not in HARMLESS]
