"""The review page under load: a 10-minute video and a folder of 1,000 photos.

    python -m benchmarks.review_load                      # both, in bench-out/review-load
    python -m benchmarks.review_load --video-plan loop    # the video's plan from one loop
    python -m benchmarks.review_load --only video --seeks 20
    python -m benchmarks.review_load --only photos --repeat 10
    python -m benchmarks.review_load --prepare-only       # make the media and plans only

Media (made once, kept under ``--work``, outside the repository):

- ``video/talk10.mp4``: the frames of ``../shared/data/videos/source_s18.mp4`` (a real
  talking head, 9.4 s) shrunk to 640x360 and looped to 10 minutes at 25 fps (15,000
  frames), H.264 by PyAV with a keyframe every ``--gop`` frames (default 250, x264's own).
- ``photos/``: the 103 dev images of ``../shared/data/wider-val-dev/images`` repeated
  ``--repeat`` times as hard links (``rep<k>__<name>``; 10: 1,030 photos).

Plans are made without a browser, through the same Python API the page uses
(:class:`veil.review.state.Session` at ``ScanSettings.fast()``, i.e. ``--fast``): the
video's plan by its real scan of every frame (``--video-plan scan``, about 50 minutes on a
busy 2-core machine) or by the scan of one loop of it, its detections repeated and the
plan built from them by the same builder (``--video-plan loop``, :func:`loop_plan`); a
photo's plan by the scan of its first copy, the other copies taking that plan with their
own name (a hard link has the same bytes, so the scan would give the same plan).
Scanning is not what is measured here.

Then the review server is started on them (in this process, as the tests do) and measured:

- over HTTP, with the token header: the file list, a file's regions and track list (the
  timeline's data), a frame at ``--seeks`` random positions (seeded), photo #500;
- in the real browser (playwright driving the system chromium, as the tests do): time to
  the first paint and until the first picture shows, a frame at the random positions
  through the page's own seek, the file list showing, photo #500 opened;
- the server process's resident memory (RSS, from ``/proc``) before, after all that, and
  sampled while every ``--sweep``-th frame of the whole clip is asked for in order (does it
  stay flat?).

Figures are medians and worst cases of wall time on whatever machine this runs on.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.wider import default_root

SHARED = default_root().parent  # ../shared/data
CLIP = SHARED / "videos" / "source_s18.mp4"
IMAGES = SHARED / "wider-val-dev" / "images"
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def rss_mb() -> float:
    """This process's resident memory, in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE_KB / 1024


# ------------------------------------------------------------------ media and plans


def make_video(dst: Path, *, minutes: float, fps: int, gop: int, width: int = 640,
               height: int = 360, frames_only: int | None = None) -> Path:
    """Loop the frames of the talking-head clip into a ``minutes``-long H.264 video (or
    its first ``frames_only`` frames)."""
    import av
    import numpy as np
    from PIL import Image

    if dst.exists():
        return dst
    if not CLIP.is_file():
        raise SystemExit(f"review_load: {CLIP} is absent (the shared data): no video to loop")
    frames = []
    with av.open(str(CLIP)) as src:
        for frame in src.decode(video=0):
            im = frame.to_image().resize((width, height), Image.Resampling.BILINEAR)
            frames.append(np.asarray(im))
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".partial.mp4")
    total = frames_only or int(minutes * 60 * fps)
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(total):
            # forwards then backwards, so the loop has no jump (one long track per face)
            k = i % (2 * len(frames) - 2)
            rgb = frames[k if k < len(frames) else 2 * len(frames) - 2 - k]
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(dst)
    return dst


def link_photos(folder: Path, repeat: int) -> Path:
    """``repeat`` hard links (or copies) of every dev image, flat in ``folder``."""
    import shutil

    if not IMAGES.is_dir():
        raise SystemExit(f"review_load: {IMAGES} is absent (the shared data): no photos")
    folder.mkdir(parents=True, exist_ok=True)
    for src in sorted(IMAGES.rglob("*.jpg")):
        for k in range(repeat):
            dst = folder / f"rep{k}__{src.name}"
            if not dst.exists():
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copyfile(src, dst)
    return folder


