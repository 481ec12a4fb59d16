"""Name every metadata item an image file carries (names only, never values).

``metadata_tags`` walks the container structure of the file itself (JPEG markers, PNG
chunks, RIFF/WebP chunks, TIFF IFDs, BMP header; HEIF through pillow-heif) instead of
trusting a decoder's view of it, so that verification can read an output back and fail
when anything but an ICC profile is left. Unknown but non-structural items are reported
under a generic name (``JPEG:APP12``, ``PNG:vpAg``, ``WEBP:XYZW``...) rather than hidden.

Naming:
  ``EXIF:<tag>``        each tag of an EXIF block (IFD0, Exif, GPS and Interop IFDs), e.g.
                        ``EXIF:Make``, ``EXIF:GPSInfo``, ``EXIF:GPSLatitude``,
                        ``EXIF:DateTimeOriginal``; ``EXIF:thumbnail`` for an IFD1 (embedded
                        thumbnail); ``EXIF`` alone for a block that is empty or unreadable.
  ``XMP``, ``XMP:extended``, ``IPTC``, ``ICC``
  ``JPEG:COM``, ``JPEG:MPF``, ``JPEG:JFIF:thumbnail``, ``JPEG:JFXX``, ``JPEG:APP<n>``,
  ``JPEG:trailer`` (bytes after the end of the image: MPO pages, motion photos...)
  ``Photoshop:<resource>`` (APP13 / TIFF Photoshop resources other than IPTC/XMP/EXIF)
  ``PNG:tEXt:<keyword>``, ``PNG:zTXt:<keyword>``, ``PNG:iTXt:<keyword>``, ``PNG:tIME``,
  ``PNG:<chunk>`` for other ancillary chunks
  ``WEBP:<fourcc>`` for unknown RIFF chunks
  ``TIFF:<tag>`` for non-structural baseline tags (``TIFF:Artist``, ``TIFF:Make``...),
  ``TIFF:extra-image`` for further IFDs (pages, reduced images)
  ``HEIF:thumbnail``, ``HEIF:depth``, ``HEIF:aux:<type>``, ``HEIF:<metadata type>``,
  ``HEIF:extra-image``, ``HEIF:box:<type>`` for top-level boxes other than the file type,
  metadata, media data and padding boxes (``HEIF:box:mpvd``: a motion photo's video;
  ``HEIF:box:moov``: an image sequence or video track), ``HEIF:trailer`` for bytes after
  the last box (HEIF and AVIF alike)
  ``GIF:comment``, ``GIF:plain-text``, ``GIF:app:<identifier>`` (application extensions
  other than the loop count), ``GIF:trailer``
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

from PIL import ExifTags, TiffTags

from veil.errors import MediaError

Buffer = bytes | bytearray | memoryview

__all__ = [
    "exif_tag_names",
    "heif_box_names",
    "heif_boxes",
    "jpeg_motion_video",
    "metadata_tags",
    "metadata_tags_of_bytes",
]

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_INTEROP_IFD = 0xA005

_XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT_ID = b"http://ns.adobe.com/xmp/extension/\x00"

# TIFF tags that describe how the pixels are stored: present in any TIFF we write and
# carrying nothing about the picture's origin.
_TIFF_STRUCTURAL = frozenset(
    {
        254,
        255,
        256,
        257,
        258,
        259,
        262,
        263,
        266,
        273,
        277,
        278,
        279,
        280,
        281,
        282,
        283,
        284,
        296,
        317,
        318,
        319,
        320,
        322,
        323,
        324,
        325,
        332,
        338,
        339,
        347,
        529,
        530,
        531,
        532,
    }
)

# PNG ancillary chunks about rendering only (colour, gamma, transparency, density).
_PNG_BENIGN = frozenset(
    {
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"sBIT",
        b"bKGD",
        b"tRNS",
        b"pHYs",
        b"hIST",
        b"cICP",
        b"mDCV",
        b"cLLI",
    }
)
_PNG_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_WEBP_BENIGN = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"})

_PHOTOSHOP_NAMES = {
    0x0409: "thumbnail",
    0x040C: "thumbnail",
    0x0425: "digest",
    0x040B: "URL",
    0x041E: "URLList",
    0x0424: "XMP",
    0x0422: "EXIF",
    0x0423: "EXIF",
}


class _Names:
    """An ordered set of names."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, name: str) -> None:
        self._seen.setdefault(name, None)

    def extend(self, names: list[str]) -> None:
        for n in names:
            self.add(n)

    def as_list(self) -> list[str]:
        return list(self._seen)


