"""Image files in and out: upright pixels, clean outputs, clear refusals."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

import imagefactory as factory
from veil.errors import MediaError
from veil.media import images
from veil.media.images import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    LoadedImage,
    output_suffix,
    read_image,
    write_image,
)
from veil.media.metadata import metadata_tags

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EXIF_DATA = SHARED / "exif"

# Strings the factories put into metadata values; none may survive into an output.
LEAKS = [factory.SECRET.encode(), b"Jane Doe", b"VeilTestCam", b"Test Photographer"]


def needs_exif_data() -> None:
    if not EXIF_DATA.is_dir():
        pytest.skip(f"shared data folder {EXIF_DATA} is absent (../shared/data/exif)")


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def normalised_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two pictures scaled to zero mean, unit deviation."""
    fa, fb = a.astype(np.float64), b.astype(np.float64)
    fa = (fa - fa.mean()) / fa.std()
    fb = (fb - fb.mean()) / fb.std()
    return float(np.abs(fa - fb).mean())


def clean_copy(src: Path, dst_dir: Path) -> tuple[LoadedImage, Path]:
    """Read ``src`` and write it back the way the pipeline does."""
    loaded = read_image(src)
    out = dst_dir / (src.stem + output_suffix(src, loaded.format))
    write_image(
        out,
        loaded.pixels,
        loaded.format,
        alpha=loaded.alpha,
        icc_profile=loaded.icc_profile,
        lossless=loaded.lossless,
    )
    return loaded, out


def assert_clean(path: Path, *, icc: bool) -> None:
    assert metadata_tags(path) == (["ICC"] if icc else [])
    data = path.read_bytes()
    for leak in LEAKS:
        assert leak not in data, leak
    with Image.open(path) as im:  # and Pillow agrees
        tags = set(im.getexif())
        if im.format == "TIFF":  # structural tags only
            tags -= {256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 338, 34675}
        assert not tags
        assert not {"xmp", "comment", "exif", "photoshop"} & set(im.info)


# --------------------------------------------------------------------------- API constants


def test_constants() -> None:
    assert {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".avif",
            ".gif"} <= IMAGE_SUFFIXES
    assert all(s == s.lower() and s.startswith(".") for s in IMAGE_SUFFIXES)
    assert 50_000_000 < MAX_PIXELS <= 250_000_000


def test_output_suffix() -> None:
    assert output_suffix(Path("a/IMG_1.HEIC"), "HEIF") == ".jpg"
    assert output_suffix(Path("a/x.heif"), "HEIF") == ".jpg"
    assert output_suffix(Path("a/x.JPG"), "JPEG") == ".JPG"
    assert output_suffix(Path("a/x.jpeg"), "JPEG") == ".jpeg"
    assert output_suffix(Path("a/x.png"), "PNG") == ".png"
    assert output_suffix(Path("a/x.tiff"), "TIFF") == ".tiff"
    assert output_suffix(Path("a/misnamed.jpg"), "PNG") == ".png"


# --------------------------------------------------------------------------- stripping


@pytest.mark.parametrize(
    ("maker", "name", "icc"),
    [
        (factory.jpeg_with_metadata, "a.jpg", True),
        (factory.png_with_metadata, "a.png", True),
        (factory.webp_with_metadata, "a.webp", True),
        (factory.tiff_with_metadata, "a.tif", True),
        (factory.heic_with_metadata, "a.heic", False),
    ],
)
def test_every_kind_of_metadata_is_stripped(tmp_path: Path, maker, name: str, icc: bool) -> None:
    src = maker(tmp_path / name)
    before = metadata_tags(src)
    assert "EXIF:GPSInfo" in before and "XMP" in before
    loaded, out = clean_copy(src, tmp_path / "out")
    assert (loaded.icc_profile is not None) == icc
    assert_clean(out, icc=icc)


