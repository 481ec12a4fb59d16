"""metadata_tags: every kind of metadata is named, clean files give nothing."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imagefactory as factory
from veil.errors import MediaError
from veil.media.metadata import (
    exif_tag_names,
    heif_box_names,
    heif_boxes,
    jpeg_motion_video,
    metadata_tags,
    metadata_tags_of_bytes,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EXIF_DATA = SHARED / "exif"

CAMERA_EXIF = {
    "EXIF:Make",
    "EXIF:Model",
    "EXIF:Artist",
    "EXIF:DateTime",
    "EXIF:DateTimeOriginal",
    "EXIF:BodySerialNumber",
    "EXIF:UserComment",
    "EXIF:GPSInfo",
    "EXIF:GPSLatitude",
    "EXIF:GPSLongitude",
}


def needs_exif_data() -> None:
    if not EXIF_DATA.is_dir():
        pytest.skip(f"shared data folder {EXIF_DATA} is absent (../shared/data/exif)")


def test_jpeg_every_kind_named(tmp_path: Path) -> None:
    path = factory.jpeg_with_metadata(tmp_path / "a.jpg", trailer=True)
    names = metadata_tags(path)
    assert set(names) >= CAMERA_EXIF
    for name in ("EXIF:thumbnail", "XMP", "IPTC", "ICC", "JPEG:COM", "JPEG:trailer"):
        assert name in names
    assert len(names) == len(set(names))
    assert not any(factory.SECRET in n for n in names)  # names, never values


def test_png_chunks_named(tmp_path: Path) -> None:
    names = metadata_tags(factory.png_with_metadata(tmp_path / "a.png"))
    for name in (
        "PNG:tEXt:Author",
        "PNG:zTXt:Comment",
        "PNG:iTXt:Description",
        "PNG:tIME",
        "XMP",
        "ICC",
        "EXIF:thumbnail",
    ):
        assert name in names
    assert set(names) >= CAMERA_EXIF


def test_webp_chunks_named(tmp_path: Path) -> None:
    names = metadata_tags(factory.webp_with_metadata(tmp_path / "a.webp"))
    assert {"ICC", "XMP", "EXIF:thumbnail"} | CAMERA_EXIF <= set(names)


def test_tiff_tags_named(tmp_path: Path) -> None:
    names = set(metadata_tags(factory.tiff_with_metadata(tmp_path / "a.tif")))
    assert {
        "TIFF:Make",
        "TIFF:Model",
        "TIFF:Artist",
        "TIFF:DateTime",
        "TIFF:Copyright",
        "TIFF:ImageDescription",
        "XMP",
        "IPTC",
        "ICC",
        "EXIF:DateTimeOriginal",
        "EXIF:BodySerialNumber",
        "EXIF:GPSInfo",
        "EXIF:GPSLatitude",
    } <= names
    assert not any(n.startswith("TIFF:Strip") or n == "TIFF:ImageWidth" for n in names)


def test_tiff_pages_named(tmp_path: Path) -> None:
    path = tmp_path / "pages.tif"
    path.write_bytes(factory.raw_tiff(factory.picture(8, 8), pages=2))
    assert metadata_tags(path) == ["TIFF:extra-image"]


def test_heic_named(tmp_path: Path) -> None:
    names = set(metadata_tags(factory.heic_with_metadata(tmp_path / "a.heic")))
    assert {"XMP", "EXIF:Make", "EXIF:GPSInfo", "EXIF:BodySerialNumber"} <= names


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "BMP"])
def test_plain_pillow_output_is_clean(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"plain.{fmt.lower()}"
    Image.fromarray(factory.picture(16, 16)).save(path, fmt)
    assert metadata_tags(path) == []


def test_big_endian_exif_and_empty_block() -> None:
    block = factory.exif_block(byte_order=">")
    names = exif_tag_names(b"Exif\x00\x00" + block)
    assert CAMERA_EXIF | {"EXIF:thumbnail"} <= set(names)
    assert exif_tag_names(b"Exif\x00\x00") == ["EXIF"]  # unreadable still counts
    assert exif_tag_names(b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00") == [
        "EXIF"
    ]


def test_exif_pointer_loop_does_not_hang() -> None:
    # IFD0 with an Exif pointer back to IFD0 itself
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, 4, 1, 8) + struct.pack("<I", 8)
    names = exif_tag_names(b"II*\x00" + struct.pack("<I", 8) + ifd)
    assert names[0] == "EXIF:ExifOffset"


def test_jfif_thumbnail_and_unknown_segments() -> None:
    jpeg = factory.jpeg_bytes(factory.picture(8, 8))
    jfif_thumb = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x01\x01" + b"\x00\x00\x00"
    app0 = b"\xff\xe0" + struct.pack(">H", len(jfif_thumb) + 2) + jfif_thumb
    ducky = b"\xff\xec" + struct.pack(">H", 7) + b"Ducky"
    data = jpeg[:2] + app0 + ducky + jpeg[2:]
    names = metadata_tags_of_bytes(data)
    assert "JPEG:JFIF:thumbnail" in names and "JPEG:APP12" in names


def test_progressive_jpeg_scans_walked(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(factory.picture(64, 64)).save(buf, "JPEG", progressive=True)
    data = factory.splice_jpeg(buf.getvalue(), []) + b""
    assert metadata_tags_of_bytes(data) == []
    comment_after_scans = data[:-2] + b"\xff\xfe\x00\x05abc" + data[-2:]
    assert metadata_tags_of_bytes(comment_after_scans) == ["JPEG:COM"]


def test_damaged_structures_raise(tmp_path: Path) -> None:
    jpeg = factory.jpeg_bytes(factory.picture(32, 32))
    cut = factory.truncated(jpeg, tmp_path / "cut.jpg", keep=0.5)
    with pytest.raises(MediaError, match="cannot read metadata"):
        metadata_tags(cut)
    text = tmp_path / "notes.jpg"
    text.write_text("hello, not an image")
    with pytest.raises(MediaError, match="not a recognised image"):
        metadata_tags(text)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty file"):
        metadata_tags(empty)
    with pytest.raises(MediaError, match="no such file"):
        metadata_tags(tmp_path / "missing.png")
    with pytest.raises(MediaError, match="directory"):
        metadata_tags(tmp_path)


def test_png_other_ancillary_chunk_named() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(buf, "PNG")
    data = buf.getvalue()
    vpag = factory._png_chunk(b"vpAg", b"\x00" * 9)
    names = metadata_tags_of_bytes(data[:33] + vpag + data[33:])
    assert names == ["PNG:vpAg"]


# --------------------------------------------------------------------------- shared data


@pytest.mark.shared
def test_shared_gps_files_name_gps() -> None:
    needs_exif_data()
    for path in sorted((EXIF_DATA / "gps").glob("*.jpg")):
        names = metadata_tags(path)
        assert "EXIF:GPSInfo" in names, path.name
        assert any(n.startswith("EXIF:GPSLatitude") for n in names), path.name


@pytest.mark.shared
def test_shared_xmp_and_gps_ifd_edge_cases() -> None:
    needs_exif_data()
    for name in ("BlueSquare.jpg", "no_exif.jpg"):
        assert "XMP" in metadata_tags(EXIF_DATA / "xmp" / name)
    names = metadata_tags(EXIF_DATA / "tests" / "45-gps_ifd.jpg")
    assert "EXIF:GPSInfo" in names
    assert "JPEG:MPF" in names


@pytest.mark.shared
def test_shared_heic_metadata_named() -> None:
    needs_exif_data()
    files = sorted((EXIF_DATA / "heic").rglob("*.[hH][eE][iI][cCfF]"))
    assert files
    for path in files:
        names = metadata_tags(path)
        assert any(n.startswith("EXIF:") for n in names), path.name


# --------------------------------------------------------------------------- GIF, HEIF boxes


def _gif_with_blocks(path: Path) -> Path:
    Image.fromarray(factory.picture(16, 16)).save(path, comment=b"Jane Doe")
    data = path.read_bytes()
    assert data[-1:] == b";"

    def app(ident: bytes, body: bytes) -> bytes:
        return b"\x21\xff\x0b" + ident + bytes([len(body)]) + body + b"\x00"

    extra = (app(b"XMP DataXMP", b"<x/>") + app(b"MAKERNOTE01", b"VeilTestCam")
             + b"\x21\x01\x0c" + b"\x00" * 12 + b"\x04text\x00")  # plain-text extension
    path.write_bytes(data[:-1] + extra + b";" + b"trailing secret")
    return path


def test_gif_blocks_named(tmp_path: Path) -> None:
    names = metadata_tags(_gif_with_blocks(tmp_path / "a.gif"))
    assert names == ["GIF:comment", "XMP", "GIF:app:MAKERNOTE01", "GIF:plain-text",
                     "GIF:trailer"]
    loop = tmp_path / "loop.gif"
    ims = [Image.fromarray(factory.picture(8, 8)), Image.fromarray(factory.picture(8, 8)[::-1])]
    ims[0].save(loop, save_all=True, append_images=ims[1:], loop=0, duration=40)
    assert metadata_tags(loop) == []  # the loop count and frame timing are no metadata


def test_cut_gif_raises(tmp_path: Path) -> None:
    full = _gif_with_blocks(tmp_path / "a.gif").read_bytes()
    with pytest.raises(ValueError, match="GIF"):
        metadata_tags_of_bytes(full[: len(full) // 2])


def test_heif_top_level_boxes_named(tmp_path: Path) -> None:
    heic = factory.heic_with_metadata(tmp_path / "a.heic").read_bytes()
    mp4 = factory.tiny_mp4()
    path = tmp_path / "motion.heic"
    path.write_bytes(heic + factory.heif_box(b"mpvd", mp4) + factory.heif_box(b"moov", b"\0" * 8)
                     + b"\x00\x00\x00\x03junk")
    names = metadata_tags(path)
    assert {"HEIF:box:mpvd", "HEIF:box:moov", "HEIF:trailer", "XMP", "EXIF:Make"} <= set(names)
    assert not any(n in names for n in ("HEIF:box:ftyp", "HEIF:box:meta", "HEIF:box:mdat"))
    assert heif_box_names(heic) == []


def test_truncated_heif_box_raises(tmp_path: Path) -> None:
    heic = factory.heic_with_metadata(tmp_path / "a.heic").read_bytes()
    boxes, end = heif_boxes(heic)
    assert [b for b, _ in boxes][:1] == ["ftyp"] and end is None
    assert heif_boxes(heic[:-10])[1] == "truncated"
    cut = tmp_path / "cut.heic"
    cut.write_bytes(heic[:-10])
    with pytest.raises(MediaError, match="truncated"):
        metadata_tags(cut)


def test_jpeg_motion_video_found_after_eoi(tmp_path: Path) -> None:
    jpeg = factory.jpeg_bytes(factory.picture(16, 16))
    assert not jpeg_motion_video(jpeg)
    assert jpeg_motion_video(jpeg + factory.tiny_mp4())
    assert not jpeg_motion_video(jpeg + b"\x00" * 16 + b"some other trailer")
    names = metadata_tags_of_bytes(jpeg + factory.tiny_mp4())
    assert names == ["JPEG:trailer"]
