"""Image files in and out: upright RGB pixels in, clean files (no metadata) out.

Reading (:func:`read_image`) decodes fully, applies the EXIF orientation and converts
every colour mode to 8-bit RGB plus an optional alpha plane. Every problem with the input
becomes a :class:`veil.errors.MediaError` with one clear reason.

Writing (:func:`write_image`) builds a fresh image from the pixels, so nothing of the
original's metadata can travel along; the only item ever written is the ICC profile, when
one is passed. The file appears under its final name only when complete and after its
metadata has been read back with :func:`veil.media.metadata.metadata_tags`.

Size limit: :data:`MAX_PIXELS` is 150 megapixels (width x height as the file declares it,
checked before any pixel is decoded). That is above every phone and consumer camera sensor
(the largest are about 100-110 MP) while bounding the decoded frame to 450 MB of RGB.
Pillow's own decompression-bomb error (raised at about 179 MP by default) is reported the
same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import struct
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError, features

from veil.errors import MediaError
from veil.media.atomic import atomic_path
from veil.media.kinds import IMAGE_SUFFIXES  # noqa: F401  (re-exported)
from veil.media.metadata import heif_boxes, jpeg_motion_video, metadata_tags

pillow_heif.register_heif_opener()
Image.init()

__all__ = [
    "ANIMATED_FORMATS",
    "IMAGE_SUFFIXES",
    "MAX_ANIMATION_PIXELS",
    "MAX_PIXELS",
    "Animation",
    "LoadedImage",
    "frame_count",
    "output_format",
    "output_suffix",
    "read_animation",
    "read_image",
    "to_srgb",
    "write_animation",
    "write_image",
]

MAX_PIXELS: int = 150_000_000
"""Largest image accepted, in pixels (width x height as declared by the file)."""

# Pillow format names veil decodes. Pillow's JPEG opener returns format "MPO" for a JPEG
# that carries an MPF index of further pictures (previews, depth maps): its first frame is
# the photo, and it is handled as JPEG.
_READ_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "HEIF", "AVIF", "GIF")
# Formats whose animations veil masks frame by frame (see :func:`read_animation`).
ANIMATED_FORMATS: frozenset[str] = frozenset({"GIF", "WEBP"})
_SUFFIX_FORMAT = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".heic": "HEIF",
    ".heif": "HEIF",
    ".avif": "AVIF",
    ".gif": "GIF",
}
_CANONICAL_SUFFIX = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "TIFF": ".tif",
    "BMP": ".bmp",
    "AVIF": ".avif",
    "GIF": ".gif",
}
_WRITE_FORMAT = {
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "HEIF": "JPEG",
    "PNG": "PNG",
    "WEBP": "WEBP",
    "TIFF": "TIFF",
    "BMP": "BMP",
    "GIF": "GIF",
    # AVIF stays AVIF where this Pillow has an AVIF encoder; else lossless PNG.
    "AVIF": "AVIF" if features.check_module("avif") else "PNG",
}
_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF", "AVIF", "GIF"})

# EXIF orientation -> the Pillow transpose that makes the stored picture upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_truncation_lock = threading.Lock()


@dataclass
class LoadedImage:
    """A decoded image, upright, as 8-bit RGB (plus alpha when the source has one)."""

    pixels: np.ndarray
    """(H, W, 3) uint8 RGB, upright (EXIF orientation applied)."""
    alpha: np.ndarray | None
    """(H, W) uint8 when the source has an alpha channel or transparency, else None."""
    format: str
    """Pillow format name of the source: JPEG, PNG, WEBP, TIFF, BMP or HEIF."""
    icc_profile: bytes | None
    """The source's RGB ICC profile (None when absent or not an RGB profile)."""
    orientation: int
    """The EXIF orientation (1-8) that was applied to make the pixels upright; 1 when none."""
    lossless: bool = False
    """True when the source is stored losslessly (PNG, TIFF, BMP, GIF, lossless WebP)."""
    notes: list[str] = field(default_factory=list)
    """What of the source is not in the pixels (further images of a HEIF file, a motion
    photo's video), one sentence each, for the user."""


