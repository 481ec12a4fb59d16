"""Real misses: does verification flag the faces a job really leaks?

    python -m benchmarks.real_miss --part even --json bench-out/real-miss-even.json
    python -m benchmarks.real_miss --part odd --json bench-out/real-miss-odd.json
    python -m benchmarks.real_miss --summary bench-out/real-miss-odd.json

For each image of a WIDER-format set (default ``../shared/data/wider-val-dev``; ``--part
even`` / ``odd``: the images at even / odd positions of ``gt.txt``) three jobs are made
with a solid fill, as ``veil --method solid --no-verify`` makes them: the default, a
weakened one (threshold 0.6) and ``--fast --threshold 0.4`` (one pass), to have more real
misses. CenterFace's passes over the original are run once and every job is made from the
passes its settings plan (``Scanner.combine``, as in :mod:`benchmarks.search`), rendered
with veil's renderer. A face *leaks* when under 0.8 of its ground-truth box is masked
(METRICS.md, black-box: the changed pixels).

Each output is then searched for residual faces the way verification does
(:class:`veil.verify.residual.ResidualFinder`, masked regions = the job's regions), with the
*old* check (CenterFace at 0.9x the job's threshold + dlib HOG), the *shipped* one (the
families that search a photo in verification, ``PHOTO_FAMILIES``, under the shipped rules)
and (unless ``--shipped-only``) CenterFace + HOG + YuNet-n tiled at 2x under a grid of YuNet
rules. A leaked face is *caught* when a flagged box
overlaps its ground-truth box (IoU >= 0.3, or either box's centre inside the other). A
file is *flagged* when any residual face is found; a flagged file without a leaked face is
a *false flag*.

``--sweep`` compares YuNet's searches instead (BENCHMARKS.md, "Catch rate against cost"):
for every output, YuNet's candidates under each search of ``--scales`` (``whole``: the
whole picture tiled at that zoom, down to its own pixels and coarser; ``chips``: the whole
picture at its own pixels and coarser, the zoomed passes only on the chips that YuNet's own
candidates from ``--seeds`` open, as verification does on pictures of 2 MP or more), each
judged as verification judges a photo (``PHOTO_FAMILIES``: dlib HOG + YuNet) under YuNet
score thresholds ``--alone``, with YuNet's CPU-seconds per output for each search::

    python -m benchmarks.real_miss --sweep --part odd --json bench-out/sweep-odd.json
    python -m benchmarks.real_miss --sweep-summary bench-out/sweep-odd.json

Cost is detector CPU-seconds (``time.process_time``, all threads of this process) per
family, not wall time: the machine these figures were taken on is shared and loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.metrics import FrameScore, black_box_mask, score_frame, xyxy
from benchmarks.wider import WiderImage, default_root, load_wider
from veil.detections import Detections, box_iou
from veil.render.masks import coverage_mask, mask_regions
from veil.scan.registry import get_detector
from veil.scan.scanner import Scanner, ScanPass, plan_passes, run_pass
from veil.settings import MaskSettings, ScanSettings
from veil.verify.residual import PHOTO_FAMILIES, Candidate, ResidualFinder, Rules, box_share

SOLID = MaskSettings(method="solid")
JOBS: dict[str, ScanSettings] = {
    "default": ScanSettings(),
    "t0.6": ScanSettings(threshold=0.6),
    "fast t0.4": ScanSettings.fast(threshold=0.4),
}
BANDS: tuple[tuple[str, float, float], ...] = (
    ("10-15", 10.0, 15.0), ("15-20", 15.0, 20.0), ("20-40", 20.0, 40.0), (">=40", 40.0, 1e9))
YUNET_FLOOR = 0.3  # YuNet candidates collected from this score; the rules look higher
CATCH_IOU = 0.3


def rule_grid() -> dict[str, Rules]:
    """The YuNet rules compared: ``wW aA [c]``: weak floor W, alone from A, ``c`` when
    YuNet also confirms weak CenterFace / HOG candidates."""
    grid: dict[str, Rules] = {}
    for weak in (0.3, 0.4, 0.5, 0.6, 0.7):
        for alone in (0.5, 0.6, 0.7, 0.8, 0.9, 1.01):
            if alone < weak:
                continue
            for conf in (False, True):
                for core in (0.0, 0.2):
                    name = (f"w{weak} a{alone if alone <= 1 else 'never'}"
                            f"{' c' if conf else ''}{f' k{core}' if core else ''}")
                    grid[name] = Rules(yunet_alone=alone, yunet_weak=weak,
                                       yunet_confirms=conf, yunet_core=core)
    return grid


def caught(gt: np.ndarray, flagged: np.ndarray) -> bool:
    """Whether a flagged box overlaps the ground-truth box (IoU >= 0.3 or a centre inside
    the other box)."""
    if not len(flagged):
        return False
    if box_iou(gt[None].astype(np.float32), flagged.astype(np.float32)).max() >= CATCH_IOU:
        return True
    gx, gy = (gt[0] + gt[2]) / 2, (gt[1] + gt[3]) / 2
    fx, fy = (flagged[:, 0] + flagged[:, 2]) / 2, (flagged[:, 1] + flagged[:, 3]) / 2
    in_flag = (gx >= flagged[:, 0]) & (gx <= flagged[:, 2]) & (gy >= flagged[:, 1]) \
        & (gy <= flagged[:, 3])
    in_gt = (fx >= gt[0]) & (fx <= gt[2]) & (fy >= gt[1]) & (fy <= gt[3])
    return bool((in_flag | in_gt).any())


def _timed(fn: Callable[[], Any], cpu: dict[str, float], key: str) -> Any:
    t0 = time.process_time()
    out = fn()
    cpu[key] = cpu.get(key, 0.0) + time.process_time() - t0
    return out


def _clock(cpu: dict[str, float], key: str, fn: Callable[..., Any], *args: Any,
           **kwargs: Any) -> Any:
    t0 = time.process_time()
    out = fn(*args, **kwargs)
    cpu[key] = cpu.get(key, 0.0) + time.process_time() - t0
    return out


def _job_outputs(frame: np.ndarray, im: WiderImage, cpu: dict[str, float]
                 ) -> Iterator[tuple[str, np.ndarray, np.ndarray, FrameScore, list[int]]]:
    """Each job of :data:`JOBS` on one picture (its CenterFace passes run once and shared
    by the jobs): the job's name, its solid-filled output, the masked pixels, the
    picture's score and the indices of the faces it leaked."""
    h, w = frame.shape[:2]
    cf = get_detector("centerface", floor=0.04)
    cache: dict[ScanPass, Detections] = {}
    for job, s in JOBS.items():
        parts = []
        for p in plan_passes(w, h, s):
            if p not in cache:
                cache[p] = _timed(lambda p=p: run_pass(cf, frame, p), cpu, "job centerface")
            parts.append(cache[p])
        dets = Scanner(s, detector=cf).combine(parts, w, h)
        out = mask_regions(frame, dets.boxes, SOLID)
        masked = coverage_mask((h, w), dets.boxes, SOLID)
        score = score_frame(black_box_mask(frame, out), im.boxes, im.invalid)
        yield job, out, masked, score, [k for k, lk in enumerate(score.leaked) if lk]