# --------------------------------------------------------------------------- TIFF / EXIF


class _Ifds:
    """Minimal reader of TIFF-structured data (EXIF blocks and TIFF files, BigTIFF too)."""

    def __init__(self, buf: Buffer, start: int = 0) -> None:
        self.buf = memoryview(buf)
        self.start = start
        order = bytes(self.buf[start : start + 2])
        if order == b"II":
            self.e = "<"
        elif order == b"MM":
            self.e = ">"
        else:
            raise ValueError("no TIFF byte order mark")
        (magic,) = self._unpack("H", 2)
        if magic == 42:
            self.big = False
            (self.first,) = self._unpack("I", 4)
        elif magic == 43:
            self.big = True
            (self.first,) = self._unpack("Q", 8)
        else:
            raise ValueError("bad TIFF magic number")

    def _unpack(self, fmt: str, rel: int) -> tuple[int, ...]:
        return struct.unpack_from(self.e + fmt, self.buf, self.start + rel)

    def entries(self, rel: int) -> tuple[list[tuple[int, int, int, int]], int]:
        """Entries (tag, type, count, value-or-offset) of the IFD at ``rel``, and the next."""
        if rel <= 0 or self.start + rel >= len(self.buf):
            raise ValueError("IFD offset outside the data")
        if self.big:
            (n,) = self._unpack("Q", rel)
            size, head, cfmt = 20, 8, "HHQQ"
        else:
            (n,) = self._unpack("H", rel)
            size, head, cfmt = 12, 2, "HHII"
        if n > 4096:
            raise ValueError("implausible IFD entry count")
        out = []
        for i in range(n):
            tag, typ, count, value = self._unpack(cfmt, rel + head + i * size)
            if typ == 3 and not self.big:  # SHORT stored in the first two bytes
                (value,) = self._unpack("H", rel + head + i * size + 8)
            out.append((tag, typ, count, value))
        (nxt,) = self._unpack("Q" if self.big else "I", rel + head + n * size)
        return out, nxt

    def raw_value(self, typ: int, count: int, value: int, entry_rel: int) -> bytes:
        """Bytes of an entry's value (used for XMP / Photoshop blocks inside TIFF)."""
        width = {
            1: 1,
            2: 1,
            3: 2,
            4: 4,
            5: 8,
            6: 1,
            7: 1,
            8: 2,
            9: 4,
            10: 8,
            11: 4,
            12: 8,
            13: 4,
            16: 8,
            17: 8,
            18: 8,
        }.get(typ, 1)
        size = width * count
        inline = 8 if self.big else 4
        if size <= inline:
            return bytes(self.buf[self.start + entry_rel : self.start + entry_rel + size])
        return bytes(self.buf[self.start + value : self.start + value + size])


