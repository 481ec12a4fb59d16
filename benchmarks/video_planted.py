"""Planted misses in video: does verification name a face the plan lost?

Video verification checks a sample of frames (two a second, plus one frame in each short
window just outside every track; :mod:`veil.verify.frames`). This benchmark measures
whether that sample catches the two ways a video plan fails:

- **whole**: the detector never found a face: every plan region on one ground-truth face
  is removed, in every frame;
- **tail**: the tracker let a face go early: the regions on one face are removed in the
  last ``TAIL`` frames where it is counted (the face leaks in only those frames).

On the generated clips of :mod:`benchmarks.videogen` (the same clips as the leak
benchmark), veil scans and plans each clip as a job does and renders it; the complete
output is verified (its residual faces are false alarms, *on a face* when they overlap a
ground-truth face). Then, per kind, one face with a median shorter side of at least 20 px
that the plan covers is chosen at random (``--seed``), its regions are removed, the
reduced plan is rendered through the job's path (``render_video_plan``) and verified
without re-identification. A plant counts only when the face really leaks (METRICS.md:
coverage under 0.8 in at least one counted frame); it is *caught* when a residual face is
reported in one of its leaked frames, overlapping its ground-truth box there (IoU >= 0.3)
or a removed plan box.

Run::

    python -m benchmarks.video_planted [--clips 12] [--first 0] [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.metrics import counts, face_coverage, xyxy
from benchmarks.planted_miss import CATCH_IOU, covers, print_summary
from benchmarks.videogen import DEFAULT_DATA, make_clips
from veil.detections import box_iou
from veil.jobs.video import anonymize_video, render_video_plan
from veil.plan.record import Plan
from veil.render.masks import coverage_mask
from veil.settings import MaskSettings, ScanSettings
from veil.verify.check import verify_pair

TAIL = 5            # frames removed at the end of a face's track ("tail" plants)
MIN_SIDE = 20.0     # median shorter side of a planted face, px
KINDS = ("whole", "tail")


def _gt_frames(gt_json: Path) -> list[np.ndarray]:
    """Per frame, the ``(N, 5)`` rows ``x, y, w, h, invalid`` (same face index in every frame)."""
    gt = json.loads(Path(gt_json).read_text())
    return [np.asarray(rows, np.float64).reshape(-1, 5) for rows in gt["frames"]]


def _counted_frames(gt: list[np.ndarray], face: int) -> list[int]:
    return [t for t, rows in enumerate(gt)
            if face < len(rows) and counts(rows[face, :4], bool(rows[face, 4]))]


def _candidates(plan: Plan, gt: list[np.ndarray]) -> list[int]:
    """Faces worth planting: counted in 10+ frames, median side >= MIN_SIDE, and covered
    by a plan region in at least 80% of their counted frames."""
    out = []
    for face in range(max((len(r) for r in gt), default=0)):
        frames = _counted_frames(gt, face)
        if len(frames) < 10:
            continue
        sides = [min(gt[t][face, 2], gt[t][face, 3]) for t in frames]
        if float(np.median(sides)) < MIN_SIDE:
            continue
        covered = 0
        for t in frames:
            boxes = plan.frame(t).active_boxes()
            covered += bool(len(boxes)) and bool(covers(xyxy(gt[t][face, :4])[0],
                                                         boxes).any())
        if covered >= 0.8 * len(frames):
            out.append(face)
    return out


def _plant(plan: Plan, gt: list[np.ndarray], face: int, kind: str
           ) -> tuple[Plan, dict[int, np.ndarray]]:
    """A copy of ``plan`` without the regions on ``face`` in the planted frames, and the
    removed boxes per frame."""
    frames = _counted_frames(gt, face)
    if kind == "tail":
        frames = frames[-TAIL:]
    reduced = Plan.from_dict(plan.to_dict())
    removed: dict[int, np.ndarray] = {}
    for t in frames:
        fp = reduced.frame(t)
        if fp.mask_whole or not fp.regions:
            continue
        boxes = np.asarray([r.box for r in fp.regions], np.float32).reshape(-1, 4)
        mine = covers(xyxy(gt[t][face, :4])[0], boxes)
        if mine.any():
            removed[t] = boxes[mine]
            fp.regions = [r for r, m in zip(fp.regions, mine, strict=True) if not m]
    return reduced, removed


def _leaked_frames(plan: Plan, gt: list[np.ndarray], face: int, frames: list[int]) -> list[int]:
    """Frames where ``face`` is counted and its coverage by ``plan``'s masks is under 0.8."""
    hw = (plan.media.height, plan.media.width)
    out = []
    for t in frames:
        fp = plan.frame(t)
        if fp.mask_whole or not counts(gt[t][face, :4], bool(gt[t][face, 4])):
            continue
        mask = coverage_mask(hw, fp.active_boxes(), plan.mask)
        if face_coverage(mask, gt[t][face, :4]) < 0.8:
            out.append(t)
    return out