# --------------------------------------------------------------------------- reading


@contextlib.contextmanager
def _strict_decoding() -> Iterator[None]:
    """Make Pillow refuse truncated data for the duration, whatever the global setting.

    Pillow's default already refuses it; only when someone switched
    ``ImageFile.LOAD_TRUNCATED_IMAGES`` on is it switched off here (under a lock, so
    that concurrent reads restore it correctly). Our own pixel limit is checked
    explicitly, so Pillow's decompression-bomb *warning* is silenced meanwhile.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if not ImageFile.LOAD_TRUNCATED_IMAGES:
            yield
            return
        with _truncation_lock:
            saved = ImageFile.LOAD_TRUNCATED_IMAGES
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            try:
                yield
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _open_file(path: Path) -> IO[bytes]:
    """Open ``path`` for reading, turning every OS problem into one clear MediaError."""
    try:
        st = path.stat()
    except OSError as exc:
        raise MediaError.from_os_error(path, exc) from exc
    if path.is_dir():
        raise MediaError(path, "is a directory, not an image file")
    if not path.is_file():
        raise MediaError(path, "not a regular file")
    if st.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise MediaError.from_os_error(path, exc) from exc


def _unsupported_reason(fh: IO[bytes]) -> str:
    """Why a file no supported decoder accepted is refused (names its format if known)."""
    try:
        fh.seek(0)
        with Image.open(fh) as other:
            fmt = other.format or "unknown"
            if getattr(other, "is_animated", False) or getattr(other, "n_frames", 1) > 1:
                return f"animated images are not supported yet ({fmt})"
            return (
                f"unsupported image format {fmt} "
                "(veil reads JPEG, PNG, WebP, TIFF, BMP, HEIC/HEIF, AVIF and GIF)"
            )
    except Exception:  # any failure here just means: not an image we can name
        return "not an image file (its contents match no known image format)"


def _webp_lossless(fh: IO[bytes]) -> bool:
    """Whether a WebP file's image data is VP8L (lossless)."""
    fh.seek(12)
    for _ in range(64):
        head = fh.read(8)
        if len(head) < 8:
            return False
        fourcc, size = head[:4], struct.unpack("<I", head[4:])[0]
        if fourcc == b"VP8L":
            return True
        if fourcc == b"VP8 ":
            return False
        if fourcc == b"ANMF":  # first frame of an animation: look inside it
            fh.seek(16, 1)
            continue
        fh.seek(size + (size & 1), 1)
    return False