def _exif_names(buf: Buffer, start: int, names: _Names) -> None:
    """Add the names of the tags of the EXIF (TIFF-structured) data at ``buf[start:]``."""
    before = len(names.as_list())
    try:
        ifds = _Ifds(buf, start)
        entries, nxt = ifds.entries(ifds.first)
    except (ValueError, struct.error):
        names.add("EXIF")
        return
    visited = {ifds.first}

    def walk(rel: int, table: dict[int, str], depth: int) -> None:
        if rel in visited or depth > 4:
            return
        visited.add(rel)
        try:
            sub, _ = ifds.entries(rel)
        except (ValueError, struct.error):
            names.add("EXIF")
            return
        for tag, _typ, _count, value in sub:
            names.add(f"EXIF:{table.get(tag) or ExifTags.TAGS.get(tag) or f'0x{tag:04X}'}")
            if tag in (_EXIF_IFD, _INTEROP_IFD):
                walk(value, ExifTags.TAGS, depth + 1)
            elif tag == _GPS_IFD:
                walk(value, ExifTags.GPSTAGS, depth + 1)

    for tag, _typ, _count, value in entries:
        names.add(f"EXIF:{ExifTags.TAGS.get(tag, f'0x{tag:04X}')}")
        if tag in (_EXIF_IFD, _INTEROP_IFD):
            walk(value, ExifTags.TAGS, 1)
        elif tag == _GPS_IFD:
            walk(value, ExifTags.GPSTAGS, 1)
    if nxt:
        try:
            thumb, _ = ifds.entries(nxt)
            if thumb:
                names.add("EXIF:thumbnail")
        except (ValueError, struct.error):
            names.add("EXIF:thumbnail")
    if len(names.as_list()) == before:
        names.add("EXIF")


def exif_tag_names(blob: bytes) -> list[str]:
    """Names of the tags in an EXIF block (with or without the ``Exif\\0\\0`` header)."""
    names = _Names()
    start = 6 if blob[:6] == b"Exif\x00\x00" else 0
    if blob[start : start + 2] not in (b"II", b"MM"):
        # Some writers (HEIF) put a 4-byte offset before the TIFF header.
        idx = max(blob.find(b"II*\x00"), blob.find(b"MM\x00*"))
        start = idx if idx >= 0 else start
    _exif_names(blob, start, names)
    return names.as_list()


def _tiff_file_names(buf: Buffer, names: _Names) -> None:
    try:
        ifds = _Ifds(buf, 0)
        entries, nxt = ifds.entries(ifds.first)
    except (ValueError, struct.error) as exc:
        raise ValueError(f"unreadable TIFF structure ({exc})") from exc
    head = 8 if ifds.big else 2
    size = 20 if ifds.big else 12
    for i, (tag, typ, count, value) in enumerate(entries):
        entry_rel = ifds.first + head + i * size + (12 if ifds.big else 8)
        if tag in _TIFF_STRUCTURAL:
            continue
        if tag == 700:
            names.add("XMP")
        elif tag == 33723:
            names.add("IPTC")
        elif tag == 34675:
            names.add("ICC")
        elif tag == 34377:
            try:
                _photoshop_names(ifds.raw_value(typ, count, value, entry_rel), names)
            except (ValueError, struct.error):
                names.add("TIFF:Photoshop")
        elif tag in (_EXIF_IFD, _GPS_IFD, _INTEROP_IFD):
            names.add(f"EXIF:{ExifTags.TAGS.get(tag)}")
            table = ExifTags.GPSTAGS if tag == _GPS_IFD else ExifTags.TAGS
            try:
                sub, _ = ifds.entries(value)
            except (ValueError, struct.error):
                continue
            for stag, *_rest in sub:
                names.add(f"EXIF:{table.get(stag) or f'0x{stag:04X}'}")
        else:
            info = TiffTags.lookup(tag)
            known = info.name if info.name != "unknown" else ExifTags.TAGS.get(tag)
            names.add(f"TIFF:{known or f'0x{tag:04X}'}")
    if nxt:
        names.add("TIFF:extra-image")


# --------------------------------------------------------------------------- JPEG


