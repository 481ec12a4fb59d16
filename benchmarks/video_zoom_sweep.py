"""Strided native zoom for video: simulated on the candidates ``benchmarks.video_sweep`` caches.

    python -m benchmarks.video_sweep --gen a --size 1280x720 --clips 6 --scales 0.5,1.0 \
        --only "native x1" --work W            # caches the candidates (and camera motion)
    python -m benchmarks.video_zoom_sweep --gen a --size 1280x720 --clips 6 --work W

A schedule runs the zoom pass at the frame's own pixels on the whole frame one frame in
``whole`` and, with ``chips`` set, on the frames between (one in ``chips``) only on chips
(:func:`veil.scan.scanner.plan_chips`): around the base pass's small or weak candidates,
and around the faces the scan reported on the ``recent`` frames before (scoring ``seed``
or more). **Approximation**: a chip run is stood in for by the whole-frame native pass's
cached candidates that lie inside a chip (a face cut by a chip's border, or scored
otherwise inside a crop, is not modelled). The detector CPU of a chip run is that of the
native pass times the chips' share of the frame's area (per-call overhead left out), so
the black-box run (``benchmarks.video_leak``) and ``benchmarks.video_scan_cost`` give the
final figures.
"""

from __future__ import annotations

import argparse
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import video_sweep, videogen, videogen_b
from benchmarks.metrics import Totals, TrackTally, score_frame
from benchmarks.videogen import DEFAULT_DATA
from veil.detections import Detections
from veil.jobs.video import VIDEO_BASE_SIDE, VIDEO_KEEP_WEAK
from veil.plan.record import MediaInfo
from veil.plan.video import build_video_plan
from veil.render.masks import coverage_mask
from veil.scan.scanner import Scanner, plan_chips
from veil.settings import MaskSettings, ScanSettings


@dataclass(frozen=True)
class Schedule:
    whole: int                 # the native pass on the whole frame one frame in this many
    chips: int = 0             # between those, on chips one frame in this many (0: never)
    recent: int = 2            # chips also around the faces of this many frames before
    seed: float = 0.25         # ... that scored this much or more
    chip_face: float = 24.0    # base-pass candidates up to this long side open chips


def grid() -> dict[str, Schedule]:
    return {
        "today: whole every 2nd": Schedule(2),
        "whole every 3rd": Schedule(3),
        "whole every 4th": Schedule(4),
        "whole every 2nd, chips between": Schedule(2, 1),
        "whole every 3rd, chips between": Schedule(3, 1),
        "whole every 4th, chips between": Schedule(4, 1),
        "whole every 4th, chips every 2nd": Schedule(4, 2),
        "whole every 6th, chips every 2nd": Schedule(6, 2),
        "whole every 6th, chips between": Schedule(6, 1),
        "whole every 8th, chips between": Schedule(8, 1),
        "whole every 8th, chips every 2nd": Schedule(8, 2),
        "whole every 12th, chips every 2nd": Schedule(12, 2),
        "whole every 30th, chips every 2nd": Schedule(30, 2),
        "whole every 6th, chips every 3rd": Schedule(6, 3),
        "whole every 4th, chips every 2nd, seeds from 0.075": Schedule(4, 2, seed=0.075),
        "whole every 4th, chips every 2nd, chip face 48": Schedule(4, 2, chip_face=48.0),
        "whole every 4th, chips every 2nd, 4 recent": Schedule(4, 2, recent=4),
        "whole every 4th, chips every 2nd, 4 recent from 0.075": Schedule(4, 2, recent=4,
                                                                          seed=0.075),
        "whole every 3rd, chips every 2nd": Schedule(3, 2),
        "whole every 4th, chips between, seeds from 0.075": Schedule(4, 1, seed=0.075),
        "whole every 4th, chips between, chip face 48": Schedule(4, 1, chip_face=48.0),
        "whole every 4th, chips between, 4 recent": Schedule(4, 1, recent=4),
    }


def inside(boxes: np.ndarray, chips: list[tuple[int, int, int, int]]) -> np.ndarray:
    keep = np.zeros(len(boxes), dtype=bool)
    for x1, y1, x2, y2 in chips:
        keep |= ((boxes[:, 0] >= x1) & (boxes[:, 1] >= y1)
                 & (boxes[:, 2] <= x2) & (boxes[:, 3] <= y2))
    return keep