def run_image(root: Path, im: WiderImage, finders: dict[str, ResidualFinder],
              grid: dict[str, Rules], cpu: dict[str, float]) -> dict[str, Any]:
    """The three jobs of one image, their leaked faces and what each check flags."""
    frame = np.ascontiguousarray(Image.open(root / "images" / im.name).convert("RGB"))
    gt = xyxy(im.boxes)
    rec: dict[str, Any] = {"name": im.name, "jobs": {}}
    for job, out, masked, score, leaked in _job_outputs(frame, im, cpu):
        checks, cands, by = _checks(finders[job], frame, out, masked, grid, cpu)
        rec["jobs"][job] = {
            "leaked": [{"side": float(min(im.boxes[k][2], im.boxes[k][3])),
                        "coverage": round(float(score.coverage[k]), 3),
                        "seen": _seen(gt[k], cands, masked),
                        "caught": {c: caught(gt[k], b) for c, b in checks.items()}}
                       for k in leaked],
            "counted": int(sum(score.counted)),
            "flags": {c: int(len(b)) for c, b in checks.items()},
            "flagged_by": by,  # detector initials of each flagged face, per check
        }
    return rec


def _checks(f: ResidualFinder, frame: np.ndarray, out: np.ndarray, masked: np.ndarray,
            grid: dict[str, Rules], cpu: dict[str, float]
            ) -> tuple[dict[str, np.ndarray], list[Candidate], dict[str, str]]:
    """The boxes each check flags in one output (``old`` and every rule of ``grid``), the
    candidates, and the initials of the detectors behind each check's flags."""
    cands: list[Candidate] = (
        _timed(lambda: f._centerface(out), cpu, "check centerface")
        + _timed(lambda: f._dlib_hog(out), cpu, "check dlib-hog")
        + _timed(lambda: f._yunet(out), cpu, "check yunet"))
    memo: dict[Any, Any] = {}
    by: dict[str, str] = {}

    def flags(name: str, rules: Rules | None, families: tuple[str, ...]) -> np.ndarray:
        found = _timed(lambda: f.judge(cands, out, masked, original=frame, rules=rules,
                                       families=families, memo=memo), cpu, "confirm")
        by[name] = "".join(sorted(c.detector[0] for c, _ in found))
        return np.asarray([c.box for c, _ in found], np.float32).reshape(-1, 4)

    checks = {"old": flags("old", Rules(), ("centerface", "dlib-hog")),
              "shipped": flags("shipped", Rules(), PHOTO_FAMILIES)}
    for name, rules in grid.items():
        checks[name] = flags(name, rules, ("centerface", "dlib-hog", "yunet"))
    return checks, cands, by


