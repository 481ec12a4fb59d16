"""Re-identification distances per masking method and strength (the table behind the
defaults).

Over the faces of ``../shared/data/wider-val-dev`` whose ground-truth box is at least
40 px on its shorter side (METRICS.md), each image is masked with every setting below
(all its valid ground-truth boxes, as a render would) and each face's re-id distance to
its own original is measured. Per setting: faces, min, median, and the share under the
shipped threshold (re-identifiable). ``blur k=1/4`` (kernel a quarter of the face width)
is the weak setting that must fail.

Run::

    python -m veil.bench.reid_table [--root ../shared/data/wider-val-dev] [--limit N]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from veil.bench.wider import default_root, load_wider
from veil.render.masks import mask_regions
from veil.settings import MaskSettings
from veil.verify.recognition import MIN_REID_SIDE, reid_distances, reid_threshold

SETTINGS: dict[str, MaskSettings] = {
    "blur k=1/4 (weak)": MaskSettings(method="blur", blur_ratio=0.25),
    "blur k=0.4": MaskSettings(method="blur", blur_ratio=0.4),
    "blur k=0.6 (default)": MaskSettings(method="blur"),
    "blur k=0.6 no noise": MaskSettings(method="blur", noise=0.0),
    "pixelate 12 blocks": MaskSettings(method="pixelate", pixel_blocks=12),
    "pixelate 8 blocks": MaskSettings(method="pixelate", pixel_blocks=8),
    "pixelate 6 blocks": MaskSettings(method="pixelate", pixel_blocks=6),
    "solid": MaskSettings(method="solid"),
}


def measure(root: Path, limit: int | None = None) -> dict[str, list[float]]:
    """Distances per setting name over the dev faces >= 40 px."""
    dist: dict[str, list[float]] = {name: [] for name in SETTINGS}
    faces = 0
    for item in load_wider(root):
        boxes = item.boxes[~item.invalid]
        xyxy = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2],
                                boxes[:, 1] + boxes[:, 3]]).astype(np.float32)
        big = [b for b in xyxy if min(b[2] - b[0], b[3] - b[1]) >= MIN_REID_SIDE]
        if not big:
            continue
        with Image.open(root / "images" / item.name) as im:
            img = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        rng = np.random.default_rng(0)
        outs = [mask_regions(img, xyxy, s, rng) for s in SETTINGS.values()]
        for box in big:
            for name, d in zip(SETTINGS, reid_distances(img, outs, box), strict=True):
                dist[name].append(d)
            faces += 1
            if limit is not None and faces >= limit:
                return dist
    return dist


def table(dist: dict[str, list[float]], threshold: float) -> list[dict[str, object]]:
    """One row per setting: faces, min, median, share under the threshold."""
    rows = []
    for name, values in dist.items():
        arr = np.asarray(values)
        rows.append({
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
    ap.add_argument("--limit", type=int, default=None, help="stop after this many faces")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (args.root / "gt.txt").is_file():
        print(f"no WIDER dev set at {args.root}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    threshold = reid_threshold()
    dist = measure(args.root, args.limit)
    rows = table(dist, threshold)
    print(f"threshold {threshold:.4f} (shipped calibration); faces >= {MIN_REID_SIDE:.0f} px")
    print("| setting | faces | min | median | share under threshold |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} | {r['faces']} | {r['min']} | {r['median']} | "
              f"{r['share_under_threshold']} |")
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json is not None:
        args.json.write_text(json.dumps({"threshold": threshold, "rows": rows,
                                         "distances": dist}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
