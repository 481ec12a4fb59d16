"""The video job: scan every frame, plan with tracks, render with sound, without metadata.

Pass 1 decodes every frame once (streaming; frames are not kept), scans it and
measures shot changes; the tracker then turns the per-frame detections into the
plan, which is saved as a JSON sidecar. Pass 2 decodes the original again and
renders it from the plan. Per-file problems come back as a :class:`FileResult`
whose ``error`` is one line; nothing is then left under the output name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from veil.detections import Detections
from veil.errors import MediaError, VeilError
from veil.jobs.result import FileResult, Progress
from veil.media.video import VIDEO_SUFFIXES, DecodedFrame, VideoReader, prefetch, probe_video
from veil.plan.record import MediaInfo, Plan
from veil.plan.track import SceneCutDetector, TrackSettings
from veil.plan.video import build_video_plan
from veil.render.video import render_video
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings

__all__ = ["VIDEO_SUFFIXES", "anonymize_video", "probe_video", "render_video_plan",
           "scan_video", "default_plan_path"]


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


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


def _with_pixels(frames: Iterator[DecodedFrame]) -> Iterator[tuple[DecodedFrame, np.ndarray]]:
    for item in frames:
        yield item, (item.rgb() if not item.corrupt else np.zeros((1, 1, 3), np.uint8))


def scan_video(src: Path, scanner: Scanner, *, progress: Progress | None = None,
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
                    d = scanner.scan(rgb)
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
                    preset: str = "veryfast") -> FileResult:
    """Mask every face in every frame of ``src`` and write a clean H.264 copy to ``dst``.

    Two passes: scan every frame → plan (tracks, gap filling, extension, motion
    widening, scene cuts; saved to ``plan_path`` or ``<dst>.veil.json``) → render.
    The output is upright, keeps resolution, frame count and timestamps, copies the
    audio packets (``audio=False`` drops them; codecs MP4 cannot hold are transcoded
    to AAC), and carries no metadata tags, data, subtitle or attachment streams.
    ``progress(done, total)`` counts frames of both passes (total = 2 x frames).

    Returns a :class:`FileResult`; on failure ``error`` is one line and no file is
    left under ``dst``.
    """
    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    result = FileResult(source=src, kind="video")
    try:
        check_video_output(src, dst, overwrite=overwrite)
        info = probe_video(src)
        scanner = scanner or Scanner(scan)
        total = 2 * info.frame_count if info.frame_count else None
        sha = file_sha256(src)
        detections, cuts, bad = scan_video(src, scanner, progress=progress,
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
        if plan.media.kind != "video":
            raise VeilError(f"the plan is for a {plan.media.kind}, not a video")
        check_video_output(src, dst, overwrite=overwrite)
        if file_sha256(src) != plan.media.sha256:
            raise VeilError(f"the plan was made for a different file ({plan.media.name})")
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