def _photoshop_names(data: bytes, names: _Names) -> None:
    """Names of the image resources in a Photoshop (8BIM) block."""
    pos = 0
    found = False
    while pos + 12 <= len(data):
        if data[pos : pos + 4] != b"8BIM":
            break
        (rid,) = struct.unpack_from(">H", data, pos + 4)
        name_len = data[pos + 6]
        pos += 6 + ((name_len + 2) & ~1)  # Pascal string padded to even length
        (size,) = struct.unpack_from(">I", data, pos)
        pos += 4
        body = data[pos : pos + size]
        pos += size + (size & 1)
        found = True
        if rid == 0x0404:
            names.add("IPTC")
        elif rid == 0x040F:
            names.add("ICC")
        elif rid == 0x0424:
            names.add("XMP")
        elif rid in (0x0422, 0x0423):
            names.extend(exif_tag_names(body))
        else:
            names.add(f"Photoshop:{_PHOTOSHOP_NAMES.get(rid, f'0x{rid:04X}')}")
    if not found:
        names.add("JPEG:APP13")


def _jpeg_names(buf: Buffer, names: _Names) -> int:
    """Add the names of a JPEG's metadata; return the position after its end-of-image."""
    data = memoryview(buf)
    n = len(data)
    pos = 2
    while True:
        # find the next marker
        while pos < n and data[pos] != 0xFF:
            pos += 1
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise ValueError("JPEG ends before its end-of-image marker")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            break
        if 0xD0 <= marker <= 0xD7 or marker in (0x01, 0x00):
            continue
        if pos + 2 > n:
            raise ValueError("JPEG segment header cut short")
        (length,) = struct.unpack_from(">H", data, pos)
        seg = bytes(data[pos + 2 : pos + length])
        end = pos + length
        if length < 2 or end > n:
            raise ValueError("JPEG segment runs past the end of the file")
        if marker == 0xE0:
            if seg[:5] == b"JFIF\x00":
                if len(seg) >= 14 and (seg[12] or seg[13]):
                    names.add("JPEG:JFIF:thumbnail")
            elif seg[:5] == b"JFXX\x00":
                names.add("JPEG:JFXX")
            else:
                names.add("JPEG:APP0")
        elif marker == 0xE1:
            if seg[:6] == b"Exif\x00\x00":
                _exif_names(seg, 6, names)
            elif seg.startswith(_XMP_ID):
                names.add("XMP")
            elif seg.startswith(_XMP_EXT_ID):
                names.add("XMP:extended")
            else:
                names.add("JPEG:APP1")
        elif marker == 0xE2:
            if seg.startswith(b"ICC_PROFILE\x00"):
                names.add("ICC")
            elif seg.startswith(b"MPF\x00"):
                names.add("JPEG:MPF")
            elif seg.startswith(b"FPXR"):
                names.add("JPEG:FPXR")
            else:
                names.add("JPEG:APP2")
        elif marker == 0xED:
            if seg.startswith(b"Photoshop 3.0\x00"):
                try:
                    _photoshop_names(seg[14:], names)
                except (ValueError, struct.error):
                    names.add("JPEG:APP13")
            else:
                names.add("JPEG:APP13")
        elif marker == 0xEE:
            if not seg.startswith(b"Adobe"):  # Adobe APP14: colour transform flags only
                names.add("JPEG:APP14")
        elif 0xE3 <= marker <= 0xEF:
            names.add(f"JPEG:APP{marker - 0xE0}")
        elif marker == 0xFE:
            names.add("JPEG:COM")
        pos = end
        if marker == 0xDA:  # start of scan: skip entropy-coded data up to the next marker
            while True:
                nxt = _find_ff(data, pos)
                if nxt < 0:
                    raise ValueError("JPEG image data cut short (no end-of-image marker)")
                b = data[nxt + 1] if nxt + 1 < n else None
                if b is None:
                    raise ValueError("JPEG image data cut short")
                if b == 0x00 or 0xD0 <= b <= 0xD7 or b == 0xFF:
                    pos = nxt + 1 if b == 0xFF else nxt + 2
                    continue
                pos = nxt
                break
    rest = bytes(data[pos:])
    if rest.strip(b"\x00\xff \r\n\t"):
        names.add("JPEG:trailer")
    return pos


