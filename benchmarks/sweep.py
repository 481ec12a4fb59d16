"""How the scan and mask defaults were chosen: a sweep on the dev set.

    python -m benchmarks.sweep                    # the default grid, best rows first
    python -m benchmarks.sweep --max-collateral 1.0 --top 20

Each pass of the detector is run once per image (low floor) and kept; every setting
of the grid is then scored from those candidates, with the mask each setting would
draw (``coverage_mask``: the pixels a solid fill changes) and the METRICS.md
per-face rules. ``python -m benchmarks.leak`` gives the final, black-box,
whole-process figure for the chosen defaults.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.metrics import Totals, score_frame
from benchmarks.wider import DIFFICULTIES, default_root, load_wider
from veil.detections import Detections
from veil.render.masks import coverage_mask
from veil.scan.centerface import CenterFace
from veil.scan.scanner import ScanPass, confirmed, merge_detections, run_pass
from veil.settings import MaskSettings

# The pass sets compared (scale relative to the image, mirrored or not).
PASS_SETS: dict[str, tuple[ScanPass, ...]] = {
    "1": (ScanPass(1.0),),
    "1+1.5": (ScanPass(1.0), ScanPass(1.5)),
    "1+2": (ScanPass(1.0), ScanPass(2.0)),
    "1+1.5+m1.5": (ScanPass(1.0), ScanPass(1.5), ScanPass(1.5, True)),
    "1+2+m2": (ScanPass(1.0), ScanPass(2.0), ScanPass(2.0, True)),
    "1+1.5+2+m2": (ScanPass(1.0), ScanPass(1.5), ScanPass(2.0), ScanPass(2.0, True)),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_root())
    ap.add_argument("--max-collateral", type=float, default=1.0)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args(argv)
    images = load_wider(args.data)
    detector = CenterFace(floor=0.04)
    passes = sorted({p for ps in PASS_SETS.values() for p in ps}, key=lambda p: (p.scale, p.mirror))
    found: dict[ScanPass, list[Detections]] = {p: [] for p in passes}
    sizes = []
    for im in images:
        px = np.ascontiguousarray(Image.open(args.data / "images" / im.name).convert("RGB"))
        sizes.append(px.shape[:2])
        for p in passes:
            found[p].append(run_pass(detector, px, p))

    grid = itertools.product(PASS_SETS, (0.15, 0.2, 0.25, 0.3), (0.3, 0.4, 1.0),
                             (("box", 0.08), ("box", 0.12), ("box", 0.16),
                              ("ellipse", 0.2), ("ellipse", 0.25), ("ellipse", 0.3)))
    rows = []
    for set_name, thr, ratio, (shape, margin) in grid:
        mask_s = MaskSettings(method="solid", shape=shape, margin=margin)  # type: ignore[arg-type]
        tot = Totals()
        lists = {d: Totals() for d in DIFFICULTIES}
        for i, im in enumerate(images):
            parts = [found[p][i] for p in PASS_SETS[set_name]]
            dets = merge_detections(confirmed(parts, thr, thr * ratio, 1))
            s = score_frame(coverage_mask(sizes[i], dets.boxes, mask_s), im.boxes, im.invalid)
            tot.add(s)
            for d in DIFFICULTIES:
                lists[d].add(s, im.lists[d])
        if tot.collateral <= args.max_collateral:
            worst = max(t.leak_rate for t in lists.values())
            rows.append((tot.leak_rate, tot.collateral, worst, set_name, thr, ratio, shape, margin))
    rows.sort()
    print("| passes | threshold | support ratio | shape | margin | leak | worst list "
          "| collateral |")
    print("|---|---|---|---|---|---|---|---|")
    for leak, coll, worst, set_name, thr, ratio, shape, margin in rows[: args.top]:
        print(f"| {set_name} | {thr} | {ratio} | {shape} | {margin} | {100 * leak:.1f}% "
              f"| {100 * worst:.1f}% | {coll:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
