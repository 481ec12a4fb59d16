"""``python -m veil.demo [FOLDER]``: build a small sample that veil may ship, and run veil on it.

The sample is made at run time from the public-domain astronaut photograph that
scikit-image ships (``skimage.data.astronaut()``, NASA): a group picture with the
astronaut at several sizes and angles (faces from about 11 to 80 pixels wide), a sideways
phone-style JPEG whose EXIF says "rotate to view" and carries GPS, camera and date
tags, and a PNG. veil then writes masked copies and the plans; the metadata tags
before and after are printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

# (size in pixels of the whole 512x512 photograph, rotation in degrees, x, y)
_PLACEMENTS: tuple[tuple[int, float, int, int], ...] = (
    (440, 0.0, 30, 40),
    (260, 12.0, 520, 30),
    (200, -20.0, 830, 60),
    (130, 0.0, 540, 330),
    (90, 25.0, 720, 350),
    (76, 0.0, 840, 380),
    (64, -10.0, 940, 400),
)


def _astronaut() -> Image.Image:
    try:
        from skimage.data import astronaut
    except ImportError as exc:  # pragma: no cover - scikit-image is the `demo` extra
        raise SystemExit("veil: the demo needs scikit-image: pip install 'veil[demo]' "
                         "(or scikit-image), or run `make demo` in a clone") from exc
    return Image.fromarray(astronaut())


def group_picture(photo: Image.Image) -> Image.Image:
    """A 1100x520 canvas with the photograph pasted at the sizes and angles above."""
    yy, xx = np.mgrid[0:520, 0:1100]
    base = np.stack([90 + xx * 60 // 1100, 110 + yy * 40 // 520, 130 + 0 * xx], axis=-1)
    canvas = Image.fromarray(base.astype(np.uint8))
    for size, angle, x, y in _PLACEMENTS:
        tile = photo.resize((size, size), Image.Resampling.LANCZOS).convert("RGBA")
        if angle:
            tile = tile.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        canvas.paste(tile, (x, y), tile)
    return canvas


def sideways_jpeg(photo: Image.Image, path: Path) -> None:
    """Store the photograph turned on its side with EXIF orientation 6 (display: turn it
    back), GPS position, camera make/model, date and an embedded thumbnail."""
    stored = photo.transpose(Image.Transpose.ROTATE_90)  # upright = stored turned 90° clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "VeilDemoCam"  # Make
    exif[0x0110] = "Model 1"  # Model
    exif[0x0132] = "2024:06:01 12:00:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.0)
    gps[3], gps[4] = "E", (2.0, 17.0, 40.0)
    stored.save(path, "JPEG", quality=92, exif=exif)


def build_sample(folder: Path) -> Path:
    """Write the sample pictures into ``folder/input`` (nested, as a user's folder would be)."""
    photo = _astronaut()
    inputs = folder / "input"
    (inputs / "phone").mkdir(parents=True, exist_ok=True)
    group_picture(photo).save(inputs / "group.jpg", "JPEG", quality=92)
    sideways_jpeg(photo, inputs / "phone" / "sideways.jpg")
    photo.resize((320, 320), Image.Resampling.LANCZOS).save(inputs / "portrait.png")
    return inputs


def _tags(path: Path) -> str:
    try:
        from veil.media.metadata import metadata_tags
    except ImportError:  # pragma: no cover
        return "?"
    tags = metadata_tags(path)
    return ", ".join(tags) if tags else "none"


def run(folder: Path) -> int:
    """Build the sample under ``folder`` and run ``veil`` on it; return veil's exit code."""
    from veil.cli import main

    inputs = build_sample(folder)
    outputs, plans = folder / "masked", folder / "plans"
    print(f"sample pictures written to {inputs}/ (built from skimage.data.astronaut())")
    args = [str(inputs), "-o", str(outputs), "--plan-dir", str(plans), "--overwrite"]
    print("running: veil " + " ".join(args))
    code = main.main(args=args, prog_name="veil", standalone_mode=False)
    code = int(code or 0)
    sideways = "phone/sideways.jpg"
    print(f"metadata of {sideways} before: {_tags(inputs / sideways)}")
    print(f"metadata of {sideways} after:  {_tags(outputs / sideways)}")
    print(f"look at {outputs}/ (masked copies, the folder to publish), {plans}/ (what was "
          f"masked, as JSON) and {outputs}.veil/report/report.html (the audit report)")
    return code


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m veil.demo [FOLDER]`` (default ``demo-out``)."""
    argv = sys.argv[1:] if argv is None else argv
    return run(Path(argv[0] if argv else "demo-out"))


if __name__ == "__main__":
    sys.exit(main())