def test_jpeg_thumbnail_comment_iptc_trailer_stripped(tmp_path: Path) -> None:
    src = factory.jpeg_with_metadata(tmp_path / "a.jpg", trailer=True)
    before = set(metadata_tags(src))
    assert {"EXIF:thumbnail", "JPEG:COM", "IPTC", "JPEG:trailer"} <= before
    with Image.open(src) as im:  # the thumbnail IFD is real, Pillow sees it too
        assert im.getexif().get_ifd(-1).get(0x0202)
    _, out = clean_copy(src, tmp_path / "out")
    assert_clean(out, icc=True)


def test_icc_dropped_when_not_given(tmp_path: Path) -> None:
    src = factory.jpeg_with_metadata(tmp_path / "a.jpg")
    loaded = read_image(src)
    out = tmp_path / "noicc.jpg"
    write_image(out, loaded.pixels, loaded.format)
    assert metadata_tags(out) == []


# --------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_makes_upright(tmp_path: Path, suffix: str, orientation: int) -> None:
    upright = factory.picture(48, 80)
    path = factory.oriented_file(tmp_path / f"o{orientation}{suffix}", upright, orientation)
    loaded = read_image(path)
    assert loaded.orientation == orientation
    assert loaded.pixels.shape == upright.shape
    if suffix == ".jpg":
        assert mean_abs_diff(loaded.pixels, upright) < 4.0
    else:
        np.testing.assert_array_equal(loaded.pixels, upright)
    out = tmp_path / f"out{suffix}"
    write_image(out, loaded.pixels, loaded.format)
    assert metadata_tags(out) == []  # stored upright, no Orientation tag
    again = read_image(out)
    assert again.orientation == 1 and again.pixels.shape == upright.shape


@pytest.mark.shared
@pytest.mark.parametrize("kind", ["landscape", "portrait"])
def test_shared_orientations_all_upright(kind: str) -> None:
    needs_exif_data()
    folder = EXIF_DATA / "orientation"
    reference = read_image(folder / f"{kind}_1.jpg").pixels
    for n in range(2, 9):
        loaded = read_image(folder / f"{kind}_{n}.jpg")
        assert loaded.orientation == n
        assert loaded.pixels.shape == reference.shape, n
        # _1 was saved by another program (other tones) and each sample shows its own
        # digit: compare normalised pictures, and against the wrong ways round too
        right = normalised_diff(loaded.pixels, reference)
        assert right < 0.25, n
        for wrong in (np.rot90(loaded.pixels, 2), loaded.pixels[:, ::-1], loaded.pixels[::-1]):
            assert normalised_diff(wrong, reference) > 3 * right, n


@pytest.mark.shared
def test_shared_files_come_out_clean(tmp_path: Path) -> None:
    needs_exif_data()
    files = sorted(EXIF_DATA.glob("gps/*.jpg")) + sorted(EXIF_DATA.glob("xmp/*.jpg"))
    files.append(EXIF_DATA / "tests" / "45-gps_ifd.jpg")
    for src in files:
        before = metadata_tags(src)
        assert before, src.name
        loaded, out = clean_copy(src, tmp_path)
        assert metadata_tags(out) == (["ICC"] if loaded.icc_profile else []), src.name


@pytest.mark.shared
def test_shared_heic_becomes_clean_jpeg(tmp_path: Path) -> None:
    needs_exif_data()
    src = EXIF_DATA / "heic" / "samplefilehub.heif"
    if not src.exists():
        pytest.skip(f"{src} is absent")
    loaded, out = clean_copy(src, tmp_path)
    assert loaded.format == "HEIF" and out.suffix == ".jpg"
    assert metadata_tags(out) == []
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (loaded.pixels.shape[1], loaded.pixels.shape[0])


# --------------------------------------------------------------------------- round trips


def test_png_round_trip_lossless_with_alpha(tmp_path: Path) -> None:
    src = factory.png_with_metadata(tmp_path / "a.png", alpha=True)
    loaded, out = clean_copy(src, tmp_path / "out")
    assert loaded.format == "PNG" and loaded.alpha is not None and loaded.lossless
    back = read_image(out)
    assert back.format == "PNG"
    np.testing.assert_array_equal(back.pixels, loaded.pixels)
    np.testing.assert_array_equal(back.alpha, loaded.alpha)


