"""The video job: scan every frame, plan with tracks, render with sound, without metadata.

Pass 1 decodes every frame once (streaming; frames are not kept), scans it and
measures shot changes; the tracker then turns the per-frame detections into the
plan, which is saved as a JSON sidecar. Pass 2 decodes the original again and
renders it from the plan. Per-file problems come back as a :class:`FileResult`
whose ``error`` is one line; nothing is then left under the output name.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from veil.detections import Detections
from veil.errors import MediaError, VeilError, error_text
from veil.jobs.image import check_output_path, tool_name
from veil.jobs.result import FileResult, Progress
from veil.media.fingerprint import file_sha256
from veil.media.kinds import VIDEO_SUFFIXES
from veil.media.video import DecodedFrame, VideoReader, prefetch, probe_video
from veil.plan.motion import CameraMotion
from veil.plan.record import MediaInfo, Plan
from veil.plan.track import SceneCutDetector, TrackSettings
from veil.plan.video import build_video_plan
from veil.render.video import render_video
from veil.scan.registry import is_shared
from veil.scan.scanner import Scanner
from veil.scan.video import (
    VIDEO_BASE_SIDE,
    VIDEO_KEEP_WEAK,
    VIDEO_ZOOM,
    VIDEO_ZOOM_EVERY,
    VideoScanner,
    video_scan_settings,
)
from veil.settings import MaskSettings, ScanSettings

# The video scan policy lives in veil.scan.video; its names stay importable from here.
__all__ = ["VIDEO_BASE_SIDE", "VIDEO_KEEP_WEAK", "VIDEO_SUFFIXES", "VIDEO_ZOOM",
           "VIDEO_ZOOM_EVERY", "VideoScanner", "anonymize_video", "default_plan_path", "plan_video",
           "probe_video", "render_video_plan", "scan_video", "video_scan_settings"]


def default_plan_path(dst: Path) -> Path:
    """Where the plan sidecar goes by default: ``<output>.veil.json``."""
    return Path(str(dst) + ".veil.json")


def _with_pixels(frames: Iterator[DecodedFrame]) -> Iterator[tuple[DecodedFrame, np.ndarray]]:
    for item in frames:
        yield item, (item.rgb() if not item.corrupt else np.zeros((1, 1, 3), np.uint8))


def scan_video(src: Path, scanner: Scanner | VideoScanner, *, progress: Progress | None = None,
               progress_total: int | None = None, motion: CameraMotion | None = None
               ) -> tuple[list[Detections], list[int], list[int]]:
    """Pass 1: detections of every frame, the frames that begin a new shot, bad frames.

    Frames are decoded (and converted to RGB) in a background thread while the
    current one is scanned; none is kept. A frame the decoder flags as corrupt, or
    that the scanner fails on, is listed as bad (masked whole later). Raises
    :class:`MediaError` on a truncated or unreadable file. ``motion``, when given, is
    fed every frame (the camera's motion, for the tracker).
    """
    detections: list[Detections] = []
    bad: list[int] = []
    cuts = SceneCutDetector()
    empty = Detections.empty()
    with VideoReader(src) as reader, contextlib.closing(
            prefetch(_with_pixels(reader.frames()))) as items:
        for item, rgb in items:
            if motion is not None:
                motion.update(item.index, None if item.corrupt else rgb)
            if item.corrupt:
                bad.append(item.index)
                detections.append(empty)
            else:
                try:
                    d = (scanner.scan(rgb, item.index) if isinstance(scanner, VideoScanner)
                         else scanner.scan(rgb))
                    # Keep boxes and scores only: small, whatever the video's length.
                    detections.append(Detections(d.boxes, d.scores) if len(d) else empty)
                except Exception:  # noqa: BLE001 - fail closed: the frame is masked whole
                    bad.append(item.index)
                    detections.append(empty)
                cuts.update(item.index, rgb)
            if progress is not None:
                progress(len(detections), progress_total)
    if detections and len(bad) == len(detections):
        raise MediaError(src, "no frame could be decoded and scanned")
    return detections, cuts.cuts, bad


def plan_video(src: Path, *, scan: ScanSettings, mask: MaskSettings,
               track: TrackSettings | None = None, scanner: Scanner | None = None,
               adapt_scan: bool = True, zoom_every: int = VIDEO_ZOOM_EVERY,
               progress: Progress | None = None,
               passes: int = 1) -> tuple[Plan, list[int], list[int]]:
    """Pass 1 of a video job: scan every frame of ``src`` and build its plan (tracks, gap
    filling, extension, scene cuts). Returns the plan, the scene cuts and the frames that
    could not be decoded or scanned (masked whole).

    ``scan``, ``scanner``, ``adapt_scan`` and ``zoom_every`` are as for
    :func:`anonymize_video`; ``progress`` counts the scanned frames against ``passes``
    times the frame count (2 when the render pass follows and reports on the same bar).
    """
    info = probe_video(src)
    frame_scanner: Scanner | VideoScanner
    if adapt_scan:
        scan = video_scan_settings(info.width, info.height, scan)
        shared = scanner.detector if scanner else None
        if shared is not None and getattr(shared, "name", "") != scan.detector \
                and is_shared(shared):
            shared = None  # the photo detector of the registry; video frames have their own
        frame_scanner = VideoScanner(scan, zoom_every, detector=shared)
    else:
        frame_scanner = scanner or Scanner(scan)
    total = passes * info.frame_count if info.frame_count else None
    sha = file_sha256(src)
    motion = CameraMotion()
    detections, cuts, bad = scan_video(src, frame_scanner, progress=progress,
                                       progress_total=total, motion=motion)
    media = MediaInfo(name=src.name, sha256=sha, kind="video", width=info.width,
                      height=info.height, frame_count=len(detections), fps=info.fps)
    plan = build_video_plan(detections, media, scan=scan, mask=mask, scene_cuts=cuts,
                            bad_frames=bad, track=track, tool=tool_name(),
                            camera=motion.motion)
    return plan, cuts, bad


def anonymize_video(src: Path, dst: Path, *, scan: ScanSettings, mask: MaskSettings,
                    plan_path: Path | None = None, audio: bool = True, crf: int = 20,
                    scanner: Scanner | None = None, progress: Progress | None = None,
                    overwrite: bool = False, track: TrackSettings | None = None,
                    preset: str = "veryfast", adapt_scan: bool = True,
                    zoom_every: int = VIDEO_ZOOM_EVERY) -> FileResult:
    """Mask every face in every frame of ``src`` and write a clean H.264 copy to ``dst``.

    Two passes: scan every frame → plan (tracks, gap filling, extension, motion
    widening, scene cuts; saved to ``plan_path`` or ``<dst>.veil.json``) → render.
    The output is upright (the whole display matrix, mirror included), keeps
    resolution, the frames and timestamps a player shows, the input's colour matrix and
    range (HDR is tone-mapped to SDR BT.709), its video bitrate is capped at the
    source's (``extra``: ``input_bytes``, ``output_bytes``, ``video_maxrate``), copies the
    audio packets (``audio=False`` drops them; codecs MP4 cannot hold are transcoded
    to AAC), and carries no metadata tags, data, subtitle or attachment streams.
    ``progress(done, total)`` counts frames of both passes (total = 2 x frames).
    With ``adapt_scan`` (the default) ``scan`` is turned into the video settings of
    :func:`video_scan_settings` (recorded in the plan) and the zoom pass runs on one
    frame in ``zoom_every``; of a ``scanner`` given by the caller only its detector is
    then used (a photo scanner's passes would be several times too slow for video), and
    not even that when it is the registry's detector of another name than the video
    settings' (the photo graph, when ``scan.video_detector`` asks for the int8 one).
    With ``adapt_scan=False`` a given ``scanner`` is used as it is.

    Returns a :class:`FileResult`; on failure ``error`` is one line and no file is
    left under ``dst``.
    """
    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    result = FileResult(source=src, kind="video")
    try:
        check_output_path(src, dst, overwrite=overwrite)
        plan, cuts, bad = plan_video(src, scan=scan, mask=mask, track=track, scanner=scanner,
                                     adapt_scan=adapt_scan, zoom_every=zoom_every,
                                     progress=progress, passes=2)
        n = plan.media.frame_count
        result.plan = plan
        plan_file = Path(plan_path) if plan_path is not None else default_plan_path(dst)
        plan.save(plan_file)
        result.plan_path = plan_file
        stats = render_video(src, plan, dst, audio=audio, crf=crf, preset=preset,
                             progress=progress, progress_offset=n,
                             progress_total=2 * n)
        result.output = dst
        result.frames = stats.frames
        result.faces = stats.face_regions
        result.extra.update(stats.to_dict())
        result.extra["scene_cuts"] = len(cuts)
        result.extra["bad_frames"] = len(bad)
        result.extra["regions"] = plan.counts_by_provenance()
    except (VeilError, OSError, ValueError) as exc:
        result.error = error_text(exc)
    result.seconds = time.perf_counter() - t0
    return result


def render_video_plan(src: Path, plan: Plan, dst: Path, *, audio: bool = True, crf: int = 20,
                      progress: Progress | None = None, overwrite: bool = True,
                      preset: str = "veryfast") -> FileResult:
    """Re-render a saved (possibly edited) plan onto the original video, without scanning.

    The plan must have been made for this very file (same SHA-256). ``dst`` may not
    be ``src``; an existing ``dst`` is replaced unless ``overwrite=False``. Returns a
    :class:`FileResult`; on failure its ``error`` is one line and nothing is written.
    """
    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    result = FileResult(source=src, kind="video", plan=plan)
    try:
        check_output_path(src, dst, overwrite=overwrite)
        plan.require_source(src, "video")
        stats = render_video(src, plan, dst, audio=audio, crf=crf, preset=preset,
                             progress=progress)
        result.output = dst
        result.frames = stats.frames
        result.faces = stats.face_regions
        result.extra.update(stats.to_dict())
    except (VeilError, OSError, ValueError) as exc:
        result.error = error_text(exc)
    result.seconds = time.perf_counter() - t0
    return result
