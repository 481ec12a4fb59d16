"""The video job: scan every frame, plan with tracks, render with sound, without metadata.

Pass 1 decodes every frame once (streaming; frames are not kept), scans it and
measures shot changes; the tracker then turns the per-frame detections into the
plan, which is saved as a JSON sidecar. Pass 2 decodes the original again and
renders it from the plan. Per-file problems come back as a :class:`FileResult`
whose ``error`` is one line; nothing is then left under the output name.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from veil.detections import Detections
from veil.errors import MediaError, VeilError
from veil.jobs.result import FileResult, Progress
from veil.media.fingerprint import file_sha256
from veil.media.video import VIDEO_SUFFIXES, DecodedFrame, VideoReader, prefetch, probe_video
from veil.plan.record import MediaInfo, Plan
from veil.plan.track import SceneCutDetector, TrackSettings
from veil.plan.video import build_video_plan
from veil.render.video import render_video
from veil.scan.base import Detector
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings

__all__ = ["VIDEO_SUFFIXES", "anonymize_video", "probe_video", "render_video_plan",
           "scan_video", "default_plan_path", "video_scan_settings", "VideoScanner"]

#: Long side of the base pass for video frames: CenterFace costs about 26 ms at
#: 640x360 and 128 ms at 1280x720 on two cores, and a video has thousands of frames.
VIDEO_BASE_SIDE = 640
#: The zoom pass of a video frame: x1.5 of the base pass (960x540 for 16:9).
VIDEO_ZOOM = 1.5
#: The zoom pass runs on one frame in this many; the tracker bridges the others.
#: (``python -m benchmarks.video_sweep``: 1.5x on every second frame leaked less than
#: 2x on every third, at less cost.)
VIDEO_ZOOM_EVERY = 2
#: Video frames also report candidates down to this score, unconfirmed: the plan
#: keeps those that persist for three frames (:class:`veil.plan.track.TrackSettings`).
VIDEO_KEEP_WEAK = 0.06


def error_text(exc: BaseException) -> str:
    """The one line a :class:`FileResult` carries (the path is in ``source``)."""
    if isinstance(exc, MediaError):
        return exc.reason
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def check_video_output(src: Path, dst: Path, *, overwrite: bool) -> None:
    """Refuse an output that is the input, or that exists without ``overwrite``."""
    try:
        same = src.exists() and dst.exists() and os.path.samefile(src, dst)
    except OSError:
        same = False
    if same or src.resolve() == dst.resolve():
        raise VeilError("the output would overwrite the input; choose another output path")
    if dst.exists() and (not overwrite or not dst.is_file()):
        raise VeilError(f"output {dst} exists (use --overwrite to replace outputs)")


def default_plan_path(dst: Path) -> Path:
    """Where the plan sidecar goes by default: ``<output>.veil.json``."""
    return Path(str(dst) + ".veil.json")


def _tool_name() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"veil {version('veil')}"
    except PackageNotFoundError:  # pragma: no cover
        return "veil"


def video_scan_settings(width: int, height: int, scan: ScanSettings | None = None
                        ) -> ScanSettings:
    """The scan settings for the frames of a ``width`` x ``height`` video.

    The photo defaults run four passes up to 1280 px; at video rates that is several
    times too slow. A video frame gets a base pass with its long side at most
    :data:`VIDEO_BASE_SIDE` and one zoom pass at :data:`VIDEO_ZOOM` x that (no
    mirror), and weak candidates are reported for the tracker to confirm
    (:data:`VIDEO_KEEP_WEAK`). ``scan``'s threshold and support settings are kept; a
    one-pass ``scan`` (:meth:`ScanSettings.fast`) stays one pass (at the video base size).
    """
    scan = scan or ScanSettings()
    one_pass = len(scan.zooms) == 1 and not scan.mirror
    long_side = max(width, height, 1)
    base = min(1.0, VIDEO_BASE_SIDE / long_side)
    pixels = round(width * base * VIDEO_ZOOM) * round(height * base * VIDEO_ZOOM)
    return ScanSettings.from_dict({
        **scan.to_dict(), "zooms": (1.0,) if one_pass else (1.0, VIDEO_ZOOM),
        "mirror": False, "base_side": VIDEO_BASE_SIDE, "target_pixels": max(pixels, 1),
        "max_upscale": VIDEO_ZOOM,
        "keep_weak": min(VIDEO_KEEP_WEAK, scan.threshold)})


class VideoScanner:
    """Scans the frames of a video: every frame with the base pass, and one frame in
    ``zoom_every`` with all passes of ``settings`` (the tracker bridges between them).

    ``zoom_every=1`` scans every frame fully. ``scan(rgb, index)`` is the only call.
    """

    def __init__(self, settings: ScanSettings, zoom_every: int = VIDEO_ZOOM_EVERY,
                 detector: Detector | None = None) -> None:
        self.settings = settings
        self.full = Scanner(settings, detector=detector)
        self.zoom_every = max(1, int(zoom_every))
        self.light = self.full
        if self.zoom_every > 1 and (len(settings.zooms) > 1 or settings.mirror):
            light = ScanSettings.from_dict({**settings.to_dict(), "zooms": (1.0,),
                                            "mirror": False})
            self.light = Scanner(light, detector=self.full.detector)

    def scan(self, rgb: np.ndarray, index: int) -> Detections:
        """Faces of frame ``index``."""
        use = self.full if index % self.zoom_every == 0 else self.light
        return use.scan(rgb)


def _with_pixels(frames: Iterator[DecodedFrame]) -> Iterator[tuple[DecodedFrame, np.ndarray]]:
    for item in frames:
        yield item, (item.rgb() if not item.corrupt else np.zeros((1, 1, 3), np.uint8))


def scan_video(src: Path, scanner: Scanner | VideoScanner, *, progress: Progress | None = None,
               progress_total: int | None = None
               ) -> tuple[list[Detections], list[int], list[int]]:
    """Pass 1: detections of every frame, the frames that begin a new shot, bad frames.

    Frames are decoded (and converted to RGB) in a background thread while the
    current one is scanned; none is kept. A frame the decoder flags as corrupt, or
    that the scanner fails on, is listed as bad (masked whole later). Raises
    :class:`MediaError` on a truncated or unreadable file.
    """
    detections: list[Detections] = []
    bad: list[int] = []
    cuts = SceneCutDetector()
    empty = Detections.empty()
    with VideoReader(src) as reader, contextlib.closing(
            prefetch(_with_pixels(reader.frames()))) as items:
        for item, rgb in items:
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
    then used (a photo scanner's passes would be several times too slow for video).
    With ``adapt_scan=False`` a given ``scanner`` is used as it is.

    Returns a :class:`FileResult`; on failure ``error`` is one line and no file is
    left under ``dst``.
    """
    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    result = FileResult(source=src, kind="video")
    try:
        check_video_output(src, dst, overwrite=overwrite)
        info = probe_video(src)
        frame_scanner: Scanner | VideoScanner
        if adapt_scan:
            scan = video_scan_settings(info.width, info.height, scan)
            frame_scanner = VideoScanner(scan, zoom_every,
                                         detector=scanner.detector if scanner else None)
        else:
            frame_scanner = scanner or Scanner(scan)
        total = 2 * info.frame_count if info.frame_count else None
        sha = file_sha256(src)
        detections, cuts, bad = scan_video(src, frame_scanner, progress=progress,
                                           progress_total=total)
        n = len(detections)
        media = MediaInfo(name=src.name, sha256=sha, kind="video", width=info.width,
                          height=info.height, frame_count=n, fps=info.fps)
        plan = build_video_plan(detections, media, scan=scan, mask=mask, scene_cuts=cuts,
                                bad_frames=bad, track=track, tool=_tool_name())
        del detections
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
        check_video_output(src, dst, overwrite=overwrite)
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
