"""What the render's parts cost at 720p, and what x264's preset trades (session 9).

``preset``: the decoded frames of each clip (passed through as ``yuv420p``, no masks) are
encoded with :class:`veil.media.video.VideoWriter` as the render encodes them (CRF 20,
aq-mode 0, one thread, the bitrate capped at ``BITRATE_CAP`` x the source's) with each
preset: encoder CPU per frame (``time.process_time`` around the writes; the frames are
decoded beforehand), output size, and the fidelity of the output against the decoded
input (luma PSNR; the share of luma pixels more than 12 levels off, as the writer's
aq-mode comment measures).

``threads``: CPU and wall milliseconds per frame of the whole-frame colour conversions
(:meth:`Colour.to_rgb`, :meth:`Colour.from_rgb`) with swscale's automatic threads
(``None``) and with one thread, alternating.

Example::

    python -m benchmarks.render_cost preset CLIP [CLIP ...] --frames 150
    python -m benchmarks.render_cost threads CLIP --frames 60
    python -m benchmarks.render_cost render CLIP --plan CLIP.veil.json

``render``: CPU-seconds of one render of a saved plan (the render alone, no scan).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from veil.media.video import VideoReader, VideoWriter
from veil.render.inplace import yuv_planes
from veil.render.video import BITRATE_CAP, bitrate_cap

PRESETS = ("veryfast", "superfast", "ultrafast")


def decoded(path: Path, frames: int) -> tuple[object, list[tuple[int | None, object]]]:
    """The clip's info and its first ``frames`` frames as passable ``yuv420p`` frames."""
    out = []
    with VideoReader(path) as r:
        info = r.info
        for item in r.frames():
            if item.index >= frames:
                break
            f = info.colour.passthrough(item.frame) if info.colour else item.frame
            out.append((item.pts, f))
    return info, out


def encode(info, frames, dst: Path, preset: str) -> float:  # noqa: ANN001
    """Encoder CPU-seconds for ``frames`` written to ``dst`` as the render writes them."""
    w = VideoWriter(dst, width=info.width, height=info.height, time_base=info.time_base,
                    rate=info.fps, crf=20, preset=preset, colour=info.colour,
                    maxrate=bitrate_cap(info, BITRATE_CAP))
    t0 = time.process_time()
    with w:
        for pts, f in frames:
            w.write_frame(f, pts)
    return time.process_time() - t0


def fidelity(frames, dst: Path) -> tuple[float, float]:  # noqa: ANN001
    """Luma PSNR (dB) and share of luma pixels more than 12 levels off, over all frames."""
    se, n, off = 0.0, 0, 0
    with av.open(str(dst)) as c:
        for (_, a), b in zip(frames, c.decode(video=0), strict=False):
            ya = yuv_planes(a)[0].astype(np.int16)
            yb = b.to_ndarray(format="gray") if b.format.name != "yuv420p" \
                else yuv_planes(b)[0]
            d = ya - yb.astype(np.int16)
            se += float(np.square(d, dtype=np.int64).sum())
            off += int((np.abs(d) > 12).sum())
            n += d.size
    mse = se / max(1, n)
    return (99.0 if mse == 0 else 10 * math.log10(255 ** 2 / mse)), off / max(1, n)


def preset_mode(a: argparse.Namespace) -> None:
    print("| clip | preset | encode CPU ms/frame | size kB | luma PSNR dB | "
          "luma >12 off |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for clip in a.clips:
            info, frames = decoded(clip, a.frames)
            cap = bitrate_cap(info, BITRATE_CAP)
            for rep in range(a.reps):
                order = PRESETS if rep % 2 == 0 else tuple(reversed(PRESETS))
                for preset in order:
                    dst = Path(tmp) / f"{preset}.mp4"
                    cpu = encode(info, frames, dst, preset)
                    psnr, off = fidelity(frames, dst)
                    print(f"| {clip.name} ({len(frames)} fr, cap {cap // 1000 if cap else '-'}"
                          f" kbit/s) | {preset} | {1e3 * cpu / len(frames):.2f} | "
                          f"{dst.stat().st_size / 1e3:.0f} | {psnr:.2f} | {100 * off:.2f}% |",
                          flush=True)


def threads_mode(a: argparse.Namespace) -> None:
    info, frames = decoded(a.clips[0], a.frames)
    col = info.colour
    rgbs = [col.to_rgb(f) for _, f in frames]
    res: dict[str, list[float]] = {}
    for rep in range(a.reps):
        for threads in ((None, 1) if rep % 2 == 0 else (1, None)):
            for what in ("to_rgb", "from_rgb"):
                c0, t0 = time.process_time(), time.perf_counter()
                if what == "to_rgb":
                    for _, f in frames:
                        col.to_rgb(f, threads=threads)
                else:
                    for rgb in rgbs:
                        col.from_rgb(rgb, threads=threads)
                c1, t1 = time.process_time(), time.perf_counter()
                res.setdefault(f"{what} threads={threads} CPU", []).append(
                    1e3 * (c1 - c0) / len(frames))
                res.setdefault(f"{what} threads={threads} wall", []).append(
                    1e3 * (t1 - t0) / len(frames))
    print(f"{a.clips[0].name}, {len(frames)} frames, {a.reps} alternating runs "
          "(ms per frame, each run)\n")
    print("| conversion | ms per frame |")
    print("|---|---|")
    for k, v in res.items():
        print(f"| {k} | {', '.join(f'{x:.2f}' for x in v)} |")
    same = all(np.array_equal(col.to_rgb(f), col.to_rgb(f, threads=1)) for _, f in frames[:20])
    print(f"\nthreads=None and threads=1 give the same RGB (20 frames): {same}")


def render_mode(a: argparse.Namespace) -> None:
    """CPU-seconds (user + system of this process, ``resource.getrusage``; imports and
    the plan's loading excluded) of one :func:`render_video` of a saved plan."""
    import dataclasses
    import resource

    from veil.plan.record import Plan
    from veil.render.video import render_video

    plan = Plan.load(a.plan)
    if a.method:
        plan.mask = dataclasses.replace(plan.mask, method=a.method)
    with tempfile.TemporaryDirectory() as tmp:
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        stats = render_video(a.clips[0], plan, Path(tmp) / a.clips[0].name)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(f"render {a.clips[0].name}: {stats.frames} frames, {stats.masked_frames} masked, "
          f"{stats.face_regions} regions, method {plan.mask.method}: CPU {cpu:.2f} s, "
          f"wall {wall:.2f} s, {stats.output_bytes} bytes")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.render_cost",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("preset", "threads", "render"))
    ap.add_argument("clips", type=Path, nargs="+")
    ap.add_argument("--frames", type=int, default=150, help="frames of each clip used")
    ap.add_argument("--reps", type=int, default=2, help="runs of each setting, alternating")
    ap.add_argument("--plan", type=Path, help="render: the saved plan (.veil.json)")
    ap.add_argument("--method", help="render: mask method instead of the plan's")
    a = ap.parse_args(argv)
    {"preset": preset_mode, "threads": threads_mode, "render": render_mode}[a.mode](a)


if __name__ == "__main__":
    main()
