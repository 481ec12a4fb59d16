"""Metadata read-back: name every metadata item left in a file (names only, never values).

Images are read with :func:`veil.media.metadata.metadata_tags`, which walks the file's
container structure itself. Video is read with PyAV: container tags
(``container:<key>``), stream tags (``<video|audio>:<key>``, ``#n`` for the n-th stream
of a kind after the first) and every stream beyond the first video and first audio stream
(``stream:<type>:<codec>``: data, subtitles, attachments, cover pictures, extra tracks).

A check fails on any name outside :data:`HARMLESS`: the colour profile of an image and
the few structural tags a muxer always writes (brand, stream language, handler name,
Matroska's per-stream ``DURATION``),
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
        "video:DURATION",
        "audio:language",
        "audio:handler_name",
        "audio:vendor_id",
        "audio:encoder",
        "audio:DURATION",
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
    try:
        names += [n for n in iso_box_tags(path) if n not in names]
    except OSError as exc:
        raise MediaError(path, f"cannot read the file's boxes ({exc})") from exc
    return names


# Top-level boxes of an MP4/MOV file that hold no hidden content of their own (the
# file type, the movie header with its tracks, media data, padding).
_ISO_BENIGN = frozenset({"ftyp", "moov", "mdat", "free", "skip", "wide", "pnot"})
_ISO_CONTAINERS = {"moov", "trak", "udta"}


def _iso_children(fh: Any, start: int, end: int) -> list[tuple[str, int, int]]:
    """``(type, body_start, box_end)`` of the boxes between ``start`` and ``end``;
    a final ``("", pos, end)`` entry marks bytes that are no box (damaged or a trailer)."""
    import struct

    out: list[tuple[str, int, int]] = []
    pos = start
    while pos + 8 <= end and len(out) < 10_000:
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            break
        size, raw = struct.unpack(">I", head[:4])[0], head[4:8]
        body = pos + 8
        if size == 1 and len(head) == 16:
            size, body = struct.unpack(">Q", head[8:16])[0], pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            out.append(("", pos, end))
            return out
        out.append((raw.decode("latin-1"), body, pos + size))
        pos += size
    if pos < end:
        fh.seek(pos)
        if fh.read(min(end - pos, 1 << 16)).strip(b"\x00"):
            out.append(("", pos, end))
    return out


def iso_box_tags(path: Path) -> list[str]:
    """Names of the boxes of an MP4/MOV file that can hold a picture, a video or text
    and that the demuxer does not show as tags or streams: unknown top-level boxes
    (``box:uuid``: XMP and vendor data), bytes after the last box (``box:trailer``),
    and user-data boxes of the movie or a track other than the ``©xxx`` text items and
    the ``meta`` box (both shown as tags): ``udta:<type>``, ``trak:udta:<type>``.
    ``[]`` for a file that is not ISO-BMFF."""
    names: list[str] = []
    with open(path, "rb") as fh:
        end = fh.seek(0, 2)
        fh.seek(4)
        if fh.read(4) not in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
            return []

        def walk(start: int, stop: int, where: str) -> None:
            for btype, body, box_end in _iso_children(fh, start, stop):
                if btype == "":
                    names.append(f"{where or 'box'}:trailer" if not where else
                                 f"{where}:damaged")
                    continue
                label = btype.strip() or "unnamed"
                if where == "":
                    if btype == "moov":
                        walk(body, box_end, "moov")
                    elif btype not in _ISO_BENIGN:
                        names.append(f"box:{label}")
                elif btype in ("udta", "trak") and where in ("moov", "moov:trak"):
                    walk(body, box_end, f"{where}:{btype}")
                elif where.endswith("udta"):
                    if not btype.startswith("\xa9") and btype != "meta":
                        prefix = "trak:udta" if "trak" in where else "udta"
                        names.append(f"{prefix}:{label}")
                elif where == "moov" and btype == "uuid":
                    names.append("moov:uuid")

        walk(0, end, "")
    return names


def read_tags(path: Path, kind: str) -> list[str]:
    """Metadata names of an image (``kind="image"``) or video file."""
    return image_tags(path) if kind == "image" else video_tags(path)


def identifying(names: list[str]) -> list[str]:
    """The names that make a metadata check fail (everything not known to be harmless)."""
    return [n for n in names if n not in HARMLESS]
