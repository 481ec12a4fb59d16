"""CPU cost of the camera-motion estimate (:class:`veil.plan.motion.CameraMotion`).

    python -m benchmarks.video_motion_cost                      # the real clips, 90 frames
    python -m benchmarks.video_motion_cost --frames 300 CLIP...

Every frame is decoded once and fed to the estimator, as the video job's first pass
feeds it; the table gives its process CPU time per frame (resizing to the 320 px grey
copy included; decoding excluded) and how many frames had no trusted estimate. CPU time,
not wall-clock time, so the figure holds on a loaded machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.video_leak import clip_frames
from benchmarks.videogen import DEFAULT_DATA
from veil.plan.motion import CameraMotion, motion_size


def measure(clip: Path, frames: int) -> tuple[int, float, int, int, tuple[int, int]]:
    """Frames fed, CPU seconds, frames without an estimate, fast frames, frame size."""
    est = CameraMotion()
    size = (0, 0)
    for t, rgb in enumerate(clip_frames(clip)):
        if t >= frames:
            break
        size = (rgb.shape[1], rgb.shape[0])
        est.update(t, rgb)
    n = len(est.motion)
    unknown = sum(m is None for m in est.motion[1:])
    fast = sum(motion_size(m, size) > 0.02 * max(size) for m in est.motion[1:]
               if m is not None)
    return n, est.cpu_seconds, unknown, fast, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.video_motion_cost",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*", type=Path)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--frames", type=int, default=90)
    a = ap.parse_args(argv)
    clips = a.clips or sorted((a.data / "videos").glob("*.mp4"))
    if not clips:
        print(f"no clips given and none under {a.data / 'videos'}")
        return 2
    print("| clip | size | frames | CPU-ms per frame | no estimate | fast frames |")
    print("|---|---|---|---|---|---|")
    total_n = total_cpu = 0.0
    for clip in clips:
        n, cpu, unknown, fast, (w, h) = measure(clip, a.frames)
        total_n += n
        total_cpu += cpu
        print(f"| {clip.name} | {w}x{h} | {n} | {1000 * cpu / max(n, 1):.1f} | "
              f"{unknown} | {fast} |", flush=True)
    print(f"| all | | {int(total_n)} | {1000 * total_cpu / max(total_n, 1):.1f} | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
