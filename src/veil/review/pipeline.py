"""Scan a file that has no plan yet, and render a reviewed plan, through veil's own jobs.

Refactor note (issue 11): :func:`render_plan` repeats the short stage → render →
verify → publish sequence of ``veil render`` (``veil.cli.render``), and :func:`scan_video_plan`
the scan half of ``veil.jobs.video.anonymize_video``. Both should become calls of the one
pipeline (``veil.render_plan(plan, original, dst, ...)``) once it exists.
"""

from __future__ import annotations

import copy
from pathlib import Path

from veil.jobs.batch import JobOptions, staged_path, verify_staged
from veil.jobs.image import check_output_path, render_image_plan, shared_scanner, tool_name
from veil.jobs.result import FileResult, Progress
from veil.plan.record import Plan
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings


def scan_image_plan(src: Path, *, scan: ScanSettings, mask: MaskSettings,
                    scanner: Scanner | None = None) -> Plan:
    """The plan of a photo, as the default command makes it (upright picture, frame 0)."""
    from veil.media.fingerprint import file_sha256
    from veil.media.images import read_image
    from veil.plan.still import image_media_info, plan_still

    pixels = read_image(src).pixels
    h, w = pixels.shape[:2]
    media = image_media_info(src, w, h, file_sha256(src))
    detections = (scanner or shared_scanner(scan)).scan(pixels)
    return plan_still(detections, media, scan=scan, mask=mask, tool=tool_name())


def scan_video_plan(src: Path, *, scan: ScanSettings, mask: MaskSettings,
                    scanner: Scanner | None = None, progress: Progress | None = None) -> Plan:
    """The plan of a video, as the default command makes it (pass 1 and the tracker)."""
    from veil.jobs.video import VideoScanner, scan_video, video_scan_settings
    from veil.media.fingerprint import file_sha256
    from veil.media.video import probe_video
    from veil.plan.record import MediaInfo
    from veil.plan.video import build_video_plan

    info = probe_video(src)
    settings = video_scan_settings(info.width, info.height, scan)
    detector = (scanner or shared_scanner(scan)).detector
    frames = VideoScanner(settings, detector=detector)
    detections, cuts, bad = scan_video(src, frames, progress=progress,
                                       progress_total=info.frame_count or None)
    media = MediaInfo(name=src.name, sha256=file_sha256(src), kind="video", width=info.width,
                      height=info.height, frame_count=len(detections), fps=info.fps)
    return build_video_plan(detections, media, scan=settings, mask=mask, scene_cuts=cuts,
                            bad_frames=bad, tool=tool_name())


def render_plan(plan: Plan, original: Path, dst: Path, options: JobOptions, *,
                progress: Progress | None = None) -> FileResult:
    """Render ``plan`` onto ``original`` into ``dst`` exactly as ``veil render`` does.

    The output is written under its staging name, verified and self-repaired (when
    ``options.verify``), and published under ``dst`` (or marked
    ``.verification-failed``). ``plan`` itself is not changed: a self-repair works on a
    copy, as ``veil render`` leaves the plan file alone. An existing ``dst`` is replaced.
    """
    work = copy.deepcopy(plan)
    check_output_path(original, dst, overwrite=True)
    target = staged_path(dst) if options.verify else dst
    if work.media.kind == "video":
        from veil.jobs.video import render_video_plan

        result = render_video_plan(original, work, target, audio=options.audio,
                                   crf=options.crf, progress=progress, overwrite=True)
    else:
        result = render_image_plan(original, work, target, keep_icc=options.keep_icc,
                                   quality=options.quality, overwrite=True)
    if options.verify:
        result.plan = work
        result = verify_staged(result, dst, options)
    return result