def jpeg_motion_video(data: Buffer) -> bool:
    """Whether a JPEG carries a video after its end-of-image (a motion photo: Samsung and
    Google phones append an MP4 there). ``False`` for a JPEG whose structure is damaged."""
    try:
        end = _jpeg_names(data, _Names())
    except (ValueError, struct.error, IndexError):
        return False
    return b"ftyp" in bytes(memoryview(data)[end:])


def _find_ff(data: memoryview, pos: int) -> int:
    """Index of the next 0xFF byte at or after ``pos`` (-1 when none)."""
    obj = data.obj
    if isinstance(obj, bytes | bytearray):
        return obj.find(b"\xff", pos)
    return bytes(data).find(b"\xff", pos)


# --------------------------------------------------------------------------- PNG


def _png_names(buf: Buffer, names: _Names) -> None:
    data = memoryview(buf)
    pos = 8
    n = len(data)
    while pos + 8 <= n:
        (length,) = struct.unpack_from(">I", data, pos)
        ctype = bytes(data[pos + 4 : pos + 8])
        body_start = pos + 8
        body_end = body_start + length
        if body_end + 4 > n:
            raise ValueError(f"PNG chunk {ctype!r} runs past the end of the file")
        pos = body_end + 4
        if ctype == b"IEND":
            break
        if ctype in _PNG_CRITICAL or ctype in _PNG_BENIGN:
            continue
        body = bytes(data[body_start:body_end])
        kw = body.split(b"\x00", 1)[0].decode("latin-1", "replace")
        if ctype == b"iTXt" and kw == "XML:com.adobe.xmp":
            names.add("XMP")
        elif ctype in (b"tEXt", b"zTXt", b"iTXt"):
            names.add(f"PNG:{ctype.decode()}:{kw}")
            if kw.startswith("Raw profile type exif") or kw == "Raw profile type APP1":
                names.add("EXIF")
        elif ctype == b"eXIf":
            names.extend(exif_tag_names(body))
        elif ctype == b"iCCP":
            names.add("ICC")
        elif ctype == b"acTL":
            names.add("PNG:acTL")
        else:
            names.add(f"PNG:{ctype.decode('latin-1')}")
    if pos > n:
        raise ValueError("PNG cut short")
    rest = bytes(data[pos:])
    if rest.strip(b"\x00"):
        names.add("PNG:trailer")


# --------------------------------------------------------------------------- WebP