def loop_plan(video: Path, session: Any, *, fps: int, gop: int) -> float:
    """The video's plan from the scan of one loop of it (forwards and back: the frames
    repeat exactly, up to the encoder's rounding): that loop is written as a clip of its
    own and scanned as ``plan_video`` scans (same scanner and settings), its detections
    are repeated over the whole length, and the plan is built from them by the same
    builder (tracks, gap filling, extension). A 25th of the full scan's time."""
    import av

    from veil.jobs.image import tool_name
    from veil.jobs.video import scan_video
    from veil.media.fingerprint import file_sha256
    from veil.media.video import probe_video
    from veil.plan.record import MediaInfo
    from veil.plan.video import build_video_plan
    from veil.scan.video import VIDEO_ZOOM_EVERY, VideoScanner, video_scan_settings
    from veil.settings import MaskSettings

    item = session.items[0]
    if item.plan_path.exists():
        return 0.0
    t0 = time.perf_counter()
    with av.open(str(CLIP)) as src:
        period = 2 * src.streams.video[0].frames - 2
    one = make_video(video.parent.parent / "one-loop" / "one-loop.mp4", minutes=0, fps=fps, gop=gop,
                     frames_only=period)
    info = probe_video(video)
    scan = video_scan_settings(info.width, info.height, session.scan)
    scanner = VideoScanner(scan, VIDEO_ZOOM_EVERY)
    detections, cuts, bad = scan_video(one, scanner)
    n = info.frame_count
    everything = [detections[i % len(detections)] for i in range(n)]
    media = MediaInfo(name=video.name, sha256=file_sha256(video), kind="video",
                      width=info.width, height=info.height, frame_count=n, fps=info.fps)
    repeat = range(0, n, len(detections))
    plan = build_video_plan(everything, media, scan=scan, mask=session.mask or MaskSettings(),
                            scene_cuts=[c + k for k in repeat for c in cuts if c + k < n],
                            bad_frames=[b + k for k in repeat for b in bad if b + k < n],
                            tool=tool_name())
    plan.save(item.plan_path)
    return time.perf_counter() - t0


def video_session(video: Path, out: Path) -> Any:
    from veil.review.state import Session
    from veil.settings import ScanSettings

    return Session([video], out, scan=ScanSettings.fast())


def photo_session(folder: Path, out: Path) -> Any:
    from veil.review.state import Session
    from veil.settings import ScanSettings

    return Session([folder], out, scan=ScanSettings.fast())


def make_plans(session: Any) -> float:
    """Plans of every file that has none (a copy's plan from its first copy's scan);
    the seconds the scans took."""
    from veil.plan.record import Plan

    t0 = time.perf_counter()
    first: dict[str, Any] = {}
    for item in session.items:
        base = item.source.name.split("__", 1)[-1]
        if item.plan_path.exists():
            first.setdefault(base, item.plan_path)
            continue
        if base in first and item.kind == "image":
            plan = Plan.load(first[base])
            plan = copy.deepcopy(plan)
            plan.media.name = item.source.name
            plan.save(item.plan_path)
            continue
        session.ensure_plan(item)
        first[base] = item.plan_path
    return time.perf_counter() - t0


# ------------------------------------------------------------------ measuring


class Client:
    """Requests to the review server with the token header; times in milliseconds."""

    def __init__(self, server: Any) -> None:
        self.base, self.token = f"http://127.0.0.1:{server.port}", server.token

    def get(self, path: str) -> tuple[float, bytes]:
        req = urllib.request.Request(self.base + path, headers={"X-Veil-Token": self.token})
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=600) as res:
            data = res.read()
        return 1000 * (time.perf_counter() - t0), data


    def post(self, path: str, body: dict[str, Any]) -> float:
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                     method="POST",
                                     headers={"X-Veil-Token": self.token,
                                              "Content-Type": "application/json"})
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=600) as res:
            res.read()
        return 1000 * (time.perf_counter() - t0)


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):.0f} / {max(times):.0f}"


