"""Re-identification distances per masking method and strength (the table behind the
defaults).

Over the faces of ``../shared/data/wider-val-dev`` whose ground-truth box is at least
40 px on its shorter side (METRICS.md), each image is masked with every setting below
(all its valid ground-truth boxes, as a render would) and each face's re-id distance to
its own original is measured. Per setting: faces, min, median, and the share under the
shipped threshold (re-identifiable). ``blur k=1/4`` (kernel a quarter of the face width)
is the weak setting that must fail. With ``--photos DIR`` the faces are those veil's
scanner finds in the pictures of ``DIR`` (for larger, clearer faces than the dev set's,
such as ``../shared/data/recognition/deepface-pairs``).

Run::

    python -m benchmarks.reid_table [--root ../shared/data/wider-val-dev | --photos DIR]
        [--limit N] [--noise] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from benchmarks.metrics import xyxy
from benchmarks.wider import default_root, load_wider
from veil.detections import nested_boxes
from veil.render.masks import coverage_mask, mask_regions
from veil.scan import Scanner
from veil.settings import MaskSettings, ScanSettings
from veil.verify.recognition import (
    MIN_REID_SIDE,
    reference_margin,
    reid_distances,
    reid_threshold,
    reidentifiable,
    solid_reference,
)

REFERENCE = "(solid reference)"

SETTINGS: dict[str, MaskSettings] = {
    "blur k=1/4 (weak)": MaskSettings(method="blur", blur_ratio=0.25),
    "blur k=0.4": MaskSettings(method="blur", blur_ratio=0.4),
    "blur k=0.6 (default)": MaskSettings(method="blur"),
    "blur k=0.6 no noise": MaskSettings(method="blur", noise=0.0),
    "pixelate 16 blocks (weak)": MaskSettings(method="pixelate", pixel_blocks=16),
    "pixelate 12 blocks": MaskSettings(method="pixelate", pixel_blocks=12),
    "pixelate 8 blocks": MaskSettings(method="pixelate", pixel_blocks=8),
    "pixelate 6 blocks": MaskSettings(method="pixelate", pixel_blocks=6),
    "solid": MaskSettings(method="solid"),
}
# Equally irreversible fills of the same region: their spread is the measurement's noise.
NOISE_FILLS = ("mean colour + noise 12", "black", "grey")


def _fills(img: np.ndarray, region: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """The solid reference and the other irreversible fills of ``region`` (NOISE_FILLS)."""
    ref = solid_reference(img, region)
    noisy = ref.astype(np.float32)
    noisy[region] += rng.normal(0, 12, (int(region.sum()), 3))
    black, grey = img.copy(), img.copy()
    black[region], grey[region] = 0, 128
    return [ref, np.clip(noisy, 0, 255).astype(np.uint8), black, grey]


def wider_faces(root: Path) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(RGB image, xyxy boxes, measured)`` of the dev images with a face >= 40 px: their
    valid ground-truth faces, all measured."""
    for item in load_wider(root):
        boxes = xyxy(item.boxes[~item.invalid])
        if any(min(b[2] - b[0], b[3] - b[1]) >= MIN_REID_SIDE for b in boxes):
            yield _read(root / "images" / item.name), boxes, np.ones(len(boxes), bool)