def _webp_names(buf: Buffer, names: _Names) -> None:
    data = memoryview(buf)
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = min(len(data), 8 + riff_size)
    pos = 12
    while pos + 8 <= end:
        fourcc = bytes(data[pos : pos + 4])
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = bytes(data[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)
        if fourcc == b"ICCP":
            names.add("ICC")
        elif fourcc == b"EXIF":
            names.extend(exif_tag_names(body))
        elif fourcc == b"XMP ":
            names.add("XMP")
        elif fourcc not in _WEBP_BENIGN:
            names.add(f"WEBP:{fourcc.decode('latin-1').strip()}")
    if bytes(data[8 + riff_size :]).strip(b"\x00") if 8 + riff_size < len(data) else False:
        names.add("WEBP:trailer")


# --------------------------------------------------------------------------- BMP


def _bmp_names(buf: Buffer, names: _Names) -> None:
    data = memoryview(buf)
    (header_size,) = struct.unpack_from("<I", data, 14)
    if header_size >= 124:  # BITMAPV5HEADER: embedded or linked colour profile
        cs_type = bytes(data[14 + 56 : 14 + 60])
        if cs_type in (b"DEBM", b"MBED"):
            names.add("ICC")
        elif cs_type in (b"KNIL", b"LINK"):
            names.add("BMP:linked-profile")


# --------------------------------------------------------------------------- HEIF


def _heif_names(path: Path, names: _Names) -> None:
    import pillow_heif

    heif = pillow_heif.open_heif(str(path), convert_hdr_to_8bit=True)
    if len(heif) > 1:
        names.add("HEIF:extra-image")
    for img in heif:
        # pillow_heif types `info` as a union over all its keys; each key's value is read
        # for what that key holds.
        info: dict[str, Any] = img.info
        if info.get("exif"):
            names.extend(exif_tag_names(info["exif"]))
        if info.get("xmp"):
            names.add("XMP")
        if info.get("icc_profile"):
            names.add("ICC")
        for meta in info.get("metadata") or []:
            names.add(f"HEIF:{meta.get('type') or 'metadata'}")
        if info.get("thumbnails"):
            names.add("HEIF:thumbnail")
        if info.get("depth_images"):
            names.add("HEIF:depth")
        for aux_type in info.get("aux") or {}:
            names.add(f"HEIF:aux:{aux_type}")


# --------------------------------------------------------------------------- GIF

# Application extensions that only say how often an animation loops.
_GIF_LOOP_APPS = frozenset({b"NETSCAPE2.0", b"ANIMEXTS1.0"})


def _gif_sub_blocks(data: memoryview, pos: int) -> tuple[bytes, int]:
    """The concatenated data sub-blocks starting at ``pos``, and the position after them."""
    parts: list[bytes] = []
    n = len(data)
    while True:
        if pos >= n:
            raise ValueError("GIF data sub-blocks cut short")
        size = data[pos]
        pos += 1
        if size == 0:
            return b"".join(parts), pos
        if pos + size > n:
            raise ValueError("GIF data sub-block runs past the end of the file")
        parts.append(bytes(data[pos : pos + size]))
        pos += size


def _gif_names(buf: Buffer, names: _Names) -> None:
    data = memoryview(buf)
    n = len(data)
    if n < 13:
        raise ValueError("GIF header cut short")
    flags = data[10]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    while True:
        if pos >= n:
            raise ValueError("GIF ends before its trailer")
        block = data[pos]
        pos += 1
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension
            if pos >= n:
                raise ValueError("GIF extension cut short")
            label = data[pos]
            body, pos = _gif_sub_blocks(data, pos + 1)
            if label == 0xFE:
                names.add("GIF:comment")
            elif label == 0x01:
                names.add("GIF:plain-text")
            elif label == 0xFF:
                ident = body[:11]
                if ident == b"XMP DataXMP":
                    names.add("XMP")
                elif ident == b"ICCRGBG1012":
                    names.add("ICC")
                elif ident not in _GIF_LOOP_APPS:
                    text = ident.decode("latin-1").strip() or "unnamed"
                    names.add(f"GIF:app:{text}")
            elif label != 0xF9:  # graphic control (timing, transparency) is benign
                names.add(f"GIF:extension:0x{label:02X}")
        elif block == 0x2C:  # image descriptor, local colour table, LZW data
            if pos + 9 > n:
                raise ValueError("GIF image descriptor cut short")
            flags = data[pos + 8]
            pos += 9 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
            _, pos = _gif_sub_blocks(data, pos + 1)
        else:
            raise ValueError(f"unknown GIF block 0x{block:02X}")
    if bytes(data[pos:]).strip(b"\x00"):
        names.add("GIF:trailer")


# --------------------------------------------------------------------------- HEIF boxes

# Top-level ISO-BMFF boxes of a still HEIF/AVIF file that hold no hidden content of their
# own: the file type, the item metadata (whose items pillow-heif names one by one), the
# media data those items point into, and padding.
_HEIF_BENIGN_BOXES = frozenset({b"ftyp", b"meta", b"mdat", b"free", b"skip"})


def heif_boxes(data: Buffer) -> tuple[list[tuple[str, int]], str | None]:
    """Top-level boxes ``(type, size)`` of an ISO-BMFF file and what is wrong at its end.

    The second item is ``None`` when the boxes end exactly at the end of the file,
    ``"truncated"`` when a box runs past it, and ``"trailer"`` when bytes that are no
    box follow the last one.
    """
    view = memoryview(data)
    n = len(view)
    pos = 0
    boxes: list[tuple[str, int]] = []
    while pos < n:
        if pos + 8 > n:
            return boxes, ("trailer" if bytes(view[pos:]).strip(b"\x00") else None)
        size = struct.unpack_from(">I", view, pos)[0]
        btype = bytes(view[pos + 4 : pos + 8])
        head = 8
        if size == 1:
            if pos + 16 > n:
                return boxes, "truncated"
            size = struct.unpack_from(">Q", view, pos + 8)[0]
            head = 16
        elif size == 0:
            size = n - pos
        if size < head or not all(32 <= c < 127 for c in btype):
            rest = bytes(view[pos:]).strip(b"\x00")
            return boxes, ("trailer" if rest else None)
        boxes.append((btype.decode("latin-1"), size))
        if pos + size > n:
            return boxes, "truncated"
        pos += size
    return boxes, None


def heif_box_names(data: Buffer) -> list[str]:
    """Names of the top-level boxes and trailing bytes of a HEIF/AVIF file that can hold
    hidden content (``HEIF:box:mpvd``, ``HEIF:trailer``...). Raises ``ValueError`` for a
    truncated file."""
    boxes, end = heif_boxes(data)
    if end == "truncated":
        raise ValueError("truncated file (a box runs past the end of the file)")
    names = _Names()
    for btype, _size in boxes:
        if btype.encode("latin-1") not in _HEIF_BENIGN_BOXES:
            names.add(f"HEIF:box:{btype.strip() or 'unnamed'}")
    if end == "trailer":
        names.add("HEIF:trailer")
    return names.as_list()


# --------------------------------------------------------------------------- entry points


def _kind(head: bytes) -> str | None:
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:2] == b"BM":
        return "BMP"
    if head[4:8] == b"ftyp":
        return "HEIF"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    return None