def test_jpeg_stays_jpeg_444(tmp_path: Path) -> None:
    src = factory.jpeg_with_metadata(tmp_path / "a.jpg")
    loaded, out = clean_copy(src, tmp_path / "out")
    with Image.open(out) as im:
        assert im.format == "JPEG"
        assert im.layer[0][1:3] == im.layer[1][1:3] == (1, 1)  # no chroma subsampling
    assert mean_abs_diff(read_image(out).pixels, loaded.pixels) < 2.0


@pytest.mark.parametrize("lossless", [False, True])
def test_webp_keeps_alpha(tmp_path: Path, lossless: bool) -> None:
    src = factory.webp_with_metadata(tmp_path / "a.webp", lossless=lossless, alpha=True)
    loaded, out = clean_copy(src, tmp_path / "out")
    assert loaded.lossless is lossless
    back = read_image(out)
    assert back.format == "WEBP" and back.alpha is not None
    assert mean_abs_diff(back.alpha, loaded.alpha) < 1.0
    if lossless:
        np.testing.assert_array_equal(
            back.pixels[loaded.alpha > 0], loaded.pixels[loaded.alpha > 0]
        )


def test_heic_becomes_jpeg(tmp_path: Path) -> None:
    src = factory.heic_with_metadata(tmp_path / "a.heic")
    loaded, out = clean_copy(src, tmp_path / "out")
    assert loaded.format == "HEIF" and out.name == "a.jpg"
    with Image.open(out) as im:
        assert im.format == "JPEG"
    assert mean_abs_diff(read_image(out).pixels, loaded.pixels) < 2.0


@pytest.mark.parametrize("fmt", ["TIFF", "BMP"])
def test_tiff_bmp_lossless(tmp_path: Path, fmt: str) -> None:
    pixels = factory.picture(40, 50)
    out = tmp_path / f"x{'.tif' if fmt == 'TIFF' else '.bmp'}"
    write_image(out, pixels, fmt)
    back = read_image(out)
    assert back.format == fmt
    np.testing.assert_array_equal(back.pixels, pixels)
    assert metadata_tags(out) == []


def test_alpha_flattened_for_jpeg(tmp_path: Path) -> None:
    pixels = np.zeros((8, 8, 3), np.uint8)
    alpha = np.zeros((8, 8), np.uint8)
    out = tmp_path / "x.jpg"
    write_image(out, pixels, "HEIF", alpha=alpha)
    assert read_image(out).pixels.mean() > 250  # transparent black over white


# --------------------------------------------------------------------------- colour modes


@pytest.mark.parametrize(
    ("mode", "has_alpha"),
    [("L", False), ("1", False), ("P", False), ("LA", True), ("RGBA", True), ("CMYK", False)],
)
def test_modes_become_rgb(tmp_path: Path, mode: str, has_alpha: bool) -> None:
    base = Image.fromarray(factory.picture(24, 32))
    im = base.convert("RGBA") if mode == "RGBA" else base.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    path = tmp_path / f"m.{fmt.lower()}"
    im.save(path, fmt)
    loaded = read_image(path)
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (24, 32, 3)
    assert (loaded.alpha is not None) == has_alpha


def test_palette_transparency_gives_alpha(tmp_path: Path) -> None:
    im = Image.fromarray(factory.picture(16, 16)).convert("P")
    im.info["transparency"] = 0
    path = tmp_path / "p.png"
    im.save(path, transparency=0)
    assert read_image(path).alpha is not None


def test_16bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 64 * 16).reshape(16, 64).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(ramp).save(path)
    loaded = read_image(path)
    grey = loaded.pixels[..., 0].astype(np.int32)
    assert grey.min() == 0 and grey.max() == 255
    assert abs(int(grey[8, 32]) - round(int(ramp[8, 32]) / 257)) <= 1