def wait_plans(session: Any, limit: float = 600) -> None:
    """Wait until the background pass (as ``veil review`` starts it) has loaded every plan."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(it.plan is None and it.state != "error"
                                              for it in session.items):
        time.sleep(0.2)


class Browser:
    """The system chromium driven by playwright (as the tests do); None when unavailable."""

    def __init__(self) -> None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from playwright.sync_api import sync_playwright

        from reviewtools import CHROMIUM_ARGS, chromium_path

        path = chromium_path()
        if path is None:
            raise RuntimeError("no chromium")
        self._p = sync_playwright().start()
        self.browser = self._p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        context = self.browser.new_context(viewport={"width": 1280, "height": 900},
                                           bypass_csp=True)
        self.page = context.new_page()

    def close(self) -> None:
        self.browser.close()
        self._p.stop()

    def open(self, url: str, ready: str) -> tuple[float, float]:
        """Milliseconds to the first paint (the browser's own figure) and until ``ready``
        (a JavaScript condition) holds, from the navigation's start."""
        t0 = time.perf_counter()
        self.page.goto(url)
        self.page.wait_for_function(ready, timeout=600000, polling=10)
        done = 1000 * (time.perf_counter() - t0)
        paint = self.page.evaluate(
            "(performance.getEntriesByName('first-contentful-paint')[0]"
            " || performance.getEntriesByType('paint')[0] || {startTime: -1}).startTime")
        return float(paint), done

    def act(self, script: str, ready: str) -> float:
        t0 = time.perf_counter()
        self.page.evaluate(script)
        self.page.wait_for_function(ready, timeout=600000, polling=10)
        return 1000 * (time.perf_counter() - t0)


def measure_video(video: Path, out: Path, *, seeks: int, sweep: int, seed: int,
                  browser: bool) -> list[tuple[str, str]]:
    from veil.review.server import ReviewServer

    rows: list[tuple[str, str]] = []
    base = rss_mb()
    session = video_session(video, out)
    server = ReviewServer(session)
    server.start()
    session.start_scanning()  # as `veil review` does: loads the plan in the background
    http = Client(server)
    try:
        ms, _ = http.get("/api/files")
        rows.append(("file list (HTTP)", f"{ms:.0f} ms"))
        ms, data = http.get("/api/files/0?frame=0")
        info = json.loads(data)
        n = info["frame_count"]
        rows.append(("plan loaded + regions + track list, first request (HTTP)",
                     f"{ms:.0f} ms ({n} frames, {len(info['tracks'])} tracks, "
                     f"{len(data) // 1024} KiB)"))
        times = [http.get(f"/api/files/0?frame={f}")[0] for f in range(1, 21)]
        rows.append(("regions + track list, next frames (HTTP, median / worst of 20)",
                     f"{summary(times)} ms"))
        rng = random.Random(seed)
        positions = [rng.randrange(n) for _ in range(seeks)]
        item = session.items[0]
        times, decoded = [], []
        for f in positions:
            before = item.frames.decoded if item.frames is not None else 0
            ms, _ = http.get(f"/api/files/0/frames/{f}/original.jpg")
            times.append(ms)
            decoded.append(item.frames.decoded - before)
        rows.append((f"frame at {seeks} random positions (HTTP, median / worst)",
                     f"{summary(times)} ms; frames decoded per request: "
                     f"{statistics.median(decoded):.0f} / {max(decoded)}"))
        if browser:
            b = Browser()
            try:
                paint, first = b.open(server.url,
                                      "document.body.dataset.loaded === '0:0:original'")
                rows.append(("page: first paint / first frame shown (browser)",
                             f"{paint:.0f} ms / {first:.0f} ms"))
                times = [b.act(f"seek({f})",
                               f"document.body.dataset.loaded === '0:{f}:original'")
                         for f in [rng.randrange(n) for _ in range(seeks)]]
                rows.append((f"seek to {seeks} random frames, shown with regions and timeline "
                             "(browser, median / worst)", f"{summary(times)} ms"))
                f0 = rng.randrange(n - 30)
                b.act(f"seek({f0})", f"document.body.dataset.loaded === '0:{f0}:original'")
                times = [b.act(f"seek({f0 + k})",
                               f"document.body.dataset.loaded === '0:{f0 + k}:original'")
                         for k in range(1, 21)]
                rows.append(("next frame, 20 times (browser, median / worst)",
                             f"{summary(times)} ms"))
                times = [b.act(f"seek({f0 + 20 - k})",
                               f"document.body.dataset.loaded === '0:{f0 + 20 - k}:original'")
                         for k in range(1, 21)]
                rows.append(("previous frame, 20 times (browser, median / worst)",
                             f"{summary(times)} ms"))
            finally:
                b.close()
        saved = item.plan_path.read_bytes()  # put back afterwards: the edits are measured
        times = []
        for k in range(3):
            f = rng.randrange(n)
            times.append(http.post("/api/files/0/regions",
                                   {"frame": f, "box": [10 + k, 10, 60 + k, 60]}))
        item.plan_path.write_bytes(saved)
        rows.append((f"an edit (a region added) saved into the plan of {len(saved) // 1024} KiB "
                     "(HTTP, median / worst of 3)", f"{summary(times)} ms"))
        rows.append(("server RSS: before the session / after the above",
                     f"{base:.0f} MiB / {rss_mb():.0f} MiB"))
        samples = []
        t0 = time.perf_counter()
        for k, f in enumerate(range(0, n, sweep)):
            http.get(f"/api/files/0/frames/{f}/original.jpg")
            if k % max(1, (n // sweep) // 8) == 0:
                samples.append(rss_mb())
        samples.append(rss_mb())
        rows.append((f"server RSS while every {sweep}th frame of the clip is shown in order "
                     f"({(time.perf_counter() - t0):.0f} s)",
                     " → ".join(f"{s:.0f}" for s in samples) + " MiB"))
    finally:
        server.stop()
    return rows


def measure_photos(folder: Path, out: Path, *, browser: bool) -> list[tuple[str, str]]:
    from veil.review.server import ReviewServer

    rows: list[tuple[str, str]] = []
    base = rss_mb()
    session = photo_session(folder, out)
    count = len(session.items)
    server = ReviewServer(session)
    server.start()
    session.start_scanning()
    http = Client(server)
    mid = count // 2
    try:
        ms, data = http.get("/api/files")
        rows.append((f"file list of {count} photos (HTTP, first request)",
                     f"{ms:.0f} ms ({len(data) // 1024} KiB)"))
        t0 = time.perf_counter()
        wait_plans(session)
        rows.append(("every plan loaded by the background pass",
                     f"{time.perf_counter() - t0:.1f} s"))
        ms, data = http.get("/api/files")
        rows.append(("file list, all plans loaded (HTTP)",
                     f"{ms:.0f} ms ({len(data) // 1024} KiB)"))
        quiet = [http.get(f"/api/files?since={json.loads(data)['version']}")[0]
                 for _ in range(10)]
        rows.append(("file list poll, nothing changed (HTTP, median / worst of 10)",
                     f"{summary(quiet)} ms"))
        a, _ = http.get(f"/api/files/{mid}")
        b_, pic = http.get(f"/api/files/{mid}/original.jpg")
        rows.append((f"photo #{mid}: regions / picture (HTTP)",
                     f"{a:.0f} ms / {b_:.0f} ms ({len(pic) // 1024} KiB)"))
        if browser:
            b = Browser()
            try:
                paint, shown = b.open(server.url, f"document.querySelectorAll('#files li')"
                                      f".length === {count}")
                rows.append(("page: first paint / file list shown (browser)",
                             f"{paint:.0f} ms / {shown:.0f} ms"))
                b.page.wait_for_function("document.body.dataset.loaded === '0:0:original'",
                                         timeout=600000)
                ms = b.act(f"openFile({mid})",
                           f"document.body.dataset.loaded === '{mid}:0:original'")
                rows.append((f"open photo #{mid} (browser)", f"{ms:.0f} ms"))
                times = [b.act(f"openFile({mid + k})",
                               f"document.body.dataset.loaded === '{mid + k}:0:original'")
                         for k in range(1, 11)]
                rows.append(("next photo, 10 times (browser, median / worst)",
                             f"{summary(times)} ms"))
            finally:
                b.close()
        rows.append(("server RSS: before the session / after the above",
                     f"{base:.0f} MiB / {rss_mb():.0f} MiB"))
    finally:
        server.stop()
    return rows


def table(title: str, rows: list[tuple[str, str]]) -> str:
    lines = [f"| {title} | figure |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("bench-out/review-load"))
    ap.add_argument("--only", choices=["video", "photos"], default=None)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--gop", type=int, default=250)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--video-plan", choices=["scan", "loop"], default="scan",
                    help="scan: the real scan of every frame (long on a small machine); "
                    "loop: the scan of one loop, its detections repeated (loop_plan)")
    ap.add_argument("--seeks", type=int, default=20)
    ap.add_argument("--sweep", type=int, default=100, help="every Nth frame in the sweep")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--no-browser", action="store_true", help="HTTP figures only")
    ap.add_argument("--prepare-only", action="store_true")
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"review_load: {SHARED} is absent (the shared data): nothing to measure "
              "(skipped)")
        return 0
    work: Path = args.work
    out: list[str] = []
    if args.only in (None, "video"):
        video = make_video(work / "video" / "talk10.mp4", minutes=args.minutes, fps=args.fps,
                           gop=args.gop)
        video_out = work / ("video-out" if args.video_plan == "scan" else "video-out-loop")
        session = video_session(video, video_out)
        scan_s = (make_plans(session) if args.video_plan == "scan"
                  else loop_plan(video, session, fps=args.fps, gop=args.gop))
        print(f"video ready ({scan_s:.0f} s of scanning this time)", file=sys.stderr)
        if not args.prepare_only:
            out.append(table(f"{video.name}: {args.minutes:g} min, 640x360, {args.fps} fps, "
                             f"keyframe every {args.gop}, plan by {args.video_plan}",
                             measure_video(video, video_out, seeks=args.seeks,
                                           sweep=args.sweep, seed=args.seed,
                                           browser=not args.no_browser)))
    if args.only in (None, "photos"):
        folder = link_photos(work / "photos", args.repeat)
        scan_s = make_plans(photo_session(folder, work / "photos-out"))
        print(f"photos ready ({scan_s:.0f} s of scanning this time)", file=sys.stderr)
        if not args.prepare_only:
            out.append(table(f"{len(list(folder.iterdir()))} photos",
                             measure_photos(folder, work / "photos-out",
                                            browser=not args.no_browser)))
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