def metadata_tags_of_bytes(data: Buffer) -> list[str]:
    """Like :func:`metadata_tags` for a file already in memory (not HEIF).

    Raises ``ValueError`` when the data is not a supported image container or its
    structure cannot be followed to the end.
    """
    head = bytes(memoryview(data)[:16])
    kind = _kind(head)
    names = _Names()
    try:
        if kind == "JPEG":
            _jpeg_names(data, names)
        elif kind == "PNG":
            _png_names(data, names)
        elif kind == "WEBP":
            _webp_names(data, names)
        elif kind == "TIFF":
            _tiff_file_names(data, names)
        elif kind == "BMP":
            _bmp_names(data, names)
        elif kind == "GIF":
            _gif_names(data, names)
        else:
            raise ValueError("not a JPEG, PNG, WebP, TIFF, BMP or GIF container")
    except (struct.error, IndexError, zlib.error) as exc:
        raise ValueError(f"damaged {kind} structure ({exc})") from exc
    return names.as_list()


def metadata_tags(path: Path) -> list[str]:
    """Names (never values) of every metadata item present in the image file at ``path``.

    Names are listed once each, in the order they occur. An image without metadata gives
    ``[]``; an image that carries only a colour profile gives ``["ICC"]``. Raises
    :class:`veil.errors.MediaError` when the file cannot be read or its container
    structure cannot be followed.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            if size == 0:
                raise MediaError(path, "empty file (0 bytes)")
            fh.seek(0)
            head = fh.read(16)
            kind = _kind(head)
            if kind == "HEIF":
                fh.seek(0)
                names = _Names()
                try:
                    names.extend(heif_box_names(fh.read()))
                    _heif_names(path, names)
                except (ValueError, RuntimeError) as exc:
                    raise MediaError(path, f"cannot read HEIF metadata ({exc})") from exc
                return names.as_list()
            if kind is None:
                raise MediaError(path, "not a recognised image file")
            fh.seek(0)
            data = fh.read()
        try:
            return metadata_tags_of_bytes(data)
        except ValueError as exc:
            raise MediaError(path, f"cannot read metadata: {exc}") from exc
    except MediaError:
        raise
    except OSError as exc:
        raise MediaError.from_os_error(path, exc) from exc
