"""Calibrate the re-identification threshold on ``../shared/data/recognition``.

METRICS.md: the threshold is the largest one that keeps the false-match rate between
different people at or below 1%, and never below 0.6. A masked face whose distance to its
own original is below it counts as re-identifiable.

Material: ``dlib-johns`` (5 people x 11 aligned crops: every cross-person pair is a
different-person pair, every within-person pair a same-person pair) and
``deepface-pairs/master.csv`` (labelled pairs). Each face is located with veil's own
scanner (the largest face of the image), exactly as verify gets its boxes from a plan,
then aligned with dlib's 5 landmarks. Embeddings live in memory for this run only.

Run::

    python -m benchmarks.calibrate_reid [--data ../shared/data/recognition]
        [--out src/veil/data/reid_calibration.json]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from veil.media.atomic import atomic_path
from veil.scan import Scanner
from veil.verify.recognition import FLOOR_THRESHOLD, calibration_embedding

MAX_FMR = 0.01
DEFAULT_DATA = Path("..") / "shared" / "data" / "recognition"
DEFAULT_OUT = (Path(__file__).resolve().parents[1] / "src" / "veil" / "data"
               / "reid_calibration.json")


def load_rgb(path: Path) -> np.ndarray:
    """An image file as upright RGB uint8."""
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def largest_face(image: np.ndarray, pad: bool = False) -> tuple[float, ...] | None:
    """Box of the largest face veil's scanner finds (``pad``: for tight crops, add a border
    so that the face does not fill the whole frame)."""
    scanner = _scanner()
    off = 0
    if pad:
        off = image.shape[0] // 2
        image = np.pad(image, ((off, off), (off, off), (0, 0)), mode="edge")
    det = scanner.scan(image)
    if not len(det):
        return None
    i = int(np.argmax(det.widths * det.heights))
    x1, y1, x2, y2 = (float(v) - off for v in det.boxes[i])
    return (x1, y1, x2, y2)


@functools.lru_cache(maxsize=1)
def _scanner() -> Scanner:
    return Scanner()


def _embed(image: np.ndarray, pad: bool) -> np.ndarray | None:
    box = largest_face(image, pad=pad)
    if box is None:
        return None
    if pad:  # the box may reach into the border: embed on the padded frame
        off = image.shape[0] // 2
        image = np.pad(image, ((off, off), (off, off), (0, 0)), mode="edge")
        box = tuple(v + off for v in box)
    return calibration_embedding(image, box)


def collect_pairs(data: Path) -> tuple[list[float], list[float], dict[str, int]]:
    """Distances of different-person and same-person pairs, plus counts of what was used."""
    different: list[float] = []
    same: list[float] = []
    info = {"johns_images": 0, "deepface_images": 0, "no_face": 0}

    johns: list[tuple[str, np.ndarray]] = []
    for person in sorted(p for p in (data / "dlib-johns").iterdir() if p.is_dir()):
        for f in sorted(person.glob("*.jpg")):
            e = _embed(load_rgb(f), pad=True)
            if e is None:
                info["no_face"] += 1
                continue
            johns.append((person.name, e))
    info["johns_images"] = len(johns)
    for (pa, ea), (pb, eb) in itertools.combinations(johns, 2):
        (same if pa == pb else different).append(float(np.linalg.norm(ea - eb)))

    folder = data / "deepface-pairs"
    cache: dict[str, np.ndarray | None] = {}
    with open(folder / "master.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        names = (row["file_x"].strip(), row["file_y"].strip())
        for n in names:
            if n not in cache:
                cache[n] = _embed(load_rgb(folder / n), pad=False)
                info["no_face"] += int(cache[n] is None)
        ea, eb = cache[names[0]], cache[names[1]]
        if ea is None or eb is None:
            continue
        d = float(np.linalg.norm(ea - eb))
        (same if row["Decision"].strip().lower() == "yes" else different).append(d)
    info["deepface_images"] = sum(v is not None for v in cache.values())
    return different, same, info


def threshold_at_fmr(different: list[float], max_fmr: float = MAX_FMR) -> float:
    """Largest ``t`` with (different-person pairs at distance < t) / pairs <= max_fmr."""
    d = np.sort(np.asarray(different, dtype=np.float64))
    allowed = math.floor(max_fmr * len(d) + 1e-9)
    if allowed >= len(d):
        return float(d[-1])
    return float(d[allowed])  # exactly `allowed` pairs lie strictly below it (no ties)


def main(argv: list[str] | None = None) -> int:
    """Compute the calibration and write it as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if not (args.data / "dlib-johns").is_dir():
        print(f"no recognition data at {args.data}", file=sys.stderr)
        return 2
    different, same, info = collect_pairs(args.data)
    raw = threshold_at_fmr(different)
    threshold = max(FLOOR_THRESHOLD, raw)
    diff = np.asarray(different)
    same_arr = np.asarray(same)
    result = {
        "threshold": round(threshold, 4),
        "threshold_at_1pct_fmr": round(raw, 4),
        "floor": FLOOR_THRESHOLD,
        "max_false_match_rate": MAX_FMR,
        "different_pairs": len(different),
        "same_pairs": len(same),
        "false_match_rate_at_threshold": round(float(np.mean(diff < threshold)), 4),
        "true_match_rate_at_threshold": round(float(np.mean(same_arr < threshold)), 4),
        "different_min": round(float(diff.min()), 4),
        "different_median": round(float(np.median(diff)), 4),
        "same_median": round(float(np.median(same_arr)), 4),
        "images": info,
        "data": "../shared/data/recognition (dlib-johns, deepface-pairs/master.csv)",
        "faces_from": ("veil scanner (largest face; dlib-johns crops padded by half their "
                       "size with edge pixels), dlib 5-point alignment on that box"),
        "model": "dlib_face_recognition_resnet_model_v1 (face_recognition_models)",
        "date": dt.date.today().isoformat(),
        "command": "python -m benchmarks.calibrate_reid",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
