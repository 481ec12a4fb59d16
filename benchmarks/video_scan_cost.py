"""Detector CPU seconds per frame of video scan schedules, on one real clip.

    python -m benchmarks.video_scan_cost [CLIP] [--frames 150]

Each frame of ``CLIP`` (default ``../shared/data/videos/source_s18.mp4``, 1280x720) is
decoded once and scanned by every schedule in turn (so that all of them share the
machine's load of that moment): today's (``pyramid``: the x1.5 zoom of the frame
brought to the 640 px base), and the ``video`` search's zoom of the frame's own pixels
at x1 and x1.5, every 2nd or 3rd frame, and session 8's strided one (the whole frame on
one frame in 4 or 8, chips on the zoom frames between). The figure is the process's
CPU time spent in the scanner (resizing, detector, merge; decoding excluded), per frame.
CPU time, not wall-clock: it is less sensitive to a shared machine's load, yet not free
of it (caches and the detector's threads compete), so compare the rows of one run, not
runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from benchmarks.video_leak import clip_frames
from benchmarks.videogen import DEFAULT_DATA
from veil.media.video import probe_video
from veil.scan.video import VideoScanner, video_scan_settings
from veil.settings import ScanSettings


def schedules(width: int, height: int) -> dict[str, tuple[ScanSettings, int]]:
    """The compared schedules: name -> (scan settings, zoom pass on one frame in N)."""
    s = video_scan_settings(width, height, ScanSettings())
    whole = dataclasses.replace(s, video_zoom_whole=0)  # before session 8
    today = dataclasses.replace(whole, search="pyramid")
    return {
        "today (x1.5 of the 640 px base), every 2nd": (today, 2),
        "native x1, every 2nd": (dataclasses.replace(whole, native_scale=1.0), 2),
        "native x1, every 3rd": (dataclasses.replace(whole, native_scale=1.0), 3),
        "native x1.5, every 2nd": (dataclasses.replace(whole, native_scale=1.5,
                                                       max_upscale=1.5), 2),
        "native x1.5, every 3rd": (dataclasses.replace(whole, native_scale=1.5,
                                                       max_upscale=1.5), 3),
        "native x1 whole every 4th, chips every 2nd (session 8)": (
            dataclasses.replace(s, video_zoom_whole=4), 2),
        "native x1 whole every 8th, chips every 2nd": (
            dataclasses.replace(s, video_zoom_whole=8), 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.video_scan_cost",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("clip", nargs="?", type=Path,
                    default=DEFAULT_DATA / "videos" / "source_s18.mp4")
    ap.add_argument("--frames", type=int, default=150, help="frames scanned (from the start)")
    a = ap.parse_args(argv)
    info = probe_video(a.clip)
    plans = schedules(info.width, info.height)
    first = next(iter(plans.values()))[0]
    from veil.scan.registry import get_detector

    detector = get_detector(first.detector, floor=first.detector_floor, device="cpu")
    scanners = {name: VideoScanner(s, every, detector=detector)
                for name, (s, every) in plans.items()}
    cpu = dict.fromkeys(scanners, 0.0)
    found = dict.fromkeys(scanners, 0)
    n = 0
    for t, rgb in enumerate(clip_frames(a.clip)):
        if t >= a.frames:
            break
        for name, vs in scanners.items():
            t0 = time.process_time()
            found[name] += len(vs.scan(rgb, t))
            cpu[name] += time.process_time() - t0
        n += 1
    base = cpu[next(iter(cpu))]
    print(f"{a.clip.name}, {info.width}x{info.height}, first {n} frames; process CPU "
          "seconds in the scanner per frame (measured on a shared machine).\n")
    print("| schedule | CPU-s per frame | against today | candidates per frame |")
    print("|---|---|---|---|")
    for name in scanners:
        print(f"| {name} | {cpu[name] / max(n, 1):.3f} | x{cpu[name] / max(base, 1e-9):.2f} | "
              f"{found[name] / max(n, 1):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