def _seen(gt: np.ndarray, cands: list[Candidate], masked: np.ndarray) -> dict[str, list[float]]:
    """Per family, the best candidate on this face: ``[score, masked share of its box]``."""
    out: dict[str, list[float]] = {}
    for c in cands:
        if caught(gt, np.asarray([c.box], np.float32)):
            best = out.get(c.detector)
            if best is None or c.score > best[0]:
                out[c.detector] = [round(c.score, 3), round(box_share(masked, c.box), 3)]
    return out


def band_of(side: float) -> str:
    return next(name for name, lo, hi in BANDS if lo <= side < hi)


def summarize(records: list[dict[str, Any]], check: str, jobs: tuple[str, ...] = tuple(JOBS)
              ) -> dict[str, Any]:
    """Catch counts by size band over ``jobs``, flagged files and false flags (per job),
    and faces leaked in outputs that passed (not flagged)."""
    out: dict[str, Any] = {"check": check}
    bands = {b: [0, 0] for b, _, _ in BANDS}
    for r in records:
        for job in jobs:
            for face in r["jobs"][job]["leaked"]:
                b = bands[band_of(face["side"])]
                b[0] += int(face["caught"][check])
                b[1] += 1
    out["caught"] = {b: f"{c}/{n}" for b, (c, n) in bands.items()}
    big = [bands[b] for b in ("15-20", "20-40", ">=40")]
    out["caught_15+"] = f"{sum(c for c, _ in big)}/{sum(n for _, n in big)}"
    for job in jobs:
        js = [r["jobs"][job] for r in records]
        flagged = [j["flags"][check] > 0 for j in js]
        has_leak = [bool(j["leaked"]) for j in js]
        counted = sum(j["counted"] for j in js)
        leak_passed = sum(len(j["leaked"]) for j, fl in zip(js, flagged, strict=True) if not fl)
        out[job] = {
            "files": len(js),
            "flagged": sum(flagged),
            "false_flags": sum(fl and not lk for fl, lk in zip(flagged, has_leak, strict=True)),
            "leaked": sum(len(j["leaked"]) for j in js),
            "counted": counted,
            "leaked_in_passed": leak_passed,
        }
    return out


