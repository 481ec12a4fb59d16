"""Chip area of the strided native zoom on a real clip: how much of the frame its chips cover.

    python -m benchmarks.video_chip_area --clip ../shared/data/videos/source_s18.mp4 \\
        --whole 4 --seed-side none,48,32,24

Scans the clip as a video job does (:class:`veil.scan.video.VideoScanner`, the video
settings of its size, ``video_zoom_whole`` = ``--whole``) once per value of
:data:`veil.scan.video.VIDEO_CHIP_SEED_SIDE` (``none``: every weak candidate and recent
face opens a chip, as in session 8; ``--recent-score``:
:data:`veil.scan.video.VIDEO_CHIP_RECENT_SCORE`), and reports the chips' share of the frame on the
chip frames (mean), the share of the frame the zoom pass sees over all zoom
frames (whole frames count 1), and the process CPU-seconds of the scan (load-dependent;
the area is not).
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
from pathlib import Path

import veil.scan.video as video
from veil.media.video import VideoReader, probe_video
from veil.scan.video import VIDEO_ZOOM_EVERY, VideoScanner, video_scan_settings

DEFAULT_CLIP = Path("../shared/data/videos/source_s18.mp4")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def scan_clip(clip: Path, whole: int, seed_side: float | None, frames: int | None,
              recent_score: float | None | str = "default", cell: int | None = None) -> dict:
    info = probe_video(clip)
    settings = dataclasses.replace(video_scan_settings(info.width, info.height),
                                   video_zoom_whole=whole)
    video.VIDEO_CHIP_SEED_SIDE = seed_side
    if cell is not None:
        video.VIDEO_CHIP_CELL = cell
    if recent_score != "default":
        video.VIDEO_CHIP_RECENT_SCORE = recent_score
    vs = VideoScanner(settings, VIDEO_ZOOM_EVERY)
    kinds = {"whole": 0, "chips": 0, "base": 0}
    t0 = _cpu()
    with VideoReader(clip) as reader:
        for item in reader.frames():
            if frames is not None and item.index >= frames:
                break
            rgb = item.rgb()
            kinds[vs.passes_for(info.width, info.height, item.index)] += 1
            vs.scan(rgb, item.index)
    cpu = _cpu() - t0
    zoom_frames = kinds["whole"] + kinds["chips"]
    zoom_area = (kinds["whole"] + vs.chip_area_total) / max(zoom_frames, 1)
    return {"seed_side": "none" if seed_side is None else seed_side, "frames": sum(kinds.values()),
            "chip_frames": kinds["chips"],
            "chip_mean": vs.chip_area_total / max(vs.chip_frames, 1),
            "zoom_area": zoom_area, "cpu_s": cpu}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--whole", type=int, default=4, help="video_zoom_whole (N)")
    ap.add_argument("--seed-side", default="none,48,32,24",
                    help="comma-separated VIDEO_CHIP_SEED_SIDE values (base-pass pixels; none)")
    ap.add_argument("--recent-score", default="default",
                    help="VIDEO_CHIP_RECENT_SCORE (none: the support threshold; default: veil's)")
    ap.add_argument("--cell", type=int, default=None,
                    help="VIDEO_CHIP_CELL (default: veil's)")
    ap.add_argument("--frames", type=int, default=None, help="first frames only")
    a = ap.parse_args(argv)
    recent: float | None | str = a.recent_score
    if recent not in ("none", "default"):
        recent = float(recent)
    elif recent == "none":
        recent = None
    print(f"{a.clip.name}, video_zoom_whole = {a.whole}, recent faces from "
          f"{a.recent_score}\n")
    print("| seed side (base px) | frames | chip frames | chip area mean "
          "| zoom area per zoom frame | scan CPU-s |")
    print("|---|---|---|---|---|---|")
    for v in a.seed_side.split(","):
        r = scan_clip(a.clip, a.whole, None if v == "none" else float(v), a.frames, recent,
                      a.cell)
        print(f"| {r['seed_side']} | {r['frames']} | {r['chip_frames']} | "
              f"{r['chip_mean']:.1%} | {r['zoom_area']:.1%} | "
              f"{r['cpu_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
