"""One video's stages apart: decode, scan, mask + encode; and how much they overlap.

    python -m benchmarks.video_stages                       # ../shared/data/videos/source_s18.mp4
    python -m benchmarks.video_stages --video clip.mp4 --json bench-out/stages.json

A video job is two passes (:mod:`veil.jobs.video`): pass 1 decodes every frame to RGB
(in a prefetch thread) and scans it, then the plan is built from all the detections;
pass 2 decodes the original again (in a prefetch thread) and masks and encodes each
frame. Here each stage is timed on its own, with nothing else running in this process:

- ``decode``: the frames decoded, as pass 2 reads them (no RGB);
- ``decode + RGB``: decoded and turned into upright RGB, as pass 1 reads them;
- ``scan``: the video scanner and the shot-change detector on RGB frames decoded
  beforehand (held in memory: about 2.8 MB a 720p frame);
- ``plan``: the tracker, from the scan's detections;
- ``mask (RGB + masks)``: the masked frames turned into RGB and masked, not encoded;
- ``mask + encode``: pass 2's work on frames decoded beforehand (masking, RGB to
  Y'CbCr, x264, the audio copied), up to the finished file;

then the two passes as the job runs them today (``pass 1 today``, ``pass 2 today``).
CPU seconds are user + system time of this process (every thread: FFmpeg's, x264's,
onnxruntime's), and the calling thread's alone (``main-thread``: the part of a stage's
loop that cannot spread over cores); both hold under load, whereas wall seconds mean
something only on a quiet machine. For each pass:

- ``serial``: the sum of its stages' wall seconds (no overlap at all);
- ``today's floor``: the least wall time the pass as it runs today can take on
  ``--cores`` cores: its CPU seconds over the cores, or its main thread's CPU seconds
  (the scan or the masking loop; decoding already runs in a prefetch thread) if more;
- ``perfect overlap``: the same floor for its stages in perfect overlap: all their CPU
  over the cores, or the longest stage's main-thread CPU if more.

The gap between the two floors is what more overlap could still give on these cores.
Pass 2 cannot start before the plan is built (the tracker needs every frame's
detections), so the passes themselves cannot overlap within one video.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

_T = TypeVar("_T")


def default_video() -> Path:
    """``../shared/data/videos/source_s18.mp4`` next to the repository (may not exist)."""
    return (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"
            / "source_s18.mp4")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@dataclass
class Stage:
    name: str
    cpu_s: float
    wall_s: float
    main_cpu_s: float  # of the calling thread alone: the part that cannot spread

    def to_dict(self) -> dict[str, object]:
        return {"stage": self.name, "cpu_s": round(self.cpu_s, 2),
                "main_thread_cpu_s": round(self.main_cpu_s, 2),
                "wall_s": round(self.wall_s, 2),
                "cores_busy": round(self.cpu_s / self.wall_s, 2) if self.wall_s > 0 else None}


def timed(name: str, work: Callable[[], _T]) -> tuple[Stage, _T]:
    """Run ``work()``; its CPU seconds (every thread of this process) and wall seconds."""
    c0, m0, t0 = _cpu(), time.thread_time(), time.perf_counter()
    value = work()
    return Stage(name, _cpu() - c0, time.perf_counter() - t0, time.thread_time() - m0), value


def bound(stages: list[Stage], cores: int) -> float:
    """Wall seconds of the stages with perfect overlap on ``cores`` cores, from CPU
    seconds only (valid under load): all their CPU spread over the cores, but never less
    than the longest stage's calling-thread CPU (each stage's own loop runs serially)."""
    return max(sum(s.cpu_s for s in stages) / cores, max(s.main_cpu_s for s in stages))


def measure(video: Path, cores: int) -> dict[str, Any]:
    from veil.jobs.image import shared_scanner
    from veil.jobs.video import plan_video
    from veil.media.video import DecodedFrame, VideoReader, VideoWriter, audio_mode_for, muxer_for
    from veil.plan.record import MediaInfo
    from veil.plan.track import SceneCutDetector
    from veil.plan.video import build_video_plan
    from veil.render.image import mask_planned
    from veil.render.video import RenderStats, _render_frame, bitrate_cap, render_video
    from veil.scan.video import VIDEO_ZOOM_EVERY, VideoScanner, video_scan_settings
    from veil.settings import MaskSettings, ScanSettings

    scan_settings, mask = ScanSettings(), MaskSettings()
    detector = shared_scanner(scan_settings).detector  # loaded before any timing
    stages: dict[str, Stage] = {}

    def decode_only() -> int:
        with VideoReader(video) as reader:
            return sum(1 for _ in reader.frames())

    def decode_rgb() -> int:
        with VideoReader(video) as reader:
            return sum(1 for item in reader.frames() if item.rgb() is not None)

    decode_only()  # warm the file cache and the codec
    stages["decode"], frames = timed("decode", decode_only)
    stages["decode + RGB"], _ = timed("decode + RGB", decode_rgb)

    with VideoReader(video) as reader:
        info = reader.info
        rgbs = [item.rgb() for item in reader.frames()]
    settings = video_scan_settings(info.width, info.height, scan_settings)
    scanner = VideoScanner(settings, VIDEO_ZOOM_EVERY, detector=detector)
    scanner.scan(rgbs[0], 0)  # the detector's first run (its allocations) is not timed
    scanner = VideoScanner(settings, VIDEO_ZOOM_EVERY, detector=detector)

    def scan_all() -> tuple[list[Any], list[int]]:
        from veil.detections import Detections

        cuts = SceneCutDetector()
        found = []
        for i, rgb in enumerate(rgbs):
            d = scanner.scan(rgb, i)
            found.append(Detections(d.boxes, d.scores) if len(d) else Detections.empty())
            cuts.update(i, rgb)
        return found, cuts.cuts

    stages["scan"], (detections, cuts) = timed("scan", scan_all)
    rgbs.clear()  # memory back before pass 2
    media = MediaInfo(name=video.name, sha256="0" * 64, kind="video", width=info.width,
                      height=info.height, frame_count=len(detections), fps=info.fps)
    stages["plan"], plan = timed("plan", lambda: build_video_plan(
        detections, media, scan=settings, mask=mask, scene_cuts=cuts, bad_frames=[]))

    with tempfile.TemporaryDirectory(prefix="veil-stages-") as tmp:
        out = Path(tmp) / "out.mp4"
        with VideoReader(video) as reader:
            items = list(reader.items(audio=True))

        def mask_encode() -> RenderStats:
            stats = RenderStats()
            mode = audio_mode_for(info.audio_codec, muxer_for(out), True)
            with VideoReader(video) as reader:
                audio_stream = reader.audio if mode in ("copy", "aac") else None
                writer = VideoWriter(out, width=info.width, height=info.height,
                                     time_base=info.time_base, rate=info.fps,
                                     audio_stream=audio_stream, audio_mode=mode,
                                     colour=info.colour, maxrate=bitrate_cap(info, 1.0))
                with writer:
                    for item in items:
                        if isinstance(item, DecodedFrame):
                            _render_frame(item, plan, writer, stats, info.orientation.identity
                                          and not writer.padded, len(detections), None)
                        else:
                            writer.write_audio(item)
            return stats

        def mask_only() -> int:
            done = 0
            for item in items:
                if isinstance(item, DecodedFrame) and len(plan.frame(item.index).active_boxes()):
                    mask_planned(item.rgb(), plan, item.index)
                    done += 1
            return done

        stages["mask (RGB + masks)"], _ = timed("mask (RGB + masks)", mask_only)
        stages["mask + encode"], rstats = timed("mask + encode", mask_encode)
        items.clear()
        stages["pass 1 today"], (plan1, _, _) = timed("pass 1 today", lambda: plan_video(
            video, scan=scan_settings, mask=mask, scanner=shared_scanner(scan_settings)))
        stages["pass 2 today"], _ = timed("pass 2 today", lambda: render_video(
            video, plan1, Path(tmp) / "today.mp4"))

    p1 = [stages["decode + RGB"], stages["scan"]]
    p2 = [stages["decode"], stages["mask + encode"]]
    passes = {}
    for name, parts, today in (("pass 1", p1, stages["pass 1 today"]),
                               ("pass 2", p2, stages["pass 2 today"])):
        passes[name] = {"stages_cpu_s": round(sum(s.cpu_s for s in parts), 2),
                        "serial_wall_s": round(sum(s.wall_s for s in parts), 2),
                        "today_cpu_s": round(today.cpu_s, 2),
                        "today_main_thread_cpu_s": round(today.main_cpu_s, 2),
                        "today_wall_s": round(today.wall_s, 2),
                        "bound_wall_s": round(bound(parts, cores), 2),
                        "today_floor_wall_s": round(max(today.cpu_s / cores,
                                                        today.main_cpu_s), 2)}
    return {"video": video.name, "frames": frames, "size": f"{info.width}x{info.height}",
            "masked_frames": rstats.masked_frames, "cores": cores,
            "stages": [s.to_dict() for s in stages.values()], "passes": passes,
            "load": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    from veil.scan.base import available_cores

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, default=None,
                    help="video file [default: ../shared/data/videos/source_s18.mp4]")
    ap.add_argument("--cores", type=int, default=None,
                    help="cores for the bound [default: the cores this process may use]")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    video = args.video or default_video()
    if not video.is_file():
        raise SystemExit(f"no video at {video} (needs ../shared/data)")
    cores = args.cores or available_cores()
    result = measure(video, cores)
    print(f"{result['video']}: {result['frames']} frames {result['size']}, "
          f"{result['masked_frames']} masked, {cores} cores, load average {result['load']}",
          file=sys.stderr)
    print("| stage | CPU-s | main-thread CPU-s | wall-s (under load) | cores busy |")
    print("|---|---|---|---|---|")
    for s in result["stages"]:
        print(f"| {s['stage']} | {s['cpu_s']} | {s['main_thread_cpu_s']} | {s['wall_s']} "
              f"| {s['cores_busy']} |")
    print()
    print("| pass | stages CPU-s | serial wall-s (under load) | today CPU-s "
          "| today main-thread CPU-s | today wall-s (under load) "
          "| today's floor on these cores (s) | perfect overlap (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, p in result["passes"].items():
        print(f"| {name} | {p['stages_cpu_s']} | {p['serial_wall_s']} | {p['today_cpu_s']} | "
              f"{p['today_main_thread_cpu_s']} | {p['today_wall_s']} | "
              f"{p['today_floor_wall_s']} | {p['bound_wall_s']} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
