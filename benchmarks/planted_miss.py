"""Planted misses: does verification name a face the plan forgot? And how often does it
raise a false alarm on veil's own outputs?

For each image of ``../shared/data/wider-val-dev`` (all, or ``--limit`` of them spread
over the set): veil scans and plans it as a job would; then up to two faces that the plan
covers are *removed* from the plan, one ground-truth face at least 20 px on its shorter
side and one of 10-20 px (chosen at random, ``--seed``); the image is rendered from the
reduced plan through the real job path (``render_image_plan``) and verified with
``verify_pair``. A planted miss is *caught* when a residual face overlaps it (IoU >= 0.3
with its ground-truth box or with the removed plan box).

The complete plan's output is verified too: every residual face there is a false alarm
of veil's own output, classed as *on a face* (it overlaps a ground-truth face) or *not a
face*. Times: the job (scan, plan, render, write) and its verification, per image.

Run::

    python -m benchmarks.planted_miss [--limit 30] [--seed 0] [--json out.json]

``--yunet-scale``, ``--yunet-search`` and ``--yunet-score`` verify with another YuNet search
(zoom of its finest pass, ``tiled`` / ``adaptive``, the score from which a YuNet candidate
counts) than the shipped one, to compare false flags and catches against cost
(BENCHMARKS.md, "Catch rate against cost").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.metrics import xyxy
from benchmarks.wider import default_root, load_wider
from veil.detections import box_iou
from veil.jobs.image import anonymize_image_file, render_image_plan
from veil.plan.record import Plan
from veil.render.masks import coverage_mask
from veil.scan import Scanner
from veil.settings import ScanSettings
from veil.verify import check
from veil.verify.check import verify_pair
from veil.verify.residual import ResidualFinder, Rules, box_share

BANDS: tuple[tuple[str, float, float], ...] = (("20+", 20.0, 1e9), ("10-20", 10.0, 20.0))
CATCH_IOU = 0.3


def covers(gt_box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Plan boxes that belong to this face: IoU >= 0.3, or their centre inside its box."""
    iou = box_iou(gt_box[None], boxes)[0]
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside = (cx >= gt_box[0]) & (cx <= gt_box[2]) & (cy >= gt_box[1]) & (cy <= gt_box[3])
    return (iou >= CATCH_IOU) | inside


def _plant(plan: Plan, gt: np.ndarray, valid: np.ndarray,
           rng: np.random.Generator) -> tuple[Plan, list[dict[str, Any]]]:
    """A copy of ``plan`` without one covered face per size band (every plan region that
    belongs to that face is removed), and what was removed."""
    regions = plan.frame(0).regions
    boxes = np.asarray([r.box for r in regions], np.float32).reshape(-1, 4)
    planted: list[dict[str, Any]] = []
    if not len(boxes) or not len(gt):
        return plan, planted
    sides = np.minimum(gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1])
    taken: set[int] = set()
    for band, lo, hi in BANDS:
        ok = [g for g in range(len(gt)) if valid[g] and lo <= sides[g] < hi
              and box_iou(gt[g][None], boxes)[0].max() >= CATCH_IOU
              and not (set(np.flatnonzero(covers(gt[g], boxes)).tolist()) & taken)]
        if ok:
            g = int(rng.choice(ok))
            mine = np.flatnonzero(covers(gt[g], boxes)).tolist()
            taken.update(mine)
            planted.append({"band": band, "side": float(sides[g]), "gt": gt[g].tolist(),
                            "plan_boxes": boxes[mine].tolist()})
    reduced = Plan(plan.media, plan.scan, plan.mask, tool=plan.tool)
    for k, r in enumerate(regions):
        if k not in taken:
            reduced.add_region(0, r)
    return reduced, planted


def _overlaps(box: tuple[float, ...], others: np.ndarray) -> bool:
    if not len(others):
        return False
    return bool(box_iou(np.asarray([box], np.float32), others).max() >= CATCH_IOU)