def detected_faces(folder: Path) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(RGB image, xyxy boxes, measured)`` of every picture in ``folder``: the boxes
    veil's scanner finds (default settings), for photos that have no ground truth; all
    are masked, those at the threshold are measured (as verification re-identifies
    only faces detected at the threshold)."""
    settings = ScanSettings()
    scanner = Scanner(settings)
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() not in {".jpg", ".jpeg", ".png", ".webp"}:
            continue
        img = _read(path)
        found = scanner.scan(img)
        yield img, found.boxes.astype(np.float32), found.scores >= settings.threshold


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def measure(faces_of: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
            limit: int | None = None,
            noise: bool = False) -> tuple[dict[str, list[float]], list[int]]:
    """Distances per setting name over the faces >= 40 px of ``faces_of`` (pictures, their
    face boxes and which of them to measure; every box is masked, as a render would);
    ``REFERENCE`` holds each face's solid-reference distance (for the default margin and
    shape), ``ref:<name>`` the reference of each setting's own region, and with ``noise``
    the NOISE_FILLS. Also, per face, the index of its picture."""
    names = list(SETTINGS) + [REFERENCE] + [f"ref:{n}" for n in SETTINGS]
    if noise:
        names += list(NOISE_FILLS)
    dist: dict[str, list[float]] = {name: [] for name in names}
    images: list[int] = []
    faces = 0
    for index, (img, boxes, measured) in enumerate(faces_of):
        inner = nested_boxes(boxes)  # parts of a larger face's box, as verification skips
        big = [b for b, part, m in zip(boxes, inner, measured, strict=True)
               if m and not part and min(b[2] - b[0], b[3] - b[1]) >= MIN_REID_SIDE]
        if not big:
            continue
        rng = np.random.default_rng(0)
        outs = [mask_regions(img, boxes, s, rng) for s in SETTINGS.values()]
        h, w = img.shape[:2]
        for box in big:
            for name, d in zip(SETTINGS, reid_distances(img, outs, box), strict=True):
                dist[name].append(d)
            refs = [solid_reference(img, coverage_mask((h, w), boxes, s))
                    for s in SETTINGS.values()]
            for name, d in zip(SETTINGS, reid_distances(img, refs, box), strict=True):
                dist[f"ref:{name}"].append(d)
            region = coverage_mask((h, w), boxes, MaskSettings())
            fills = _fills(img, region, rng) if noise else [solid_reference(img, region)]
            ds = reid_distances(img, fills, box)
            dist[REFERENCE].append(ds[0])
            for name, d in zip(NOISE_FILLS, ds[1:], strict=False):
                dist[name].append(d)
            images.append(index)
            faces += 1
            if limit is not None and faces >= limit:
                return dist, images
    return dist, images


def table(dist: dict[str, list[float]], threshold: float, margin: float | None = None,
          images: list[int] | None = None) -> list[dict[str, object]]:
    """One row per setting: faces, min, median, share under the threshold, the share of
    faces that fails the check (under the threshold AND closer than its solid reference by
    more than ``margin``) and, given each face's ``images`` index, the share of images
    (with a face >= 40 px) whose output fails it, as ``veil verify`` judges a file."""
    rows = []
    for name, values in dist.items():
        if name.startswith("ref:"):
            continue
        arr = np.asarray(values)
        refs = dist.get(f"ref:{name}", dist[REFERENCE]) if name in SETTINGS else None
        fails = image_fails = None
        if refs is not None and len(arr):
            bad = [reidentifiable(d, r, threshold, margin)
                   for d, r in zip(arr, refs, strict=True)]
            fails = round(float(np.mean(bad)), 3)
            if images is not None:
                failed = {i for i, b in zip(images, bad, strict=True) if b}
                image_fails = round(len(failed) / len(set(images)), 3)
        rows.append({
            "fails_check": fails,
            "images_failing": image_fails,
            "setting": name,
            "faces": len(arr),
            "min": round(float(arr.min()), 3) if len(arr) else None,
            "median": round(float(np.median(arr)), 3) if len(arr) else None,
            "share_under_threshold": round(float(np.mean(arr < threshold)), 3)
            if len(arr) else None,
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table as markdown (and optionally write it as JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=default_root())
    ap.add_argument("--photos", type=Path, default=None,
                    help="measure the faces veil's scanner finds in the pictures of this "
                    "folder instead of the dev set's ground truth (for example "
                    "../shared/data/recognition/deepface-pairs: larger, clearer faces)")
    ap.add_argument("--limit", type=int, default=None, help="stop after this many faces")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--noise", action="store_true", help="also measure other irreversible "
                    "fills and print the spread of their distance to the reference's")
    args = ap.parse_args(argv)
    if args.photos is None and not (args.root / "gt.txt").is_file():
        print(f"no WIDER dev set at {args.root}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    threshold = reid_threshold()
    faces_of = detected_faces(args.photos) if args.photos else wider_faces(args.root)
    dist, images = measure(faces_of, args.limit, args.noise)
    rows = table(dist, threshold, images=images)
    print(f"threshold {threshold:.4f} (shipped calibration), reference margin "
          f"{reference_margin():.3f}; faces >= {MIN_REID_SIDE:.0f} px")
    print(f"{len(set(images))} images hold the {len(images)} faces")
    print("| setting | faces | min | median | share under threshold | faces failing the "
          "check | images failing |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} | {r['faces']} | {r['min']} | {r['median']} | "
              f"{r['share_under_threshold']} | {r['fails_check']} | {r['images_failing']} |")
    if args.noise:
        ref = np.asarray(dist[REFERENCE])
        for name in NOISE_FILLS:
            gap = np.abs(np.asarray(dist[name]) - ref)
            print(f"|{name} - reference|: median {np.median(gap):.3f}, "
                  f"p95 {np.percentile(gap, 95):.3f}, max {gap.max():.3f}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json is not None:
        args.json.write_text(json.dumps({"threshold": threshold, "rows": rows,
                                         "distances": dist, "images": images}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