def choose(records: list[dict[str, Any]], max_flagged: float = 0.10) -> str:
    """The YuNet rule (one that does not confirm other families, as shipped) that catches
    the most leaked faces >= 15 px over all jobs (then the most overall, then the fewest
    false flags) while flagging at most ``max_flagged`` of the default job's files; when
    none does, the one flagging the fewest default files."""
    best: tuple[Any, ...] | None = None
    name = "old"
    checks = [c for c in records[0]["jobs"]["default"]["flags"]
              if c not in ("old", "shipped") and " c" not in c]
    for c in checks:
        s = summarize(records, c)
        c15, _ = (int(v) for v in s["caught_15+"].split("/"))
        all_c = sum(int(v.split("/")[0]) for v in s["caught"].values())
        ff = sum(s[j]["false_flags"] for j in JOBS)
        fits = s["default"]["flagged"] <= max_flagged * s["default"]["files"]
        key = (fits, c15 if fits else -s["default"]["flagged"], all_c, -ff)
        if best is None or key > best:
            best, name = key, c
    return name


def table(records: list[dict[str, Any]], checks: list[str]) -> str:
    head = ("| check | caught 10-15 | 15-20 | 20-40 | >=40 | caught >=15 px | default: flagged "
            "files | false flags (default / t0.6 / fast) | leaked in unflagged default outputs |")
    lines = [head, "|" + "---|" * 9]
    for c in checks:
        s = summarize(records, c)
        d = s["default"]
        lines.append(
            f"| {c} | {s['caught']['10-15']} | {s['caught']['15-20']} | {s['caught']['20-40']} "
            f"| {s['caught']['>=40']} | {s['caught_15+']} | {d['flagged']}/{d['files']} "
            f"| {d['false_flags']} / {s['t0.6']['false_flags']} / {s['fast t0.4']['false_flags']} "
            f"| {d['leaked_in_passed']}/{d['counted']} |")
    return "\n".join(lines)


SWEEP_SCALES: tuple[float, ...] = (2.0, 2.5, 3.0, 4.0)
SWEEP_SEEDS: tuple[float, ...] = (0.1,)
SWEEP_ALONE: tuple[float, ...] = (0.5, 0.55, 0.6, 0.65, 0.7, 0.8)


def sweep_finders(scales: tuple[float, ...], seeds: tuple[float, ...],
                  searches: tuple[str, ...] = ("whole", "chips"),
                  floor: float = YUNET_FLOOR) -> dict[str, ResidualFinder]:
    """One finder per YuNet search compared by ``--sweep``, by name."""
    out: dict[str, ResidualFinder] = {}
    for scale in scales:
        if "whole" in searches:
            out[f"whole {scale:g}x"] = ResidualFinder(
                ScanSettings(), yunet_floor=floor, yunet_search="tiled", yunet_scale=scale)
        if "chips" in searches:
            for seed in seeds:
                out[f"chips {scale:g}x s{seed:g}"] = ResidualFinder(
                    ScanSettings(), yunet_floor=floor, yunet_search="adaptive",
                    adaptive_from=0, seed_score=seed, yunet_scale=scale)
    return out


