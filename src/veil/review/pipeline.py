"""Scan a file that has no plan yet, and render a reviewed plan, through veil's own jobs.

:func:`render_plan` is a call of the one pipeline (:func:`veil.jobs.pipeline.run`), so the
page's output is byte for byte what ``veil render`` writes. :func:`scan_image_plan` and
:func:`scan_video_plan` make the plan alone (the page edits it before anything is
rendered), with the same scanner, settings and plan builders as the default command.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

from veil.jobs.image import shared_scanner, tool_name
from veil.jobs.pipeline import JobOptions, Outcome, Task, run
from veil.jobs.result import Progress
from veil.media.kinds import MediaKind
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
    """The plan of a video, as the default command makes it (its pass 1 and the tracker,
    :func:`veil.jobs.video.plan_video`)."""
    from veil.jobs.video import plan_video

    plan, _, _ = plan_video(src, scan=scan, mask=mask, scanner=scanner or shared_scanner(scan),
                            progress=progress)
    return plan


def render_plan(plan: Plan, original: Path, dst: Path, options: JobOptions, *,
                progress: Progress | None = None) -> Outcome:
    """Render ``plan`` onto ``original`` into ``dst`` through the one pipeline, exactly as
    ``veil render`` does (:func:`veil.jobs.pipeline.run` with a task that carries the plan).

    The output is verified and self-repaired when ``options.verify`` and published under
    ``dst`` (or marked ``.verification-failed``). ``plan`` itself is not changed: a
    self-repair works on a copy, as ``veil render`` leaves the plan file alone. An
    existing ``dst`` is replaced. The :class:`Outcome` holds the result and its report
    entry.
    """
    kind: MediaKind = "video" if plan.media.kind == "video" else "image"
    task = Task(original, dst, kind, plan=copy.deepcopy(plan))
    return run(task, replace(options, overwrite=True), progress)