def run_clip(clip: Path, work: Path, rng: np.random.Generator) -> dict[str, Any]:
    """Job, verification of its output, and one planted miss of each kind, for one clip."""
    gt = _gt_frames(Path(str(clip) + ".gt.json"))
    out = work / "full.mp4"
    t0 = time.perf_counter()
    job = anonymize_video(clip, out, scan=ScanSettings(), mask=MaskSettings(),
                          plan_path=work / "full.veil.json", overwrite=True)
    t_job = time.perf_counter() - t0
    if not job.ok or job.plan is None:
        return {"clip": clip.name, "error": job.error}
    plan = job.plan
    v = verify_pair(clip, out, plan)
    rec: dict[str, Any] = {"clip": clip.name, "job_s": t_job, "verify_s": v.seconds,
                           "passed": v.passed, "frames_checked": v.frames_checked,
                           "frames": v.frames_total, "false_alarms": [], "planted": []}
    for rf in v.residual_faces:
        rows = gt[rf.frame] if rf.frame < len(gt) else np.zeros((0, 5))
        on_face = bool(len(rows)) and bool(box_iou(np.asarray([rf.box], np.float32),
                                                   xyxy(rows[:, :4])).max() >= CATCH_IOU)
        rec["false_alarms"].append({"frame": rf.frame, "box": list(rf.box),
                                    "on_face": on_face})
    faces = _candidates(plan, gt)
    for kind in KINDS:
        if not faces:
            break
        face = int(rng.choice(faces))
        reduced, removed = _plant(plan, gt, face, kind)
        leaked = _leaked_frames(reduced, gt, face, sorted(removed))
        p: dict[str, Any] = {"kind": kind, "face": face, "removed_frames": len(removed),
                             "leaked_frames": len(leaked)}
        rec["planted"].append(p)
        if not leaked:
            continue  # still masked by a neighbour's regions: not a miss
        pout = work / f"planted-{kind}.mp4"
        done = render_video_plan(clip, reduced, pout)
        if not done.ok:
            p["error"] = done.error
            continue
        pv = verify_pair(clip, pout, reduced, reid=False, metadata=False)
        hits = []
        for rf in pv.residual_faces:
            if rf.frame not in leaked:
                continue
            targets = np.vstack([xyxy(gt[rf.frame][face, :4]), removed[rf.frame]])
            if box_iou(np.asarray([rf.box], np.float32), targets).max() >= CATCH_IOU:
                hits.append(rf.frame)
        p["caught"] = bool(hits)
        p["caught_frames"] = sorted(set(hits))
        p["frames_checked"] = pv.frames_checked
    return rec


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Catch rate per kind, false alarms on complete outputs, verification time ratio."""
    ok = [r for r in records if "error" not in r]
    out: dict[str, Any] = {"clips": len(ok)}
    for kind in KINDS:
        ps = [p for r in ok for p in r["planted"] if p["kind"] == kind and "caught" in p]
        out[f"caught_{kind}"] = f"{sum(p['caught'] for p in ps)}/{len(ps)}"
    fas = [f for r in ok for f in r["false_alarms"]]
    out["flags_on_complete_outputs"] = len(fas)
    out["flags_on_a_face"] = sum(f["on_face"] for f in fas)
    out["clips_failing_verification"] = sum(not r["passed"] for r in ok)
    if ok:
        out["frames_checked"] = f"{sum(r['frames_checked'] for r in ok)}/" \
                                f"{sum(r['frames'] for r in ok)}"
        out["verify_to_job_ratio"] = round(sum(r["verify_s"] for r in ok)
                                           / sum(r["job_s"] for r in ok), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the summary (optionally the records as JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="the shared data folder (holding wider-val-dev)")
    ap.add_argument("--work", type=Path, default=Path("bench-work/video"),
                    help="clip cache and scratch outputs")
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--first", type=int, default=0, help="first WIDER image (0-based)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (args.data / "wider-val-dev" / "gt.txt").is_file():
        print(f"no WIDER dev set under {args.data}", file=sys.stderr)
        return 2
    clips = make_clips(args.data, args.work / "clips", count=args.clips, first=args.first)
    scratch = args.work / "planted"
    scratch.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    records = []
    for clip in clips:
        rec = run_clip(clip, scratch, rng)
        records.append(rec)
        print(f"{clip.name}: " + ", ".join(
            f"{p['kind']} {'caught' if p.get('caught') else 'missed' if 'caught' in p else '-'}"
            for p in rec.get("planted", [])) + f"; flags {len(rec.get('false_alarms', []))}",
            file=sys.stderr, flush=True)
    print_summary(summarize(records), records, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