def sweep_image(root: Path, im: WiderImage, finders: dict[str, ResidualFinder],
                alone: tuple[float, ...], cpu: dict[str, float]) -> dict[str, Any]:
    """The three jobs of one image, their leaked faces, and for every YuNet search and
    score threshold what verification's photo check (dlib HOG + YuNet) flags."""
    frame = np.ascontiguousarray(Image.open(root / "images" / im.name).convert("RGB"))
    h, w = frame.shape[:2]
    gt = xyxy(im.boxes)
    rec: dict[str, Any] = {"name": im.name, "pixels": h * w, "jobs": {}}
    first = next(iter(finders.values()))
    for job, out, masked, score, leaked in _job_outputs(frame, im, cpu):
        hog = _clock(cpu, "check dlib-hog", first._dlib_hog, out)
        faces: list[dict[str, Any]] = [
            {"side": float(min(im.boxes[k][2], im.boxes[k][3])), "index": int(k),
             "coverage": round(float(score.coverage[k]), 3), "caught": {}, "yunet": {},
             "hog": max((round(c.score, 3) for c in hog
                         if caught(gt[k], np.asarray([c.box], np.float32))), default=None)}
            for k in leaked]
        flags: dict[str, list[int]] = {}
        for name, f in finders.items():
            yn = _clock(cpu, name, f._yunet, out)
            memo: dict[Any, Any] = {}
            flags[name] = []
            for face in faces:
                face["caught"][name] = []
            for a in alone:
                found = _clock(cpu, "confirm", f.judge, hog + yn, out, masked,
                               original=frame, rules=Rules(yunet_alone=a, yunet_weak=a),
                               families=PHOTO_FAMILIES, memo=memo)
                boxes = np.asarray([c.box for c, _ in found], np.float32).reshape(-1, 4)
                flags[name].append(len(found))
                for k, face in zip(leaked, faces, strict=True):
                    face["caught"][name].append(caught(gt[k], boxes))
            for k, face in zip(leaked, faces, strict=True):
                face["yunet"][name] = max(
                    (round(c.score, 3) for c in yn
                     if caught(gt[k], np.asarray([c.box], np.float32))), default=None)
        rec["jobs"][job] = {"leaked": faces, "counted": int(sum(score.counted)),
                            "flags": flags}
    return rec


def sweep_table(data: dict[str, Any]) -> str:
    """Per YuNet search and score threshold: catches by band (all jobs), the default job's
    flagged files, false flags per job, faces leaked in passed default outputs, YuNet
    CPU-s per output."""
    records, alone = data["records"], data["alone"]
    n_out = max(1, len(records) * len(JOBS))
    lines = ["| search | YuNet from | caught 10-15 | 15-20 | 20-40 | >=40 | caught >=15 px "
             "| default flagged | false flags (default / t0.6 / fast) | leaked in passed "
             "default | default leaked, not caught | YuNet CPU-s per output |",
             "|" + "---|" * 12]
    for name in data["settings"]:
        for i, a in enumerate(alone):
            bands = {b: [0, 0] for b, _, _ in BANDS}
            for r in records:
                for j in r["jobs"].values():
                    for face in j["leaked"]:
                        b = bands[band_of(face["side"])]
                        b[0] += int(face["caught"][name][i])
                        b[1] += 1
            big = [bands[b] for b in ("15-20", "20-40", ">=40")]
            c15, n15 = sum(c for c, _ in big), sum(n for _, n in big)
            ff, flagged, passed, counted, uncaught = [], 0, 0, 0, 0
            for job in JOBS:
                js = [r["jobs"][job] for r in records]
                ff.append(sum(j["flags"][name][i] > 0 and not j["leaked"] for j in js))
                if job == "default":
                    flagged = sum(j["flags"][name][i] > 0 for j in js)
                    passed = sum(len(j["leaked"]) for j in js if not j["flags"][name][i])
                    counted = sum(j["counted"] for j in js)
                    # a flagged file is repaired where it was flagged: a leaked face that
                    # no flag names still leaks in the output that then passes
                    uncaught = sum(not f["caught"][name][i] for j in js for f in j["leaked"])
            lines.append(
                f"| {name} | {a:g} | " + " | ".join(f"{c}/{n}" for c, n in bands.values())
                + f" | {c15}/{n15} ({100 * c15 / max(1, n15):.0f}%) | {flagged}/{len(records)}"
                f" | {' / '.join(map(str, ff))} | {passed}/{counted} | {uncaught}/{counted} "
                f"| {data['cpu_s'].get(name, 0) / n_out:.3f} |")
    return "\n".join(lines)


