"""Build sample image files for tests: metadata of every kind, orientations, bad inputs.

Everything is generated here (numpy + Pillow + pillow-heif + hand-written bytes), so the
core tests need no shared data. EXIF blocks, including the thumbnail IFD (IFD1), are
serialised by :func:`tiff_structure` rather than a third-party library.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

pillow_heif.register_heif_opener()

# TIFF field types
BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED = 1, 2, 3, 4, 5, 7
_TYPE_SIZE = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, UNDEFINED: 1}

Entry = tuple[int, int, object]  # (tag, type, value)

XMP_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'dc:creator="Test Photographer" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="52,31.0N"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
SECRET = "VEIL-TEST-SECRET-1234"
"""A string written into many metadata items; it must never appear in an output file."""


# --------------------------------------------------------------------------- pictures


def picture(height: int = 96, width: int = 128) -> np.ndarray:
    """A smooth, asymmetric RGB test picture (no two orientations look alike)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 255 * x / max(width - 1, 1)
    g = 255 * y / max(height - 1, 1)
    b = 128 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)
    img = np.stack([r, g, b], axis=-1)
    img[: height // 4, : width // 3] = (250, 20, 20)  # a red block in the top-left corner
    img[height // 2 :, width - width // 5 :] = (20, 20, 220)  # blue bar lower right
    return np.clip(img, 0, 255).astype(np.uint8)


def srgb_icc() -> bytes:
    """An sRGB ICC profile (from LittleCMS via Pillow)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg_bytes(pixels: np.ndarray, quality: int = 92) -> bytes:
    """A plain JPEG (Pillow's JFIF header only)."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


# --------------------------------------------------------------------------- TIFF / EXIF


def _encode_value(typ: int, value: object, e: str) -> tuple[bytes, int]:
    """Bytes and count of one TIFF field value."""
    if typ == ASCII:
        raw = (value if isinstance(value, bytes) else str(value).encode()) + b"\x00"
        return raw, len(raw)
    if typ in (UNDEFINED, BYTE) and isinstance(value, bytes | bytearray):
        return bytes(value), len(value)
    values = list(value) if isinstance(value, list | tuple) else [value]
    if typ == RATIONAL:
        pairs = [v if isinstance(v, tuple) else (int(v), 1) for v in values]
        return b"".join(struct.pack(e + "II", n, d) for n, d in pairs), len(pairs)
    fmt = {BYTE: "B", SHORT: "H", LONG: "I", UNDEFINED: "B"}[typ]
    return b"".join(struct.pack(e + fmt, int(v)) for v in values), len(values)


def tiff_structure(
    ifds: Sequence[list[Entry]],
    *,
    links: dict[tuple[int, int], int] | None = None,
    chain: Sequence[int] = (0,),
    blobs: dict[tuple[int, int], bytes] | None = None,
    byte_order: str = "<",
) -> bytes:
    """Serialise TIFF-structured data (an EXIF block or a whole TIFF file).

    ``ifds`` are the directories in file order; ``links`` maps (ifd index, tag) to the
    index of the directory that tag points to (Exif / GPS / Interop pointers);
    ``chain`` lists the directories linked by "next IFD" (IFD0 -> IFD1 ...); ``blobs``
    maps (ifd index, tag) to bytes appended at the end whose offset becomes that tag's
    value (thumbnail or strip data). Entries for linked/blob tags take a placeholder.
    """
    links = links or {}
    blobs = blobs or {}
    e = byte_order
    # layout: header, then each IFD followed by its out-of-line data, then blobs
    sizes = []
    for entries in ifds:
        extra = 0
        for _tag, typ, value in entries:
            raw, _ = _encode_value(typ, value, e)
            if len(raw) > 4:
                extra += len(raw) + (len(raw) & 1)
        sizes.append(2 + 12 * len(entries) + 4 + extra)
    offsets = []
    pos = 8
    for size in sizes:
        offsets.append(pos)
        pos += size
    blob_offsets = {}
    for key, data in blobs.items():
        blob_offsets[key] = pos
        pos += len(data) + (len(data) & 1)
    next_of = {a: b for a, b in zip(chain, chain[1:], strict=False)}

    out = bytearray(b"II*\x00" if e == "<" else b"MM\x00*")
    out += struct.pack(e + "I", offsets[0])
    for index, entries in enumerate(ifds):
        base = offsets[index]
        data_pos = base + 2 + 12 * len(entries) + 4
        head = bytearray(struct.pack(e + "H", len(entries)))
        data = bytearray()
        for tag, typ, value in sorted(entries, key=lambda t: t[0]):
            if (index, tag) in links:
                typ, value = LONG, offsets[links[(index, tag)]]
            elif (index, tag) in blobs:
                typ, value = LONG, blob_offsets[(index, tag)]
            raw, count = _encode_value(typ, value, e)
            if len(raw) <= 4:
                field = raw.ljust(4, b"\x00")
            else:
                field = struct.pack(e + "I", data_pos + len(data))
                data += raw + (b"\x00" if len(raw) & 1 else b"")
            head += struct.pack(e + "HHI", tag, typ, count) + field
        head += struct.pack(e + "I", offsets[next_of[index]] if index in next_of else 0)
        out += head + data
    for key, blob in blobs.items():
        assert len(out) == blob_offsets[key]
        out += blob + (b"\x00" if len(blob) & 1 else b"")
    return bytes(out)


def exif_block(
    *,
    orientation: int | None = None,
    camera: bool = True,
    gps: bool = True,
    thumbnail: bool = True,
    byte_order: str = "<",
) -> bytes:
    """A TIFF-structured EXIF block (no ``Exif\\0\\0`` prefix).

    ``camera``: Make, Model, Software, Artist, DateTime in IFD0 and DateTimeOriginal,
    BodySerialNumber, UserComment in the Exif IFD; ``gps``: a GPS IFD with latitude,
    longitude and a date stamp; ``thumbnail``: an IFD1 with a JPEG thumbnail.
    """
    ifd0: list[Entry] = []
    if orientation is not None:
        ifd0.append((0x0112, SHORT, orientation))
    exif_ifd: list[Entry] = [(0x9000, UNDEFINED, b"0232")]
    if camera:
        ifd0 += [
            (0x010F, ASCII, "VeilTestCam"),
            (0x0110, ASCII, "Model X-" + SECRET),
            (0x0131, ASCII, "Firmware 1.0"),
            (0x013B, ASCII, "Jane Doe"),
            (0x0132, ASCII, "2024:05:06 07:08:09"),
        ]
        exif_ifd += [
            (0x9003, ASCII, "2024:05:06 07:08:09"),
            (0x9004, ASCII, "2024:05:06 07:08:09"),
            (0xA431, ASCII, "SN-" + SECRET),
            (0x9286, UNDEFINED, b"ASCII\x00\x00\x00" + SECRET.encode()),
        ]
    ifds: list[list[Entry]] = [ifd0, exif_ifd]
    links = {(0, 0x8769): 1}
    ifd0.append((0x8769, LONG, 0))
    if gps:
        ifds.append(
            [
                (0x0000, BYTE, [2, 3, 0, 0]),
                (0x0001, ASCII, "N"),
                (0x0002, RATIONAL, [(52, 1), (31, 1), (1234, 100)]),
                (0x0003, ASCII, "E"),
                (0x0004, RATIONAL, [(13, 1), (24, 1), (5678, 100)]),
                (0x001D, ASCII, "2024:05:06"),
            ]
        )
        links[(0, 0x8825)] = len(ifds) - 1
        ifd0.append((0x8825, LONG, 0))
    chain = [0]
    blobs = {}
    if thumbnail:
        thumb = jpeg_bytes(picture(24, 32), quality=70)
        ifds.append(
            [
                (0x0103, SHORT, 6),
                (0x0201, LONG, 0),
                (0x0202, LONG, len(thumb)),
            ]
        )
        chain.append(len(ifds) - 1)
        blobs[(len(ifds) - 1, 0x0201)] = thumb
    return tiff_structure(ifds, links=links, chain=chain, blobs=blobs, byte_order=byte_order)


# --------------------------------------------------------------------------- JPEG


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def iptc_photoshop_block() -> bytes:
    """A Photoshop 'image resources' block holding IPTC-IIM by-line, city and caption."""
    records = b""
    for dataset, text in ((80, "Jane Doe"), (90, "Berlin"), (120, "Caption " + SECRET)):
        raw = text.encode()
        records += b"\x1c\x02" + bytes([dataset]) + struct.pack(">H", len(raw)) + raw
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(records))
    resource += records + (b"\x00" if len(records) & 1 else b"")
    return b"Photoshop 3.0\x00" + resource


def splice_jpeg(jpeg: bytes, segments: Sequence[bytes], trailer: bytes = b"") -> bytes:
    """Insert marker segments right after SOI (and its JFIF APP0), append a trailer."""
    assert jpeg[:2] == b"\xff\xd8"
    pos = 2
    if jpeg[2:4] == b"\xff\xe0":
        (length,) = struct.unpack(">H", jpeg[4:6])
        pos = 4 + length
    return jpeg[:pos] + b"".join(segments) + jpeg[pos:] + trailer


def jpeg_with_metadata(
    path: Path,
    pixels: np.ndarray | None = None,
    *,
    exif: bool = True,
    xmp: bool = True,
    iptc: bool = True,
    comment: bool = True,
    icc: bool = True,
    trailer: bool = False,
) -> Path:
    """A JPEG carrying EXIF (GPS, camera, serial, dates, thumbnail), XMP, IPTC, COM, ICC."""
    pixels = picture() if pixels is None else pixels
    segments = []
    if exif:
        segments.append(_segment(0xE1, b"Exif\x00\x00" + exif_block()))
    if xmp:
        segments.append(_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP_PACKET))
    if iptc:
        segments.append(_segment(0xED, iptc_photoshop_block()))
    if icc:
        segments.append(_segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + srgb_icc()))
    if comment:
        segments.append(_segment(0xFE, ("Comment " + SECRET).encode()))
    tail = jpeg_bytes(picture(16, 16)) if trailer else b""
    path.write_bytes(splice_jpeg(jpeg_bytes(pixels), segments, tail))
    return path