def test_float_tiff_scaled(tmp_path: Path) -> None:
    arr = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    path = tmp_path / "f.tif"
    Image.fromarray(arr).save(path)
    loaded = read_image(path)
    assert loaded.pixels.max() == 255 and loaded.pixels.min() == 0


# --------------------------------------------------------------------------- bad input


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match="empty file"):
        read_image(path)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".heic", ".tif"])
def test_truncated_files(tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = (np.random.default_rng(0).random((128, 128, 3)) * 255).astype(np.uint8)
    full = tmp_path / f"full{suffix}"
    Image.fromarray(pixels).save(full, "TIFF" if suffix == ".tif" else None)
    cut = factory.truncated(full.read_bytes(), tmp_path / f"cut{suffix}", keep=0.6)
    # even when someone switched Pillow's permissive mode on
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(MediaError) as err:
        read_image(cut)
    assert "truncated" in err.value.reason or "damaged" in err.value.reason
    assert "bytes not processed" not in err.value.reason  # Pillow's count says nothing
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored afterwards


def test_corrupt_jpeg_data(tmp_path: Path) -> None:
    data = bytearray(factory.jpeg_bytes(factory.picture(64, 64)))
    data[200:260] = b"\xff\xd9" * 30  # end-of-image markers inside the header tables
    path = tmp_path / "bad.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(MediaError):
        read_image(path)


def test_non_image_with_image_suffix(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("these are my holiday notes, not a photo\n" * 20)
    with pytest.raises(MediaError, match="not an image file"):
        read_image(path)


def test_unsupported_format_is_named(tmp_path: Path) -> None:
    path = tmp_path / "still.png"
    Image.fromarray(factory.picture(16, 16)).save(path, "TGA")
    with pytest.raises(MediaError, match="unsupported image format TGA"):
        read_image(path)
    ico = tmp_path / "icon.jpg"
    Image.fromarray(factory.picture(16, 16)).save(ico, "ICO")
    with pytest.raises(MediaError, match="unsupported image format ICO"):
        read_image(ico)


@pytest.mark.parametrize(("fmt", "suffix"), [("GIF", ".gif"), ("WEBP", ".webp"), ("PNG", ".png")])
def test_animated_refused_by_the_still_reader(tmp_path: Path, fmt: str, suffix: str) -> None:
    # GIF and WebP animations go to read_animation (the image job routes them there);
    # animated PNG is refused with this line.
    path = factory.animated(tmp_path / f"anim{suffix}", fmt)
    with pytest.raises(MediaError, match="animated images are not supported yet"):
        read_image(path)


def test_multipage_tiff_refused(tmp_path: Path) -> None:
    path = tmp_path / "pages.tif"
    path.write_bytes(factory.raw_tiff(factory.picture(8, 8), pages=3))
    with pytest.raises(MediaError, match="multi-page"):
        read_image(path)


def _two_image_heic(path: Path, primary: int = 1) -> Path:
    grey = [np.full((32, 32, 3), v, np.uint8) for v in (40, 200)]
    pics = [Image.fromarray(g) for g in grey]
    pics[0].save(path, save_all=True, append_images=pics[1:], quality=90, primary_index=primary)
    return path


@pytest.mark.parametrize("primary", [0, 1])
def test_heif_collection_keeps_its_primary_image(tmp_path: Path, primary: int) -> None:
    path = _two_image_heic(tmp_path / "two.heic", primary)
    assert "HEIF:extra-image" in metadata_tags(path)
    loaded = read_image(path)
    assert abs(float(loaded.pixels.mean()) - (40, 200)[primary]) < 6
    assert loaded.notes == [
        "the HEIF file holds 2 images; only its primary image was kept (the other 1 were dropped)"
    ]


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_heic_is_called_truncated(tmp_path: Path, keep: float) -> None:
    full = _two_image_heic(tmp_path / "two.heic")
    cut = factory.truncated(full.read_bytes(), tmp_path / "cut.heic", keep=keep)
    with pytest.raises(MediaError) as err:
        read_image(cut)
    assert "truncated" in err.value.reason and "images" not in err.value.reason


@pytest.mark.parametrize("side", [13_000, 40_000])  # 169 MP (ours), 1.6 GP (Pillow's too)
def test_decompression_bomb_refused_before_decoding(tmp_path: Path, side: int) -> None:
    path = factory.png_declaring(tmp_path / "bomb.png", side, side)
    with pytest.raises(MediaError, match="too large"):
        read_image(path)


def test_size_limit_is_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    path = tmp_path / "small.png"
    Image.fromarray(factory.picture(11, 10)).save(path)
    with pytest.raises(MediaError, match="limit 100"):
        read_image(path)


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        read_image(tmp_path / "missing.jpg")
    with pytest.raises(MediaError, match="directory"):
        read_image(tmp_path)
    locked = tmp_path / "locked.png"
    Image.fromarray(factory.picture(8, 8)).save(locked)
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user who can read any file (root)")
        with pytest.raises(MediaError, match="permission denied"):
            read_image(locked)
    finally:
        locked.chmod(0o644)


def test_permission_denied_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.png"
    Image.fromarray(factory.picture(8, 8)).save(path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(images, "open", refuse, raising=False)
    with pytest.raises(MediaError, match="permission denied"):
        read_image(path)


def test_fifo_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(MediaError, match="not a regular file"):
        read_image(fifo)


def test_encoder_refusal_becomes_media_error(tmp_path: Path) -> None:
    wide = np.zeros((1, 17_000, 3), np.uint8)  # wider than WebP allows
    with pytest.raises(MediaError, match="cannot write image"):
        write_image(tmp_path / "wide.webp", wide, "WEBP")
    assert list(tmp_path.iterdir()) == []


def test_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.webp"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00abcd")
    with pytest.raises(MediaError) as err:
        read_image(path)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(path))


# --------------------------------------------------------------------------- writing safely


def test_no_partial_file_when_encoding_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(self, fp, format=None, **params):  # noqa: A002 - Pillow's signature
        Path(fp).write_bytes(b"\xff\xd8 half a file")
        raise OSError("encoder exploded")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    out = tmp_path / "out.jpg"
    with pytest.raises(MediaError, match="encoder exploded"):
        write_image(out, factory.picture(8, 8), "JPEG")
    assert list(tmp_path.iterdir()) == []


def test_metadata_readback_blocks_a_dirty_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = Image.Image.save

    def leaky_save(self, fp, format=None, **params):  # noqa: A002
        params["comment"] = b"sneaked in"
        return real_save(self, fp, format, **params)

    monkeypatch.setattr(Image.Image, "save", leaky_save)
    with pytest.raises(MediaError, match="JPEG:COM"):
        write_image(tmp_path / "out.jpg", factory.picture(8, 8), "JPEG")
    assert list(tmp_path.iterdir()) == []


def test_write_argument_checks(tmp_path: Path) -> None:
    pixels = factory.picture(8, 8)
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", pixels.astype(np.float32), "PNG")
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", pixels[..., 0], "PNG")
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", pixels, "PNG", alpha=np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match="suffix"):
        write_image(tmp_path / "x.heic", pixels, "HEIF")
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.ico", pixels, "ICO")
    assert list(tmp_path.iterdir()) == []


def test_write_creates_no_stray_files(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", factory.picture(8, 8), "PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_read_accepts_bytes_written_by_other_tools(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(factory.picture(8, 8)).save(buf, "BMP")
    path = tmp_path / "x.bmp"
    path.write_bytes(buf.getvalue())
    assert read_image(path).format == "BMP"


# --------------------------------------------------------------------------- colour (sRGB)


def _p3_file(tmp_path: Path, stored: np.ndarray, suffix: str) -> tuple[Path, bytes]:
    icc = factory.matrix_icc(factory.DISPLAY_P3, 2.2, "Test Display P3")
    path = tmp_path / f"p3{suffix}"
    params = {"lossless": True} if suffix == ".webp" else {}
    Image.fromarray(stored).save(path, icc_profile=icc, **params)
    return path, icc


def _p3_to_srgb(stored: np.ndarray) -> np.ndarray:
    """Expected sRGB levels of Display P3 (gamma 2.2) levels, by the textbook matrices."""
    srgb_primaries = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
    m = np.linalg.inv(factory.rgb_to_xyz(srgb_primaries)) @ factory.rgb_to_xyz(factory.DISPLAY_P3)
    linear = (stored.astype(np.float64) / 255.0) ** 2.2
    return factory.srgb_encode(linear @ m.T)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp"])
def test_display_p3_converted_to_srgb(tmp_path: Path, suffix: str) -> None:
    # saturated and neutral patches, the colours that shifted most without conversion
    patches = [(200, 40, 40), (40, 180, 60), (50, 60, 200), (128, 128, 128), (230, 200, 90)]
    stored = np.repeat(np.array(patches, np.uint8)[:, None, :], 8, axis=1)
    path, icc = _p3_file(tmp_path, stored, suffix)
    loaded = read_image(path)
    assert loaded.icc_profile == icc
    converted = images.to_srgb(loaded)
    assert converted.icc_profile is None
    expected = _p3_to_srgb(loaded.pixels)
    assert np.abs(converted.pixels.astype(int) - expected).max() <= 2
    # the red moves by many levels: leaving it unconverted would shift the colour
    assert int(converted.pixels[0, 0, 0]) - int(loaded.pixels[0, 0, 0]) >= 8
    grey = converted.pixels[3, 0]
    assert np.ptp(grey.astype(int)) <= 1  # neutral stays neutral


def test_to_srgb_without_profile_or_with_a_broken_one(tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    Image.fromarray(factory.picture(8, 8)).save(plain)
    loaded = read_image(plain)
    assert images.to_srgb(loaded) is loaded
    srgb = images.to_srgb(images.LoadedImage(loaded.pixels, None, "PNG", factory.srgb_icc(), 1))
    assert srgb.icc_profile is None and srgb.pixels is loaded.pixels  # nothing to convert
    broken = images.LoadedImage(loaded.pixels, None, "PNG", b"\x00" * 200, 1)
    again = images.to_srgb(broken)
    assert again.icc_profile is None and np.array_equal(again.pixels, loaded.pixels)


def test_generic_gamma_18_profile_converted(tmp_path: Path) -> None:
    # an Apple "Generic RGB"-like profile: gamma 1.8 makes mid-tones lighter than sRGB
    icc = factory.matrix_icc(((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)), 1.8, "Generic 1.8")
    path = tmp_path / "generic.png"
    Image.fromarray(np.full((4, 4, 3), 100, np.uint8)).save(path, icc_profile=icc)
    out = images.to_srgb(read_image(path)).pixels
    expected = factory.srgb_encode(np.array([(100 / 255) ** 1.8]))[0]
    assert abs(int(out[0, 0, 0]) - expected) <= 2 and expected - 100 >= 15


# --------------------------------------------------------------------------- AVIF, GIF, motion


@pytest.mark.skipif(images.output_format("AVIF") != "AVIF", reason="Pillow without AVIF")
def test_avif_read_and_written_clean(tmp_path: Path) -> None:
    src = tmp_path / "x.avif"
    exif = Image.Exif()
    exif[0x010F] = "VeilTestCam"
    Image.fromarray(factory.picture(64, 96)).save(src, quality=90, exif=exif,
                                                  xmp=factory.XMP_PACKET)
    assert {"EXIF:Make", "XMP"} <= set(metadata_tags(src))
    loaded = read_image(src)
    assert loaded.format == "AVIF" and loaded.pixels.shape == (64, 96, 3)
    assert mean_abs_diff(loaded.pixels, factory.picture(64, 96)) < 6
    assert output_suffix(src, "AVIF") == ".avif"
    out = tmp_path / "out.avif"
    write_image(out, loaded.pixels, loaded.format)
    assert metadata_tags(out) == []
    assert mean_abs_diff(read_image(out).pixels, loaded.pixels) < 4


def test_still_gif_read_and_written_clean(tmp_path: Path) -> None:
    src = tmp_path / "x.gif"
    Image.fromarray(factory.picture(16, 16)).save(src, comment=b"Jane Doe")
    assert metadata_tags(src) == ["GIF:comment"]
    loaded = read_image(src)
    assert loaded.format == "GIF" and loaded.lossless
    out = tmp_path / "out.gif"
    write_image(out, loaded.pixels, loaded.format)
    assert metadata_tags(out) == [] and b"Jane Doe" not in out.read_bytes()


def test_motion_photo_jpeg_note(tmp_path: Path) -> None:
    path = factory.motion_photo_jpeg(tmp_path / "motion.jpg")
    assert "JPEG:trailer" in metadata_tags(path)
    assert read_image(path).notes == [
        "motion photo: its video part was dropped (only the still picture is kept)"
    ]
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(factory.jpeg_bytes(factory.picture()) + b"not a video")
    assert read_image(plain).notes == []


def test_motion_photo_heic_note(tmp_path: Path) -> None:
    heic = factory.heic_with_metadata(tmp_path / "a.heic")
    path = tmp_path / "motion.heic"
    path.write_bytes(heic.read_bytes() + factory.heif_box(b"mpvd", factory.tiny_mp4()))
    assert "HEIF:box:mpvd" in metadata_tags(path)
    assert read_image(path).notes == [
        "motion photo: its video part was dropped (only the still picture is kept)"
    ]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_round_trip(tmp_path: Path, fmt: str) -> None:
    frames = [np.roll(factory.picture(32, 48), 6 * i, axis=1) for i in range(3)]
    src = tmp_path / f"a.{fmt.lower()}"
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(src, fmt, save_all=True, append_images=ims[1:], duration=[70, 120, 250], loop=3,
                lossless=True)
    assert images.frame_count(src) == 3
    anim = images.read_animation(src)
    assert anim.format == fmt and anim.durations == [70, 120, 250] and anim.loop == 3
    assert anim.alphas is None and len(anim.frames) == 3
    for got, want in zip(anim.frames, frames, strict=True):
        assert mean_abs_diff(got, want) < (8 if fmt == "GIF" else 1)
    out = tmp_path / f"out.{fmt.lower()}"
    flat = [np.full_like(f, 60 * i) for i, f in enumerate(anim.frames)]
    images.write_animation(out, anim, flat)
    back = images.read_animation(out)
    assert back.durations == [70, 120, 250] and back.loop == 3 and back.format == fmt
    assert [int(f.max()) for f in back.frames] == [0, 60, 120]
    assert metadata_tags(out) == []
    with pytest.raises(ValueError, match="one masked frame"):
        images.write_animation(tmp_path / "x.gif" if fmt == "GIF" else tmp_path / "x.webp",
                               anim, anim.frames[:2])


def test_animation_keeps_transparency(tmp_path: Path) -> None:
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[4:12, 4:12] = (200, 30, 30, 255)
    ims = [Image.fromarray(np.roll(rgba, i, axis=1)) for i in range(2)]
    src = tmp_path / "t.webp"
    ims[0].save(src, save_all=True, append_images=ims[1:], duration=50, lossless=True)
    anim = images.read_animation(src)
    assert anim.alphas is not None and int(anim.alphas[0][0, 0]) == 0
    out = tmp_path / "o.webp"
    images.write_animation(out, anim, anim.frames)
    assert images.read_animation(out).alphas is not None


@pytest.mark.skipif(images.output_format("AVIF") != "AVIF", reason="Pillow without AVIF")
@pytest.mark.parametrize("orientation", range(1, 9))
def test_avif_orientation_makes_upright(tmp_path: Path, orientation: int) -> None:
    upright = factory.picture(48, 80)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.avif"
    Image.fromarray(factory.stored_for_orientation(upright, orientation)).save(
        path, exif=exif, quality=95)
    loaded = read_image(path)
    assert loaded.pixels.shape == upright.shape
    assert mean_abs_diff(loaded.pixels, upright) < 6