def sweep_main(args: argparse.Namespace) -> int:
    images = load_wider(args.data)
    if args.part != "all":
        images = images[(0 if args.part == "even" else 1)::2]
    if args.limit:
        images = images[:args.limit]
    finders = sweep_finders(tuple(args.scales), tuple(args.seeds), tuple(args.searches))
    alone = tuple(args.alone)
    cpu: dict[str, float] = {}
    records: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    for k, im in enumerate(images):
        records.append(sweep_image(args.data, im, finders, alone, cpu))
        print(f"[{k + 1}/{len(images)}] {im.name}", file=sys.stderr, flush=True)
        data = {"part": args.part, "images": k + 1, "settings": list(finders),
                "alone": list(alone), "cpu_s": cpu, "records": records}
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(data))
    print("CPU-s per image: " + ", ".join(f"{k} {v / max(1, len(records)):.3f}"
                                          for k, v in cpu.items()))
    print(sweep_table(data))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_root())
    ap.add_argument("--part", choices=("all", "even", "odd"), default="all",
                    help="images at even / odd positions of gt.txt (tune on one, report on "
                         "the other)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="records and CPU time, written "
                    "after every image")
    ap.add_argument("--shipped-only", action="store_true",
                    help="judge with the shipped check only (and the old one), not the "
                         "grid of YuNet rules")
    ap.add_argument("--summary", type=Path, nargs="+", default=None,
                    help="only print the tables of these JSON files (combined)")
    ap.add_argument("--tune", type=Path, nargs="+", default=None,
                    help="with --summary: choose the rule on these files instead")
    ap.add_argument("--sweep", action="store_true",
                    help="compare YuNet's searches (--scales, --searches, --seeds) and score "
                         "thresholds (--alone) instead of the rule grid")
    ap.add_argument("--scales", type=float, nargs="+", default=list(SWEEP_SCALES))
    ap.add_argument("--searches", nargs="+", choices=("whole", "chips"),
                    default=["whole", "chips"])
    ap.add_argument("--seeds", type=float, nargs="+", default=list(SWEEP_SEEDS))
    ap.add_argument("--alone", type=float, nargs="+", default=list(SWEEP_ALONE))
    ap.add_argument("--sweep-summary", type=Path, nargs="+", default=None,
                    help="only print the table of these --sweep JSON files (combined)")
    args = ap.parse_args(argv)
    if args.sweep_summary:
        parts = [json.loads(p.read_text()) for p in args.sweep_summary]
        data = dict(parts[0])
        data["records"] = [r for d in parts for r in d["records"]]
        data["cpu_s"] = {k: sum(d["cpu_s"].get(k, 0.0) for d in parts)
                         for k in parts[0]["cpu_s"]}
        print(sweep_table(data))
        return 0
    if args.sweep:
        if not (args.data / "gt.txt").exists():
            ap.error(f"no gt.txt under {args.data}")
        return sweep_main(args)
    if args.summary:
        records = [r for p in args.summary for r in json.loads(p.read_text())["records"]]
        tune = records if not args.tune else \
            [r for p in args.tune for r in json.loads(p.read_text())["records"]]
        best = choose(tune)
        print(f"chosen rule (on {'the same files' if not args.tune else 'the tuning files'}):"
              f" {best}")
        print(table(records, list(records[0]["jobs"]["default"]["flags"])))
        shown = ("old", "shipped", best) if "shipped" in records[0]["jobs"]["default"]["flags"] \
            else ("old", best)
        print(json.dumps({c: summarize(records, c) for c in shown}, indent=1))
        return 0
    if not (args.data / "gt.txt").exists():
        ap.error(f"no gt.txt under {args.data}")
    images = load_wider(args.data)
    if args.part != "all":
        images = images[(0 if args.part == "even" else 1)::2]
    if args.limit:
        images = images[:args.limit]
    grid = {} if args.shipped_only else rule_grid()
    finders = {job: ResidualFinder(s, yunet_floor=YUNET_FLOOR) for job, s in JOBS.items()}
    cpu: dict[str, float] = {}
    records: list[dict[str, Any]] = []
    for k, im in enumerate(images):
        rec = run_image(args.data, im, finders, grid, cpu)
        records.append(rec)
        d = rec["jobs"]["default"]
        print(f"[{k + 1}/{len(images)}] {im.name}: default leaked {len(d['leaked'])}, "
              f"flags old {d['flags']['old']}", file=sys.stderr, flush=True)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"part": args.part, "images": k + 1,
                                             "cpu_s": cpu, "records": records}))
    print("detector CPU-s per image: "
          + ", ".join(f"{k} {v / max(1, len(records)):.3f}" for k, v in cpu.items()))
    print(table(records, ["old", "shipped", *grid]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