def simulate(cache: dict[str, Any], sched: Schedule, base: float,
             mask: MaskSettings) -> tuple[Totals, int, int, float]:
    """Totals, faces leaked, faces, and the zoom pass's share of whole-frame runs."""
    scan = ScanSettings(threshold=0.25, keep_weak=VIDEO_KEEP_WEAK, zooms=(1.0, 2.0),
                        mirror=False, chip_face=sched.chip_face)
    scanner = Scanner(scan, detector=video_sweep._Cached())
    total, faces, leaked = Totals(), 0, 0
    zoom_share = frames = 0.0
    for clip, entry in cache.items():
        gt = json.loads(Path(clip + ".gt.json").read_text())
        h, w = entry["shape"]
        recent: deque[Detections] = deque(maxlen=max(sched.recent, 1))
        dets = []
        for t, per in enumerate(entry["frames"]):
            parts = [Detections(*per[video_sweep._key(base)])]
            native = Detections(*per[video_sweep._key(1.0)])
            if t % sched.whole == 0:
                parts.append(native)
                zoom_share += 1.0
            elif sched.chips and t % sched.chips == 0:
                extra = (Detections.concatenate(list(recent)) if sched.recent
                         else Detections())
                chips = plan_chips(parts, w, h, scan, extra)
                zoom_share += sum((c[2] - c[0]) * (c[3] - c[1]) for c in chips) / (w * h)
                parts.append(native[inside(native.boxes, chips)] if len(native)
                             else native)
            d = scanner.combine(parts, w, h)
            recent.append(d.with_min_score(sched.seed))
            dets.append(d)
            frames += 1
        media = MediaInfo(name=Path(clip).name, sha256="", kind="video", width=w, height=h,
                          frame_count=len(dets))
        plan = build_video_plan(dets, media, scan=scan, mask=mask, scene_cuts=entry["cuts"],
                                camera=entry.get("motion"))
        tally = TrackTally()
        for t in range(plan.media.frame_count):
            m = coverage_mask((h, w), plan.frame(t).active_boxes(), mask)
            rows = np.asarray(gt["frames"][t], dtype=np.float64).reshape(-1, 5)
            fs = score_frame(m, rows[:, :4], rows[:, 4] > 0)
            total.add(fs)
            tally.add(fs)
        faces += len(tally.counted)
        leaked += len(tally.leaked)
    return total, leaked, faces, zoom_share / max(frames, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.video_zoom_sweep",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--work", type=Path, default=Path("bench-work/video"))
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gen", choices=("a", "b"), default="a")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--only", default=None)
    a = ap.parse_args(argv)
    gen = videogen_b if a.gen == "b" else videogen
    w, h = videogen_b.parse_size(a.size)
    tag = f"{a.gen}-{w}x{h}"
    clips = gen.make_clips(a.data, a.work / f"clips-{tag}", count=a.clips, frames=a.frames,
                           size=(w, h), seed=a.seed, first=a.first)
    base = video_sweep._key(min(1.0, VIDEO_BASE_SIDE / max(w, h)))
    cache = video_sweep.cache_candidates(clips, a.work, (base, 1.0), f"candidates-{tag}")
    motion = video_sweep.cache_motion(clips, a.work)
    for clip, entry in cache.items():
        entry["motion"] = motion[clip]["motion"]
    n = sum(len(e["frames"]) for e in cache.values())
    cpu_base = sum(e["cpu"][base] for e in cache.values()) / n
    cpu_native = sum(e["cpu"][1.0] for e in cache.values()) / n
    print(f"Generator {a.gen.upper()}, {len(clips)} clips from image {a.first}, {w}x{h}; "
          f"base pass {cpu_base:.3f}, native pass {cpu_native:.3f} CPU-s per frame.\n")
    print("| schedule | frame leak | track leak | collateral | zoom area per frame "
          "| detector CPU-s per frame |")
    print("|---|---|---|---|---|---|")
    for name, sched in grid().items():
        if a.only and a.only not in name:
            continue
        total, leaked, faces, share = simulate(cache, sched, base, MaskSettings())
        print(f"| {name} | {100 * total.leaked / max(total.counted, 1):.2f}% | "
              f"{leaked}/{faces} = {100 * leaked / max(faces, 1):.1f}% | "
              f"{total.collateral:.2f} | {share:.3f} | "
              f"{cpu_base + share * cpu_native:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