# --------------------------------------------------------------------------- orientation


def stored_for_orientation(upright: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixel array that displays as ``upright`` under EXIF ``orientation``.

    Written from the EXIF definition (where row 0 / column 0 of the stored image lie in
    the displayed one), independently of Pillow's transpose table.
    """
    u = upright
    stored = {
        1: lambda: u,
        2: lambda: u[:, ::-1],  # mirrored left-right
        3: lambda: u[::-1, ::-1],  # rotated 180
        4: lambda: u[::-1, :],  # mirrored top-bottom
        5: lambda: u.transpose(1, 0, 2),  # mirrored along the main diagonal
        6: lambda: np.rot90(u, 1),  # viewer turns it 90 degrees clockwise
        7: lambda: u[::-1, ::-1].transpose(1, 0, 2),  # mirrored along the anti-diagonal
        8: lambda: np.rot90(u, -1),  # viewer turns it 90 degrees anticlockwise
    }[orientation]()
    return np.ascontiguousarray(stored)


def oriented_file(path: Path, upright: np.ndarray, orientation: int) -> Path:
    """A JPEG, PNG (eXIf chunk) or TIFF (Orientation tag), by suffix, with that orientation."""
    stored = stored_for_orientation(upright, orientation)
    exif = exif_block(orientation=orientation, camera=False, gps=False, thumbnail=False)
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        path.write_bytes(
            splice_jpeg(jpeg_bytes(stored, quality=95), [_segment(0xE1, b"Exif\x00\x00" + exif)])
        )
    elif suffix == ".png":
        Image.fromarray(stored).save(path, "PNG", exif=b"Exif\x00\x00" + exif)
    elif suffix in (".tif", ".tiff"):
        path.write_bytes(raw_tiff(stored, [(0x0112, SHORT, orientation)]))
    else:
        raise ValueError(suffix)
    return path


# --------------------------------------------------------------------------- PNG, WebP, TIFF, HEIF


def png_with_metadata(path: Path, pixels: np.ndarray | None = None, *, alpha: bool = False) -> Path:
    """A PNG with tEXt, zTXt, iTXt, XMP (iTXt), eXIf, iCCP and tIME chunks."""
    pixels = picture() if pixels is None else pixels
    info = PngInfo()
    info.add_text("Author", "Jane Doe")
    info.add_text("Comment", "zipped " + SECRET, zip=True)
    info.add_itxt("Description", "caption " + SECRET, lang="en")
    info.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode("utf-8"))
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 6, 7, 8, 9))
    arr = pixels
    if alpha:
        a = np.linspace(0, 255, pixels.shape[1], dtype=np.uint8)[None, :].repeat(pixels.shape[0], 0)
        arr = np.dstack([pixels, a])
    Image.fromarray(arr).save(
        path, "PNG", pnginfo=info, exif=b"Exif\x00\x00" + exif_block(), icc_profile=srgb_icc()
    )
    return path


def webp_with_metadata(
    path: Path, pixels: np.ndarray | None = None, *, lossless: bool = False, alpha: bool = False
) -> Path:
    """A WebP with EXIF, XMP and ICC chunks."""
    pixels = picture() if pixels is None else pixels
    arr = pixels
    if alpha:
        a = np.linspace(0, 255, pixels.shape[0], dtype=np.uint8)[:, None].repeat(pixels.shape[1], 1)
        arr = np.dstack([pixels, a])
    Image.fromarray(arr).save(
        path,
        "WEBP",
        lossless=lossless,
        quality=90,
        exif=b"Exif\x00\x00" + exif_block(),
        xmp=XMP_PACKET,
        icc_profile=srgb_icc(),
    )
    return path


def raw_tiff(
    pixels: np.ndarray, extra: Sequence[Entry] = (), *, sub_ifds: bool = False, pages: int = 1
) -> bytes:
    """An uncompressed RGB TIFF file with extra IFD0 entries.

    ``sub_ifds`` adds an Exif IFD (DateTimeOriginal, serial) and a GPS IFD; ``pages`` > 1
    repeats the image as further pages.
    """
    h, w = pixels.shape[:2]
    strip = np.ascontiguousarray(pixels).tobytes()

    def page() -> list[Entry]:
        return [
            (256, LONG, w),
            (257, LONG, h),
            (258, SHORT, [8, 8, 8]),
            (259, SHORT, 1),
            (262, SHORT, 2),
            (273, LONG, 0),
            (277, SHORT, 3),
            (278, LONG, h),
            (279, LONG, len(strip)),
            (284, SHORT, 1),
        ]

    ifd0 = page() + list(extra)
    ifds = [ifd0]
    links = {}
    if sub_ifds:
        ifds.append([(0x9003, ASCII, "2024:05:06 07:08:09"), (0xA431, ASCII, "SN-" + SECRET)])
        links[(0, 0x8769)] = 1
        ifd0.append((0x8769, LONG, 0))
        ifds.append([(1, ASCII, "N"), (2, RATIONAL, [(52, 1), (31, 1), (0, 1)])])
        links[(0, 0x8825)] = 2
        ifd0.append((0x8825, LONG, 0))
    chain = [0]
    blobs = {(0, 273): strip}
    for _ in range(pages - 1):
        ifds.append(page())
        chain.append(len(ifds) - 1)
        blobs[(len(ifds) - 1, 273)] = strip
    return tiff_structure(ifds, links=links, chain=chain, blobs=blobs)


def tiff_with_metadata(path: Path, pixels: np.ndarray | None = None) -> Path:
    """A TIFF with Make/Model/Artist/DateTime/Software/Copyright tags, XMP, IPTC, ICC, EXIF
    and GPS sub-IFDs."""
    pixels = picture() if pixels is None else pixels
    iptc = b"\x1c\x02\x50" + struct.pack(">H", 8) + b"Jane Doe"
    extra: list[Entry] = [
        (0x010E, ASCII, "caption " + SECRET),
        (0x010F, ASCII, "VeilTestCam"),
        (0x0110, ASCII, "Model X"),
        (0x0131, ASCII, "Firmware 1.0"),
        (0x0132, ASCII, "2024:05:06 07:08:09"),
        (0x013B, ASCII, "Jane Doe"),
        (0x8298, ASCII, "(c) Jane Doe"),
        (700, BYTE, XMP_PACKET),
        (33723, UNDEFINED, iptc),
        (34675, UNDEFINED, srgb_icc()),
    ]
    path.write_bytes(raw_tiff(pixels, extra, sub_ifds=True))
    return path


def heic_with_metadata(path: Path, pixels: np.ndarray | None = None) -> Path:
    """A HEIC (x265 through pillow-heif) with EXIF and XMP."""
    pixels = picture() if pixels is None else pixels
    Image.fromarray(pixels).save(
        path, "HEIF", quality=95, exif=b"Exif\x00\x00" + exif_block(thumbnail=False), xmp=XMP_PACKET
    )
    return path


# --------------------------------------------------------------------------- bad inputs


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_declaring(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares ``width`` x ``height`` (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return path


def truncated(src: bytes, path: Path, keep: float = 0.6) -> Path:
    """The first ``keep`` fraction of ``src`` written to ``path``."""
    path.write_bytes(src[: int(len(src) * keep)])
    return path


def animated(path: Path, fmt: str, frames: int = 3) -> Path:
    """An animated GIF, WebP or PNG (APNG) of ``frames`` frames."""
    base = picture(32, 32)
    ims = [Image.fromarray(np.roll(base, 5 * i, axis=1)) for i in range(frames)]
    ims[0].save(path, fmt, save_all=True, append_images=ims[1:], duration=100, loop=0)
    return path


# --------------------------------------------------------------------------- colour, motion


DISPLAY_P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
"""Display P3 primaries (x, y) of red, green and blue; white point D65."""
_D65 = (0.3127, 0.3290)
_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


def rgb_to_xyz(primaries: tuple[tuple[float, float], ...], white=_D65) -> np.ndarray:
    """The 3x3 matrix from linear RGB of these primaries to XYZ (Y of white = 1)."""
    cols = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    wx, wy = white
    w = np.array([wx / wy, 1.0, (1 - wx - wy) / wy])
    return cols * np.linalg.solve(cols, w)


def matrix_icc(primaries: tuple[tuple[float, float], ...], gamma: float, name: str) -> bytes:
    """An ICC v2 display profile: D65 primaries adapted to D50 (Bradford), pure gamma."""

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(v) -> bytes:
        return b"XYZ \x00\x00\x00\x00" + b"".join(s15(c) for c in v)

    d50 = np.array([0.9642, 1.0, 0.8249])
    wx, wy = _D65
    d65 = np.array([wx / wy, 1.0, (1 - wx - wy) / wy])
    adapt = np.linalg.inv(_BRADFORD) @ np.diag((_BRADFORD @ d50) / (_BRADFORD @ d65)) @ _BRADFORD
    m = adapt @ rgb_to_xyz(primaries)
    text = name.encode("ascii") + b"\x00"
    desc = (b"desc\x00\x00\x00\x00" + struct.pack(">I", len(text)) + text
            + b"\x00" * 8 + b"\x00\x00\x00" + b"\x00" * 67)
    curve = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(gamma * 256)) + b"\x00\x00"
    tags = [(b"desc", desc), (b"wtpt", xyz(d50)), (b"rXYZ", xyz(m[:, 0])),
            (b"gXYZ", xyz(m[:, 1])), (b"bXYZ", xyz(m[:, 2])), (b"rTRC", curve),
            (b"gTRC", curve), (b"bTRC", curve), (b"cprt", b"text\x00\x00\x00\x00none\x00")]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += b"\x00" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"\x00" * 4 + b"\x02\x10\x00\x00" + b"mntrRGB XYZ "
              + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + b"\x00" * 24
              + struct.pack(">I", 0) + s15(d50[0]) + s15(d50[1]) + s15(d50[2]) + b"\x00" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """sRGB's transfer curve, linear [0, 1] to 8-bit levels."""
    lin = np.clip(linear, 0.0, 1.0)
    v = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.rint(v * 255)


def tiny_mp4(frames: int = 3, size: int = 32) -> bytes:
    """A small H.264 MP4 made with PyAV, holding a model name in its metadata."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        out.metadata["model"] = "VeilTestPhone"
        stream = out.add_stream("libx264", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            arr = np.full((size, size, 3), 40 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def motion_photo_jpeg(path: Path, pixels: np.ndarray | None = None) -> Path:
    """A JPEG with an MP4 appended after its end-of-image marker (a motion photo)."""
    pixels = picture() if pixels is None else pixels
    path.write_bytes(jpeg_bytes(pixels) + tiny_mp4())
    return path


def heif_box(btype: bytes, body: bytes) -> bytes:
    """One top-level ISO-BMFF box."""
    return struct.pack(">I", 8 + len(body)) + btype + body
