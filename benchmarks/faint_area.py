"""Faint tracks on real footage: how much of each frame is masked by tracks that never
reach the threshold (issue 12; METRICS.md has no face boxes for these clips).

    python -m benchmarks.faint_area                  # every frame of the 17 clips
    python -m benchmarks.faint_area --frames 150     # the first 150 frames of each
    python -m benchmarks.faint_area --json out.json  # the table's figures as JSON too
    python -m benchmarks.faint_area --track '{"faint_max_size": 0}'   # other track settings
    python -m benchmarks.faint_area --frames 150 --video-detector fp32   # the fp32 graph

Each clip of ``<data>/videos`` is scanned as a video job scans it (the video scan
settings of :func:`veil.scan.video.video_scan_settings`, the zoom pass on one frame in
:data:`veil.scan.video.VIDEO_ZOOM_EVERY`, shot changes) and its plan is built as
:func:`veil.jobs.video.plan_video` builds it (:func:`veil.plan.video.build_video_plan`);
nothing is rendered. The per-frame detections are cached in ``--work`` (keyed by the
clip's name, its size in bytes and ``--frames``), so other track settings cost only the
plan. Per clip: frames, tracks kept in the plan, the kept tracks none of whose detections
reaches the scan's threshold ("faint"), and the share of the frame area, averaged over the
frames, that the masks of the faint tracks cover, the part of it no other mask covers (what
the faint tracks add), and what all masks cover (the pixels a fill would change,
:func:`veil.render.masks.coverage_mask`); the last row is the mean over the clips. The
clips show one or two people each, large, and have no face boxes: a faint track may lie on
the face (which a confirmed track masks anyway) or on the room, hence the second figure.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.videogen import DEFAULT_DATA
from veil.detections import Detections
from veil.media.video import VideoReader, probe_video
from veil.plan.motion import Affine, CameraMotion
from veil.plan.record import MediaInfo, Plan
from veil.plan.track import SceneCutDetector, TrackSettings
from veil.plan.video import build_video_plan
from veil.render.masks import coverage_mask
from veil.scan.video import VIDEO_ZOOM_EVERY, VideoScanner, video_scan_settings
from veil.settings import MaskSettings, ScanSettings


@dataclass
class Scanned:
    """What pass 1 of a video job finds in (the first frames of) one clip."""

    detections: list[Detections]
    cuts: list[int]
    bad: list[int]
    width: int
    height: int
    scan: ScanSettings
    camera: list[Affine | None] | None = None  # the camera's motion into each frame


def scan_clip(path: Path, frames: int | None, scanner_cache: dict[str, VideoScanner],
              video_detector: str = "fp32") -> Scanned:
    """Scan the first ``frames`` frames of ``path`` (all when None) as a video job does
    (with the CenterFace graph ``video_detector`` chooses)."""
    info = probe_video(path)
    scan = video_scan_settings(info.width, info.height,
                               ScanSettings(video_detector=video_detector))
    key = repr(scan)
    if key not in scanner_cache:
        scanner_cache[key] = VideoScanner(scan, VIDEO_ZOOM_EVERY)  # the registry's detector
    scanner = scanner_cache[key]
    dets: list[Detections] = []
    bad: list[int] = []
    cuts = SceneCutDetector()
    motion = CameraMotion()  # as the video job measures it, for the tracker
    with VideoReader(path) as reader:
        for item in reader.frames():
            if frames is not None and item.index >= frames:
                break
            if item.corrupt:
                bad.append(item.index)
                dets.append(Detections.empty())
                motion.update(item.index, None)
                continue
            rgb = item.rgb()
            motion.update(item.index, rgb)
            d = scanner.scan(rgb, item.index)
            dets.append(Detections(d.boxes, d.scores) if len(d) else Detections.empty())
            cuts.update(item.index, rgb)
    return Scanned(dets, list(cuts.cuts), bad, info.width, info.height, scan, motion.motion)


def cached_scan(path: Path, frames: int | None, work: Path,
                scanner_cache: dict[str, VideoScanner], video_detector: str = "fp32"
                ) -> Scanned:
    # "m": caches made before the camera's motion was kept have none, and are not used;
    # the graph that searched the frames is part of the name (fp32 caches keep theirs)
    from veil.scan.centerface import INT8_SHA256
    from veil.scan.registry import video_detector_name

    graph = video_detector_name(video_detector)
    tag = "" if graph == "centerface" else f".{graph}-{INT8_SHA256[:12]}"
    name = f"{path.name}.{path.stat().st_size}.{frames or 'all'}.m{tag}.pkl"
    cached = work / "faint-area" / name
    if cached.is_file():
        out: Scanned = pickle.loads(cached.read_bytes())
        return out
    out = scan_clip(path, frames, scanner_cache, video_detector)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(cached.name + ".part")
    tmp.write_bytes(pickle.dumps(out))
    tmp.replace(cached)
    return out


def make_plan(s: Scanned, name: str, track: TrackSettings, mask: MaskSettings) -> Plan:
    media = MediaInfo(name=name, sha256="", kind="video", width=s.width, height=s.height,
                      frame_count=len(s.detections))
    return build_video_plan(s.detections, media, scan=s.scan, mask=mask, scene_cuts=s.cuts,
                            bad_frames=s.bad, track=track, camera=s.camera)


def faint_figures(plan: Plan, mask: MaskSettings) -> dict[str, Any]:
    """Tracks kept, faint tracks and the mean masked shares of the frame area."""
    threshold = plan.scan.threshold
    best: dict[int, float] = {}
    sizes: dict[int, list[float]] = {}
    for fp in plan.frames.values():
        for r in fp.regions:
            if r.track_id is None:
                continue
            if r.provenance == "detected":
                best[r.track_id] = max(best.get(r.track_id, 0.0), r.score)
                x1, y1, x2, y2 = r.box
                sizes.setdefault(r.track_id, []).append(max(x2 - x1, y2 - y1))
            else:
                best.setdefault(r.track_id, 0.0)
    faint = {k for k, v in best.items() if v < threshold}
    hw = (plan.media.height, plan.media.width)
    area = float(hw[0] * hw[1])
    n = max(plan.media.frame_count or 0, 1)
    faint_share = alone_share = all_share = 0.0
    for t in range(n):
        regions = plan.frame(t).active_regions()
        if not regions:
            continue
        every = coverage_mask(hw, np.asarray([r.box for r in regions], np.float32), mask)
        all_share += every.sum() / area
        fb = np.asarray([r.box for r in regions if r.track_id in faint], np.float32)
        if len(fb):
            cov = coverage_mask(hw, fb, mask)
            faint_share += cov.sum() / area
            others = [r.box for r in regions if r.track_id not in faint]
            if others:
                cov &= ~coverage_mask(hw, np.asarray(others, np.float32), mask)
            alone_share += cov.sum() / area
    long_side = max(hw)
    faint_sizes = [float(np.median(sizes[k])) / long_side for k in faint if k in sizes]
    return {"frames": n, "tracks": len(best), "faint_tracks": len(faint),
            "faint_area": faint_share / n, "faint_alone_area": alone_share / n,
            "all_area": all_share / n,
            "largest_faint": max(faint_sizes, default=0.0)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.faint_area",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="the shared data folder (its videos/ holds the clips)")
    ap.add_argument("--work", type=Path, default=Path("bench-work/video"),
                    help="cache of the per-frame detections")
    ap.add_argument("--frames", type=int, default=None,
                    help="scan only the first N frames of each clip (default: all)")
    ap.add_argument("--track", default="{}",
                    help="track settings to change, as JSON (default: veil's defaults)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--video-detector", choices=("auto", "int8", "fp32"),
                    default=ScanSettings().video_detector,
                    help="the CenterFace graph of the scan (veil's --video-detector; "
                         "default: veil's)")
    a = ap.parse_args(argv)
    clips = sorted((a.data / "videos").glob("*.mp4"))
    if not clips:
        print(f"no clips under {a.data / 'videos'}", file=sys.stderr)
        return 2
    track = TrackSettings.from_dict({**TrackSettings().to_dict(), **json.loads(a.track)})
    mask = MaskSettings()
    scanners: dict[str, VideoScanner] = {}
    rows: dict[str, dict[str, Any]] = {}
    limit = f"the first {a.frames} frames" if a.frames else "every frame"
    print(f"{len(clips)} clips, {limit} of each; default video plan, video detector "
          f"{a.video_detector}"
          f"{'' if a.track == '{}' else ' with ' + a.track}.\n")
    print("| clip | size | frames | tracks kept | faint tracks | faint masks | of which "
          "outside other masks | all masks | largest faint (x long side) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for clip in clips:
        s = cached_scan(clip, a.frames, a.work, scanners, a.video_detector)
        row = faint_figures(make_plan(s, clip.name, track, mask), mask)
        row["size"] = f"{s.width}x{s.height}"
        rows[clip.name] = row
        print(f"| {clip.name} | {row['size']} | {row['frames']} | {row['tracks']} | "
              f"{row['faint_tracks']} | {100 * row['faint_area']:.2f}% | "
              f"{100 * row['faint_alone_area']:.2f}% | {100 * row['all_area']:.2f}% | "
              f"{row['largest_faint']:.2f} |", flush=True)
    mean = {k: float(np.mean([r[k] for r in rows.values()]))
            for k in ("frames", "tracks", "faint_tracks", "faint_area", "faint_alone_area",
                      "all_area")}
    print(f"| **mean of {len(rows)} clips** | | {mean['frames']:.0f} | {mean['tracks']:.1f} | "
          f"{mean['faint_tracks']:.1f} | **{100 * mean['faint_area']:.2f}%** | "
          f"{100 * mean['faint_alone_area']:.2f}% | {100 * mean['all_area']:.2f}% | |")
    if a.json:
        a.json.write_text(json.dumps({"frames_limit": a.frames, "track": track.to_dict(),
                                      "clips": rows, "mean": mean}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