def run_image(root: Path, item: Any, work: Path, rng: np.random.Generator,
              scanner: Scanner) -> dict[str, Any]:
    """Job, verification of its output, planted misses and their verification, one image."""
    src = root / "images" / item.name
    gt = xyxy(item.boxes)
    valid = ~np.asarray(item.invalid, bool)
    out = work / ("full" + src.suffix)
    t0 = time.perf_counter()
    job = anonymize_image_file(src, out, scanner=scanner, overwrite=True)
    t_job = time.perf_counter() - t0
    if not job.ok or job.plan is None:
        return {"name": item.name, "error": job.error}
    v = verify_pair(src, out, job.plan)
    rec: dict[str, Any] = {"name": item.name, "job_s": t_job, "verify_s": v.seconds,
                           "false_alarms": [], "planted": []}
    for rf in v.residual_faces:
        rec["false_alarms"].append({"box": list(rf.box), "detector": rf.detector,
                                    "on_face": _overlaps(rf.box, gt[valid])})
    reduced, planted = _plant(job.plan, gt, valid, rng)
    if planted:
        pout = work / ("planted" + src.suffix)
        done = render_image_plan(src, reduced, pout, overwrite=True)
        if done.ok:
            pv = verify_pair(src, pout, reduced, reid=False, metadata=False)
            found = np.asarray([rf.box for rf in pv.residual_faces], np.float32).reshape(-1, 4)
            hw = (reduced.media.height, reduced.media.width)
            covered = coverage_mask(hw, reduced.frame(0).active_boxes(), reduced.mask)
            for p in planted:
                # Still masked by a neighbour's region: not a miss (METRICS.md: a face is
                # leaked below 0.8 coverage).
                p["coverage"] = box_share(covered, tuple(p["gt"]))
                p["leaked"] = p["coverage"] < 0.8
                targets = np.asarray([p["gt"], *p["plan_boxes"]], np.float32)
                p["caught"] = bool(len(found)) and bool(box_iou(found, targets).max()
                                                        >= CATCH_IOU)
            rec["planted"] = [p for p in planted if p["leaked"]]
    return rec


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Catch rates per band (and >= 10 px), false alarms, time ratio."""
    ok = [r for r in records if "error" not in r]
    planted = [p for r in ok for p in r["planted"]]
    out: dict[str, Any] = {"images": len(ok)}
    for band, _, _ in BANDS:
        ps = [p for p in planted if p["band"] == band]
        out[f"caught_{band}"] = f"{sum(p['caught'] for p in ps)}/{len(ps)}"
    out["caught_10+"] = f"{sum(p['caught'] for p in planted)}/{len(planted)}"
    fas = [f for r in ok for f in r["false_alarms"]]
    out["flags_on_complete_outputs"] = len(fas)
    out["flags_on_a_face"] = sum(f["on_face"] for f in fas)
    out["flags_not_a_face"] = len(fas) - out["flags_on_a_face"]
    out["images_with_a_flag"] = sum(bool(r["false_alarms"]) for r in ok)
    if ok:
        job = float(np.median([r["job_s"] for r in ok]))
        ver = float(np.median([r["verify_s"] for r in ok]))
        out["median_job_s"] = round(job, 3)
        out["median_verify_s"] = round(ver, 3)
        out["verify_to_job_ratio"] = round(float(np.median(
            [r["verify_s"] / r["job_s"] for r in ok])), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the summary (optionally the records as JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=default_root())
    ap.add_argument("--limit", type=int, default=None,
                    help="this many images, spread evenly over the set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--yunet-scale", type=float, default=None,
                    help="verify with YuNet's finest pass at this zoom (default: shipped)")
    ap.add_argument("--yunet-search", choices=("tiled", "adaptive"), default=None,
                    help="verify with this YuNet search (default: shipped)")
    ap.add_argument("--yunet-score", type=float, default=None,
                    help="a YuNet candidate counts from this score (default: shipped)")
    args = ap.parse_args(argv)
    if (args.yunet_scale, args.yunet_search, args.yunet_score) != (None, None, None):
        use_finder(args.yunet_scale, args.yunet_search, args.yunet_score)
    if not (args.root / "gt.txt").is_file():
        print(f"no WIDER dev set at {args.root}", file=sys.stderr)
        return 2
    items = load_wider(args.root)
    if args.limit is not None and args.limit < len(items):
        idx = np.linspace(0, len(items) - 1, args.limit).round().astype(int)
        items = [items[i] for i in sorted(set(idx.tolist()))]
    rng = np.random.default_rng(args.seed)
    scanner = Scanner(ScanSettings())
    records = []
    with tempfile.TemporaryDirectory(prefix="veil-planted-") as tmp:
        for item in items:
            rec = run_image(args.root, item, Path(tmp), rng, scanner)
            records.append(rec)
            miss = [p["caught"] for p in rec.get("planted", [])]
            print(f"{item.name}: planted caught {miss}, flags "
                  f"{len(rec.get('false_alarms', []))}", file=sys.stderr, flush=True)
    print_summary(summarize(records), records, args.json)
    return 0


def use_finder(scale: float | None, search: str | None, score: float | None,
               seed: float | None = None) -> None:
    """Make verification (``verify_pair``) use this YuNet search in this process."""
    rules = Rules() if score is None else Rules(yunet_alone=score, yunet_weak=score)
    finders: dict[Any, ResidualFinder] = {}

    def finder(made_with: ScanSettings, hog: bool, photo: bool = False) -> ResidualFinder:
        key = (made_with, hog)
        if key not in finders:
            finders[key] = ResidualFinder(made_with, hog=hog, rules=rules,
                                          yunet_search=search, yunet_scale=scale,
                                          adaptive_from=0 if search == "adaptive" else None,
                                          seed_score=seed)
        return finders[key]

    check._finder = finder  # type: ignore[assignment]


def print_summary(summary: dict[str, Any], records: list[dict[str, Any]],
                  json_path: Path | None) -> None:
    """Print a summary line by line; write it with the records to ``json_path`` if given."""
    for k, v in summary.items():
        print(f"{k}: {v}")
    if json_path is not None:
        json_path.write_text(json.dumps({"summary": summary, "records": records}, indent=1))


if __name__ == "__main__":
    raise SystemExit(main())
