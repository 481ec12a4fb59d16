"""Metadata read-back: names of what is left, never values; GPS fails, a clean file passes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from veil.verify import metadata as meta
from veil.verify.check import verify_pair
from verify_media import astronaut, write_video

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _gps_jpeg(path: Path) -> Path:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 22.0, 17.25)
    gps[3], gps[4] = "E", (4.0, 53.0, 41.5)
    Image.fromarray(astronaut()).save(path, exif=exif, quality=90)
    return path


def test_exif_gps_fails_metadata_readback(tmp_path):
    src = _gps_jpeg(tmp_path / "src.jpg")
    out = _gps_jpeg(tmp_path / "out.jpg")
    v = verify_pair(src, out, reid=False, residual=False)
    assert not v.passed
    assert v.checks["metadata"] == "fail"
    assert "EXIF:GPSLatitude" in v.metadata_left
    assert "EXIF:GPSLatitude" in v.metadata_before
    assert "EXIF:GPSLatitude" in v.metadata_flagged
    text = json.dumps(v.to_dict()) + " ".join(v.reasons)
    for value in ("17.25", "41.5", "TestCam"):  # values are never reported
        assert value not in text


def test_clean_output_passes_metadata_readback(tmp_path):
    src = _gps_jpeg(tmp_path / "src.jpg")
    out = tmp_path / "out.png"
    Image.fromarray(astronaut()).save(out)
    v = verify_pair(src, out, reid=False, residual=False)
    assert v.checks["metadata"] == "pass"
    assert v.metadata_left == [] and v.metadata_flagged == []
    assert "EXIF:GPSLatitude" in v.metadata_before


def test_icc_profile_alone_is_harmless():
    assert meta.identifying(["ICC"]) == []
    assert meta.identifying(["ICC", "XMP"]) == ["XMP"]


def test_video_container_tags_are_named(tmp_path):
    frames = [np.zeros((64, 64, 3), np.uint8)] * 3
    tagged = write_video(tmp_path / "tagged.mp4", frames,
                         metadata={"location": "+52.3676+004.9041/", "title": "holiday"})
    names = meta.video_tags(tagged)
    assert "container:location" in names and "container:title" in names
    assert "container:location" in meta.identifying(names)
    assert not any("52.3676" in n or "holiday" in n for n in names)


def test_video_without_tags_passes(tmp_path):
    frames = [np.zeros((64, 64, 3), np.uint8)] * 3
    plain = write_video(tmp_path / "plain.mp4", frames)
    assert meta.identifying(meta.video_tags(plain)) == []


def test_shared_gps_sample_is_flagged():
    folder = SHARED / "exif" / "gps"
    if not folder.is_dir():
        pytest.skip("../shared/data/exif/gps is absent")
    sample = sorted(folder.glob("*.jpg"))[0]
    names = meta.image_tags(sample)
    assert any(n.startswith("EXIF:GPS") for n in names)
    assert meta.identifying(names)


def _holders(tmp_path: Path) -> list[tuple[Path, str]]:
    """One file per kind of box or segment that can hold a picture, video or text, each
    added to an otherwise clean picture written by Pillow, and the name it must get."""
    import struct
    import zlib

    import imagefactory as factory

    pixels = factory.picture(32, 32)
    out: list[tuple[Path, str]] = []

    heic = tmp_path / "plain.heic"
    Image.fromarray(pixels).save(heic, quality=80)
    motion = tmp_path / "motion.heic"
    motion.write_bytes(heic.read_bytes() + factory.heif_box(b"mpvd", factory.tiny_mp4()))
    out.append((motion, "HEIF:box:mpvd"))
    out.append((factory.motion_photo_jpeg(tmp_path / "motion.jpg", pixels), "JPEG:trailer"))
    jpeg = factory.jpeg_bytes(pixels)
    app5 = b"\xff\xe5" + struct.pack(">H", 2 + 11) + b"VeilTestCam"
    (tmp_path / "app5.jpg").write_bytes(jpeg[:2] + app5 + jpeg[2:])
    out.append((tmp_path / "app5.jpg", "JPEG:APP5"))

    png = tmp_path / "plain.png"
    Image.fromarray(pixels).save(png)
    data = png.read_bytes()
    for ctype, body, name in ((b"tEXt", b"Author\x00Jane", "PNG:tEXt:Author"),
                              (b"zTXt", b"Place\x00\x00" + zlib.compress(b"home"),
                               "PNG:zTXt:Place"),
                              (b"iTXt", b"Who\x00\x00\x00\x00\x00Jane", "PNG:iTXt:Who"),
                              (b"eXIf", factory.exif_block(thumbnail=False), "EXIF:Make")):
        chunk = struct.pack(">I", len(body)) + ctype + body + struct.pack(
            ">I", zlib.crc32(ctype + body))
        path = tmp_path / f"{ctype.decode()}.png"
        path.write_bytes(data[:33] + chunk + data[33:])
        out.append((path, name))

    webp = tmp_path / "plain.webp"
    Image.fromarray(pixels).save(webp, lossless=True, exif=factory.exif_block(thumbnail=False))
    out.append((webp, "EXIF:Make"))
    tiff = tmp_path / "pages.tif"
    tiff.write_bytes(factory.raw_tiff(pixels[:8, :8], pages=2))
    out.append((tiff, "TIFF:extra-image"))
    gif = tmp_path / "c.gif"
    Image.fromarray(pixels).save(gif, comment=b"Jane")
    out.append((gif, "GIF:comment"))
    return out


def test_every_holder_is_read_back_and_fails(tmp_path):
    src = tmp_path / "src.png"
    Image.fromarray(astronaut()).save(src)
    for path, name in _holders(tmp_path):
        v = verify_pair(src, path, reid=False, residual=False)
        assert v.checks["metadata"] == "fail", path.name
        assert name in v.metadata_flagged, (path.name, v.metadata_flagged)
        text = json.dumps(v.to_dict())
        assert "VeilTestPhone" not in text and "Jane" not in text and "home" not in text


def _box(btype: bytes, body: bytes) -> bytes:
    import struct

    return struct.pack(">I", 8 + len(body)) + btype + body


def test_mp4_boxes_that_hold_hidden_content_are_named(tmp_path):
    import struct

    frames = [np.zeros((32, 32, 3), np.uint8)] * 2
    plain = write_video(tmp_path / "plain.mp4", frames)
    assert meta.iso_box_tags(plain) == []
    data = plain.read_bytes()
    pos = 0
    while pos < len(data):  # find the movie box (PyAV writes it last)
        size = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == b"moov":
            break
        pos += size
    assert pos + size == len(data)
    udta = _box(b"udta", _box(b"smta", b"VeilTestPhone") + _box(b"\xa9too", b"x"))
    moov = struct.pack(">I", size + len(udta)) + data[pos + 4:] + udta
    dirty = tmp_path / "dirty.mp4"
    dirty.write_bytes(data[:pos] + moov + _box(b"uuid", b"\x00" * 16 + b"<x:xmpmeta/>")
                      + b"MotionPhoto_Data trailing bytes")
    names = meta.video_tags(dirty)
    assert {"udta:smta", "box:uuid", "box:trailer"} <= set(names)
    assert not any("too" in n for n in names)  # the text items are shown as tags
    assert {"udta:smta", "box:uuid", "box:trailer"} <= set(meta.identifying(names))
    assert "VeilTestPhone" not in " ".join(names)


def test_veil_mkv_output_passes_metadata(tmp_path):
    """Matroska writes each stream's length as a DURATION tag: structural, not identifying."""
    from veil.jobs.video import anonymize_video
    from veil.settings import MaskSettings, ScanSettings

    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(4)]
    src = write_video(tmp_path / "in.mp4", frames)
    result = anonymize_video(src, tmp_path / "out.mkv", scan=ScanSettings(), mask=MaskSettings())
    assert result.ok, result.error
    names = meta.video_tags(result.output)
    assert "video:DURATION" in names and meta.identifying(names) == []