def _exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation (1-8) the image declares; 1 when absent, invalid or unreadable."""
    try:
        value = int(im.getexif().get(0x0112, 1))
    except Exception:  # unreadable EXIF: leave the picture as stored
        return 1
    return value if 1 <= value <= 8 else 1


def _scale_to_8bit(im: Image.Image) -> Image.Image:
    """Grey images of 16-bit, 32-bit integer or float samples as 8-bit grey."""
    arr = np.asarray(im)
    if im.mode.startswith("I;16"):
        out = (arr.astype(np.uint32) + 128) // 257
    elif im.mode == "I":
        top = int(arr.max()) if arr.size else 0
        out = arr.clip(0, 65535) // 257 if top > 255 else arr.clip(0, 255)
    else:  # "F"
        finite = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(finite.max()) if finite.size else 0.0
        out = np.rint(finite.clip(0, 1) * 255) if peak <= 1.0 else finite.clip(0, 255)
    return Image.fromarray(np.ascontiguousarray(out.astype(np.uint8)))


def _icc_colour_space(icc: bytes | None) -> bytes | None:
    return icc[16:20] if icc and len(icc) >= 128 else None


def _to_rgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, Image.Image | None, bool]:
    """Convert any mode to RGB plus an optional alpha ("L") image.

    Returns (rgb, alpha, keep_icc): ``keep_icc`` is False when the colours were
    converted away from the space the source profile describes.
    """
    mode = im.mode
    has_key = "transparency" in im.info
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode in ("P", "L", "RGB") and has_key):
        rgba = im.convert("RGBA")
        r, g, b, a = rgba.split()
        return Image.merge("RGB", (r, g, b)), a, mode in ("RGBA", "RGBa", "P", "PA", "RGB")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _scale_to_8bit(im).convert("RGB"), None, False
    if mode in ("CMYK", "LAB"):
        if mode == "CMYK" and _icc_colour_space(icc) == b"CMYK":
            with contextlib.suppress(ImageCms.PyCMSError, OSError, ValueError):
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc or b""))
                dst = ImageCms.createProfile("sRGB")
                rgb = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
                assert rgb is not None  # None only when converting in place
                return rgb, None, False
        if mode == "LAB":
            xform = ImageCms.buildTransform(
                ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
            )
            lab = ImageCms.applyTransform(im, xform)
            assert lab is not None  # None only when converting in place
            return lab, None, False
        return im.convert("RGB"), None, False
    return im.convert("RGB"), None, mode in ("RGB", "P", "YCbCr", "RGBX")


def _decode(path: Path, fh: IO[bytes]) -> LoadedImage:
    try:
        im = Image.open(fh, formats=_READ_FORMATS)
    except UnidentifiedImageError:
        raise MediaError(path, _unsupported_reason(fh)) from None
    except Image.DecompressionBombError as exc:
        raise MediaError(path, f"image too large, possibly a decompression bomb ({exc})") from None
    except Exception as exc:
        raise MediaError(path, f"damaged image header ({exc})") from None
    with im:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise MediaError(path, f"image declares an empty size ({width}x{height})")
        if width * height > MAX_PIXELS:
            raise MediaError(
                path,
                f"image too large: {width}x{height} = {width * height:,} pixels declared "
                f"(limit {MAX_PIXELS:,}); refusing to decode a possible decompression bomb",
            )
        fmt = "JPEG" if im.format == "MPO" else str(im.format)
        frames = getattr(im, "n_frames", 1)
        notes: list[str] = []
        if fmt == "HEIF" and frames > 1:
            # A burst, a spatial (stereo) photo: the primary image is the photo shown.
            notes.append(
                f"the HEIF file holds {frames} images; only its primary image was kept "
                f"(the other {frames - 1} were dropped)"
            )
        elif fmt != "JPEG" and (getattr(im, "is_animated", False) or frames > 1):
            if fmt == "TIFF":
                reason = f"multi-page TIFF files are not supported yet ({frames} pages)"
                raise MediaError(path, reason)
            raise MediaError(path, f"animated images are not supported yet ({frames} frames)")
        # Pillow's TIFF loader applies the Orientation tag itself and then removes it, so
        # it is read before loading; for other formats EXIF may sit after the pixel data.
        tiff_orientation = _exif_orientation(im) if fmt == "TIFF" else 1
        try:
            if im.format == "MPO":
                im.seek(0)
            im.load()
        except Image.DecompressionBombError as exc:
            reason = f"image too large, possibly a decompression bomb ({exc})"
            raise MediaError(path, reason) from None
        except MemoryError:
            raise MediaError(path, "not enough memory to decode the image") from None
        except Exception as exc:
            if "truncated" in str(exc):  # Pillow's "(N bytes not processed)" counts nothing useful
                raise MediaError(path, "truncated image: the file ends before the picture "
                                       "does") from None
            raise MediaError(path, f"damaged or truncated image data ({exc})") from None
        already_upright = False
        if fmt == "HEIF":
            # libheif applies the container's rotation/mirroring; pillow-heif keeps the EXIF
            # orientation it stood for here.
            orientation = int(im.info.get("original_orientation") or 1)
            already_upright = True
        elif fmt == "TIFF":
            orientation = tiff_orientation
            already_upright = orientation != 1 and _exif_orientation(im) == 1
        else:
            orientation = _exif_orientation(im)

        icc = im.info.get("icc_profile") or None
        try:
            rgb, alpha, keep_icc = _to_rgb(im, icc)
        except Exception as exc:
            raise MediaError(path, f"unsupported colour mode {im.mode} ({exc})") from None

        lossless = fmt in ("PNG", "TIFF", "BMP")
        if fmt == "TIFF" and im.info.get("compression") in ("jpeg", "tiff_jpeg", "webp"):
            lossless = False
        if fmt == "WEBP":
            lossless = _webp_lossless(fh)
        if fmt == "GIF":
            lossless = True

    transpose = None if already_upright else _UPRIGHT.get(orientation)
    if transpose is not None:
        rgb = rgb.transpose(transpose)
        alpha = alpha.transpose(transpose) if alpha is not None else None
    pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    alpha_arr = None
    if alpha is not None:
        alpha_arr = np.ascontiguousarray(np.asarray(alpha, dtype=np.uint8))
    if keep_icc and _icc_colour_space(icc) != b"RGB ":
        keep_icc = False
    return LoadedImage(
        pixels=pixels,
        alpha=alpha_arr,
        format=fmt,
        icc_profile=bytes(icc) if keep_icc and icc else None,
        orientation=orientation,
        lossless=lossless,
        notes=notes + _motion_photo_notes(fh, fmt),
    )


def _motion_photo_notes(fh: IO[bytes], fmt: str) -> list[str]:
    """A note when the file is a motion photo whose video veil does not carry over."""
    if fmt not in ("JPEG", "HEIF"):
        return []
    fh.seek(0)
    data = fh.read()
    if fmt == "JPEG":
        video = jpeg_motion_video(data)
    else:
        video = any(btype == "mpvd" for btype, _ in heif_boxes(data)[0])
    if not video:
        return []
    return ["motion photo: its video part was dropped (only the still picture is kept)"]


def _check_container(path: Path, fh: IO[bytes]) -> None:
    """Refuse a HEIF/AVIF file whose boxes run past its end: it is truncated.

    (libheif may otherwise name a cut-off file by a symptom, such as the wrong number of
    images.)"""
    fh.seek(0)
    head = fh.read(12)
    if head[4:8] != b"ftyp":
        return
    fh.seek(0)
    if heif_boxes(fh.read())[1] == "truncated":
        raise MediaError(path, "truncated HEIF/AVIF file (a box runs past the end of the file)")
    fh.seek(0)


def read_image(path: Path) -> LoadedImage:
    """Decode the image at ``path`` fully, upright, as 8-bit RGB (+ alpha).

    Raises :class:`veil.errors.MediaError` for a missing, unreadable, empty, damaged,
    truncated, unsupported, animated or oversized (more than :data:`MAX_PIXELS`) file.
    """
    path = Path(path)
    fh = _open_file(path)
    with fh, _strict_decoding():
        _check_container(path, fh)
        return _decode(path, fh)


# --------------------------------------------------------------------------- colour


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# Every colour of a 33-level grid (levels 0, 8, ..., 248, 255), as a 1-row picture.
_LEVELS = np.append(np.arange(0, 256, 8), 255).astype(np.uint8)
_PROBE_ARR = np.stack(np.meshgrid(_LEVELS, _LEVELS, _LEVELS, indexing="ij"), -1).reshape(1, -1, 3)
_PROBE = Image.fromarray(np.ascontiguousarray(_PROBE_ARR))


def to_srgb(loaded: LoadedImage) -> LoadedImage:
    """``loaded`` with its pixels converted from its ICC profile's colours to sRGB.

    An output written without a profile is shown as sRGB; converting first keeps its
    colours as the source showed them (a Display P3 or Adobe RGB photo would otherwise
    look dull or shifted). The result carries no profile. A picture without a profile is
    returned unchanged; so is one whose profile the colour engine cannot use (it is
    then shown as sRGB, as any viewer without colour management shows it). Alpha is
    untouched. Relative colorimetric intent: colours inside sRGB stay exactly as they
    were; the few outside it are clipped to its edge.
    """
    if not loaded.icc_profile:
        return loaded
    return dataclasses.replace(loaded, pixels=pixels_to_srgb(loaded.pixels, loaded.icc_profile),
                               icc_profile=None)


def pixels_to_srgb(pixels: np.ndarray, icc: bytes | None) -> np.ndarray:
    """RGB ``uint8`` pixels in ``icc``'s colours converted to sRGB, as :func:`to_srgb`
    converts them; returned unchanged without a profile, with an sRGB one or with one
    the colour engine cannot use."""
    if not icc:
        return pixels
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        transform = ImageCms.buildTransform(
            src, _SRGB, "RGB", "RGB", renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC
        )
        if np.array_equal(np.asarray(ImageCms.applyTransform(_PROBE, transform)), _PROBE_ARR):
            # an sRGB profile (or one the same on a 33-level grid): nothing to convert
            return pixels
        rgb = ImageCms.applyTransform(Image.fromarray(pixels), transform)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return pixels
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


# --------------------------------------------------------------------------- animations

MAX_ANIMATION_PIXELS: int = 400_000_000
"""Largest animation accepted: width x height x frames (about 1.2 GB of RGB frames)."""


@dataclass
class Animation:
    """The frames of an animated GIF or WebP, each fully composed, as displayed."""

    frames: list[np.ndarray]
    """(H, W, 3) uint8 RGB per frame."""
    alphas: list[np.ndarray] | None
    """(H, W) uint8 alpha per frame, or None when every frame is opaque."""
    durations: list[int]
    """How long each frame is shown, in milliseconds."""
    loop: int | None
    """Loop count as stored (0: for ever); None when the file does not say (play once)."""
    format: str
    """GIF or WEBP."""
    lossless: bool = True
    """WebP: whether its frames are stored losslessly (GIF: always)."""


def frame_count(path: Path) -> int:
    """Number of frames of an animated GIF or WebP at ``path``; 1 for anything else,
    including a file that cannot be opened (reading it then says why)."""
    try:
        with _strict_decoding(), Image.open(path, formats=("GIF", "WEBP")) as im:
            return int(getattr(im, "n_frames", 1)) if im.format in ANIMATED_FORMATS else 1
    except Exception:  # not an animation: the still-image reader names the problem
        return 1


def read_animation(path: Path) -> Animation:
    """Decode every frame of the animated GIF or WebP at ``path``, composed as displayed.

    Raises :class:`veil.errors.MediaError` for a damaged or truncated file, or one over
    :data:`MAX_PIXELS` per frame or :data:`MAX_ANIMATION_PIXELS` in all.
    """
    path = Path(path)
    fh = _open_file(path)
    with fh, _strict_decoding():
        try:
            im = Image.open(fh, formats=("GIF", "WEBP"))
        except Exception as exc:
            raise MediaError(path, f"not a readable animation ({exc})") from None
        with im:
            width, height = im.size
            n = int(getattr(im, "n_frames", 1))
            if width * height > MAX_PIXELS or width * height * n > MAX_ANIMATION_PIXELS:
                raise MediaError(
                    path,
                    f"animation too large: {n} frames of {width}x{height} "
                    f"(limit {MAX_ANIMATION_PIXELS:,} pixels in all)",
                )
            fmt = str(im.format)
            loop = im.info.get("loop")
            frames: list[np.ndarray] = []
            alphas: list[np.ndarray] = []
            durations: list[int] = []
            try:
                for i in range(n):
                    im.seek(i)
                    rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
                    frames.append(np.ascontiguousarray(rgba[..., :3]))
                    alphas.append(np.ascontiguousarray(rgba[..., 3]))
                    durations.append(int(im.info.get("duration") or 0))
            except MemoryError:
                raise MediaError(path, "not enough memory to decode the animation") from None
            except Exception as exc:
                raise MediaError(path, f"damaged or truncated animation ({exc})") from None
        lossless = True if fmt == "GIF" else _webp_lossless(fh)
    opaque = all(bool((a == 255).all()) for a in alphas)
    return Animation(
        frames=frames,
        alphas=None if opaque else alphas,
        durations=durations,
        loop=None if loop is None else int(loop),
        format=fmt,
        lossless=lossless,
    )


def write_animation(
    path: Path, anim: Animation, frames: list[np.ndarray], *, quality: int = 95
) -> None:
    """Write ``frames`` (the masked frames of ``anim``) as ``anim``'s format to ``path``.

    Same frame count, durations and loop count as the source; every frame is stored
    whole (no metadata: no comments, XMP, ICC or application blocks but the loop
    count). GIF frames are reduced to a 256-colour palette each, as GIF requires; WebP
    is lossless when the source was, else lossy at ``quality``. Atomic, with the
    metadata read back before the file gets its final name, as :func:`write_image`.
    """
    path = Path(path)
    fmt = anim.format
    if fmt not in ANIMATED_FORMATS:
        raise ValueError(f"veil cannot write animations of format {fmt!r}")
    if len(frames) != len(anim.frames) or not frames:
        raise ValueError("one masked frame is needed for every frame of the animation")
    named = _SUFFIX_FORMAT.get(path.suffix.lower())
    if named is not None and named != fmt:
        raise ValueError(f"{path.name}: suffix names {named} but the animation is {fmt}")
    images = []
    for i, px in enumerate(frames):
        _check_arrays(px, anim.alphas[i] if anim.alphas else None)
        if anim.alphas is not None:
            im = Image.fromarray(np.ascontiguousarray(np.dstack([px, anim.alphas[i]])))
        else:
            im = Image.fromarray(np.ascontiguousarray(px))
        im.info.clear()
        images.append(im)
    params: dict[str, Any] = {"save_all": True, "append_images": images[1:],
                              "duration": list(anim.durations)}
    if anim.loop is not None:
        params["loop"] = anim.loop
    if fmt == "GIF":
        params.update({"optimize": False, "disposal": 1})
        if anim.alphas is None:
            images[0].info.pop("transparency", None)
    else:
        params.update({"method": 4, "exif": b"", "xmp": b"", "minimize_size": False})
        params.update({"lossless": True, "quality": 80} if anim.lossless
                      else {"quality": int(quality)})
        if anim.loop is None:
            params["loop"] = 1  # WebP stores a count; the source's absent one means once
    _save_checked(path, images[0], fmt, params, allowed=set())


# --------------------------------------------------------------------------- writing


def output_format(fmt: str) -> str:
    """Pillow format a source of format ``fmt`` is written as (HEIF/HEIC becomes JPEG;
    AVIF stays AVIF when Pillow can encode it, else becomes PNG)."""
    try:
        return _WRITE_FORMAT[fmt.upper()]
    except KeyError:
        raise ValueError(f"veil cannot write images of format {fmt!r}") from None


def output_suffix(path: Path, fmt: str) -> str:
    """Suffix for the output of source ``path`` whose format is ``fmt``.

    ``.jpg`` for HEIC/HEIF input (written as JPEG); otherwise the path's own suffix, as
    spelled, when it names the format written, else that format's usual suffix (a PNG
    file misnamed ``.jpg`` gets ``.png``).
    """
    out = output_format(fmt)
    suffix = Path(path).suffix
    if _SUFFIX_FORMAT.get(suffix.lower()) == out:
        return suffix
    return _CANONICAL_SUFFIX[out]


def _check_arrays(pixels: np.ndarray, alpha: np.ndarray | None) -> None:
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise ValueError("pixels must be a uint8 numpy array")
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ValueError(f"pixels must have shape (H, W, 3), not {pixels.shape}")
    if alpha is not None and (
        not isinstance(alpha, np.ndarray)
        or alpha.dtype != np.uint8
        or alpha.shape != pixels.shape[:2]
    ):
        raise ValueError("alpha must be a uint8 array of shape (H, W) matching the pixels")


def _flatten_on_white(pixels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.uint32)[..., None]
    out = (pixels.astype(np.uint32) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def write_image(
    path: Path,
    pixels: np.ndarray,
    fmt: str,
    *,
    alpha: np.ndarray | None = None,
    icc_profile: bytes | None = None,
    quality: int = 95,
    lossless: bool | None = None,
) -> None:
    """Write ``pixels`` (upright (H, W, 3) uint8 RGB) to ``path`` with no metadata.

    ``fmt`` is the *source* format (as in :attr:`LoadedImage.format`); the file is written
    as :func:`output_format` says: HEIF becomes JPEG, every other format stays itself.
    Only the ICC profile, when given, is embedded: no EXIF (so no Orientation), XMP, IPTC,
    comments, thumbnails, text chunks or resolution. JPEG is written at ``quality`` with
    4:4:4 chroma (no subsampling). ``alpha`` is kept for PNG, WebP and TIFF; JPEG and BMP
    outputs are flattened onto white. WebP is lossy at ``quality`` unless ``lossless``
    is True (PNG, TIFF and BMP are always lossless).

    The file is written through :func:`veil.media.atomic.atomic_path` and its metadata read
    back before it is renamed into place: on any error nothing appears under ``path``.
    Raises ``ValueError`` for bad arguments (checked before anything is written, including
    a ``path`` whose suffix names a different format) and :class:`veil.errors.MediaError`
    when encoding or writing fails.
    """
    path = Path(path)
    out = output_format(fmt)
    _check_arrays(pixels, alpha)
    named = _SUFFIX_FORMAT.get(path.suffix.lower())
    if named is not None and named != out:
        raise ValueError(f"{path.name}: suffix names {named} but the image is written as {out}")
    if not 1 <= int(quality) <= 100:
        raise ValueError("quality must be between 1 and 100")

    if alpha is not None and out in _ALPHA_FORMATS:
        rgba = np.ascontiguousarray(np.dstack([pixels, alpha]))
        image = Image.fromarray(rgba)
    else:
        rgb = _flatten_on_white(pixels, alpha) if alpha is not None else pixels
        image = Image.fromarray(np.ascontiguousarray(rgb))
    image.info.clear()

    params: dict[str, Any] = {}
    if out == "JPEG":
        params = {"quality": int(quality), "subsampling": 0, "optimize": True, "exif": b""}
    elif out == "PNG":
        # Level 1: on photographs zlib gains nothing from higher levels (measured: the same
        # size within 5%) and level 6 takes about 3.5x as long.
        params = {"compress_level": 1, "exif": b""}
    elif out == "WEBP":
        params = {"method": 4, "exif": b"", "xmp": b""}
        params.update({"lossless": True, "quality": 80} if lossless else {"quality": int(quality)})
    elif out == "TIFF":
        params = {"compression": "tiff_adobe_deflate"}
    elif out == "AVIF":
        params = {"quality": int(quality), "subsampling": "4:4:4", "exif": b"", "xmp": b""}
    if icc_profile and out != "BMP":
        params["icc_profile"] = bytes(icc_profile)

    _save_checked(path, image, out, params, allowed={"ICC"} if params.get("icc_profile") else set())


def _save_checked(
    path: Path, image: Image.Image, out: str, params: dict[str, Any], *, allowed: set[str]
) -> None:
    """Save atomically; read the metadata back and refuse anything not ``allowed``."""
    try:
        with atomic_path(path) as tmp:
            image.save(tmp, format=out, **params)
            try:
                found = metadata_tags(tmp)
            except MediaError as exc:
                raise MediaError(path, f"written file cannot be read back ({exc.reason})") from None
            left = [name for name in found if name not in allowed]
            if left:
                raise MediaError(path, f"metadata left in the written file: {', '.join(left)}")
    except MediaError:
        raise
    except OSError as exc:
        raise MediaError(path, f"cannot write image ({exc.strerror or exc})") from exc
    except Exception as exc:  # encoder refusals (too large for the format...) included
        raise MediaError(path, f"cannot write image ({exc})") from exc
