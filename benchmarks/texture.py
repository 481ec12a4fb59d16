"""Collateral on faceless texture: how many regions veil masks where there is no face.

Pictures of flowers, foliage and crowds of small round objects have no face, yet a face
detector can fire on them (a phone photo of wisteria once got 237 masked regions). This
benchmark counts the regions the photo scan (the default settings of ``veil``) finds on
such pictures, all of which are collateral:

- ``blossoms``: a procedural picture of many small round flowers on foliage (made here,
  deterministic), the wisteria kind;
- ``grass``, ``gravel``, ``coins``, ``hubble_deep_field``: photographs shipped with
  scikit-image (``skimage.data``, public domain or CC0), grey pictures as grey RGB.

Run: ``python -m benchmarks.texture [--side 1024]``; prints one line per picture and
the JSON of all figures. The detector's fix belongs to the detector's own work; this
only measures.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from veil.scan.scanner import Scanner
from veil.settings import ScanSettings

SKIMAGE_PICTURES = ("grass", "gravel", "coins", "hubble_deep_field")


def blossoms(height: int = 768, width: int = 1024, seed: int = 7) -> np.ndarray:
    """A faceless texture: thousands of small round lilac flowers in hanging clusters
    over dark green foliage, with shading on each flower. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    noise = rng.random((height // 16 + 2, width // 16 + 2)).astype(np.float32)
    leaves = np.asarray(Image.fromarray((noise * 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC), np.float32) / 255.0
    img = np.stack([30 + 40 * leaves, 60 + 70 * leaves, 25 + 30 * leaves], axis=-1)
    scale = min(height, width) / 768.0
    clusters = max(4, int(40 * (height * width) / (768 * 1024)))
    for _ in range(clusters):
        cx, top = rng.uniform(0, width), rng.uniform(-0.2 * height, 0.7 * height)
        length = rng.uniform(0.2, 0.45) * height
        for _ in range(int(rng.integers(60, 120))):
            t = rng.random()
            spread = (1.0 - 0.7 * t) * 40 * scale
            fx = cx + rng.normal(0, spread / 2)
            fy = top + t * length
            r = rng.uniform(4, 9) * scale
            x1, x2 = int(max(0, fx - r - 1)), int(min(width, fx + r + 2))
            y1, y2 = int(max(0, fy - r - 1)), int(min(height, fy + r + 2))
            if x1 >= x2 or y1 >= y2:
                continue
            d = np.hypot(x[y1:y2, x1:x2] - fx, y[y1:y2, x1:x2] - fy) / r
            inside = d < 1.0
            shade = (1.0 - 0.5 * d)[..., None]
            colour = np.array([170, 130, 215], np.float32) * rng.uniform(0.75, 1.15)
            patch = img[y1:y2, x1:x2]
            patch[inside] = np.clip(colour * shade, 0, 255)[inside]
            centre = d < 0.25
            patch[centre] = (240, 230, 150)
    return np.clip(img, 0, 255).astype(np.uint8)


def _skimage(name: str) -> np.ndarray:
    import skimage.data

    arr = np.asarray(getattr(skimage.data, name)())
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr[..., :3].astype(np.uint8))


def pictures(side: int = 1024) -> dict[str, Callable[[], np.ndarray]]:
    """The benchmark's pictures by name (made or loaded when called); the photographs
    only when scikit-image is installed."""
    out: dict[str, Callable[[], np.ndarray]] = {
        "blossoms": lambda: blossoms(side * 3 // 4, side)}
    try:
        import skimage.data  # noqa: F401 - only its presence is checked here
    except ImportError:  # scikit-image is a dev/demo extra: the made picture still runs
        return out
    for name in SKIMAGE_PICTURES:
        out[name] = lambda name=name: _skimage(name)
    return out


def count_regions(scanner: Scanner, pixels: np.ndarray) -> int:
    """Regions the photo scan finds on ``pixels`` (each would be masked)."""
    return int(len(scanner.scan(pixels)))


def run(side: int = 1024, names: list[str] | None = None,
        scan: ScanSettings | None = None) -> dict[str, dict[str, object]]:
    """Regions found on each picture, with its size and the scan time."""
    scanner = Scanner(scan or ScanSettings())
    results: dict[str, dict[str, object]] = {}
    for name, load in pictures(side).items():
        if names and name not in names:
            continue
        pixels = load()
        t0 = time.perf_counter()
        regions = count_regions(scanner, pixels)
        results[name] = {"regions": regions, "size": [int(pixels.shape[1]),
                                                      int(pixels.shape[0])],
                         "seconds": round(time.perf_counter() - t0, 2)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1024,
                        help="width of the procedural picture (default 1024)")
    parser.add_argument("names", nargs="*", help="pictures to run (default: all)")
    args = parser.parse_args(argv)
    results = run(args.side, args.names or None)
    for name, r in results.items():
        print(f"{name:20s} {r['size'][0]}x{r['size'][1]}  regions masked: {r['regions']}")  # type: ignore[index]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
