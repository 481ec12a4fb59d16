"""The job for animated GIF and WebP pictures: masked frame by frame, as a video is.

Every frame is decoded whole (composed as it is displayed), scanned, and the detections
of all frames become one plan through the video tracker (:func:`veil.plan.video.
build_video_plan`: tracks, gap filling, extension, scene cuts), so a face the detector
misses in one frame is still masked there. Every frame is then rendered from the plan
and the animation written in its own format with the same frame count, durations and
loop count, and no metadata.

The plan is an image plan (``media.kind == "image"``) whose ``frame_count`` is the
number of frames; :func:`veil.jobs.image.render_image_plan` renders it again (a saved,
edited plan, or self-repair after verification).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from veil.detections import Detections
from veil.errors import VeilError, error_text
from veil.jobs.result import FileResult
from veil.media.fingerprint import file_sha256
from veil.plan.record import MediaInfo, Plan
from veil.plan.track import SceneCutDetector, TrackSettings
from veil.plan.video import build_video_plan
from veil.render.image import mask_planned
from veil.render.masks import mask_whole_frame
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings

__all__ = ["anonymize_animation", "render_animation", "render_animation_plan"]


def _output(src: Path, dst: Path, fmt: str, overwrite: bool) -> Path:
    from veil.jobs.image import check_output_path
    from veil.media.images import output_suffix

    suffix = output_suffix(dst, fmt)
    if suffix != dst.suffix:
        dst = dst.with_suffix(suffix)
        check_output_path(src, dst, overwrite=overwrite)
    return dst


def render_animation(frames: list[np.ndarray], plan: Plan,
                     rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Masked copies of ``frames`` following ``plan`` (one plan frame per frame)."""
    h, w = frames[0].shape[:2]
    if (w, h) != (plan.media.width, plan.media.height) or len(frames) != plan.media.frame_count:
        raise VeilError(f"plan is for {plan.media.frame_count} frames of "
                        f"{plan.media.width}x{plan.media.height}, this animation has "
                        f"{len(frames)} of {w}x{h}")
    out = []
    for i, px in enumerate(frames):
        fp = plan.frame(i)
        if fp.mask_whole:
            out.append(mask_whole_frame(px, plan.mask))
        else:
            out.append(mask_planned(px, plan, i, rng))
    return out


def _face_regions(plan: Plan) -> int:
    return sum(len(plan.frame(i).active_regions()) for i in range(plan.media.frame_count))


def anonymize_animation(src: Path, dst: Path, *, scanner: Scanner, scan: ScanSettings,
                        mask: MaskSettings, plan_path: Path | None = None,
                        quality: int = 95, overwrite: bool = False, tool: str = "",
                        rng: np.random.Generator | None = None,
                        track: TrackSettings | None = None) -> FileResult:
    """Mask every face in every frame of the animated GIF/WebP ``src``; write ``dst``.

    Returns a :class:`FileResult` (``kind="image"``, ``frames`` = frame count, ``faces``
    = regions masked over all frames); on failure ``error`` is one line and nothing is
    written.
    """
    from veil.jobs.image import check_output_path
    from veil.media.images import read_animation, write_animation

    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    result = FileResult(source=src, kind="image")
    try:
        check_output_path(src, dst, overwrite=overwrite)
        anim = read_animation(src)
        h, w = anim.frames[0].shape[:2]
        detections: list[Detections] = []
        bad: list[int] = []
        cuts = SceneCutDetector()
        for i, px in enumerate(anim.frames):
            try:
                d = scanner.scan(px)
                detections.append(Detections(d.boxes, d.scores) if len(d)
                                  else Detections.empty())
            except Exception:  # noqa: BLE001 - fail closed: the frame is masked whole
                bad.append(i)
                detections.append(Detections.empty())
            cuts.update(i, px)
        total_ms = sum(anim.durations)
        fps = len(anim.frames) * 1000.0 / total_ms if total_ms > 0 else None
        media = MediaInfo(name=src.name, sha256=file_sha256(src), kind="image", width=w,
                          height=h, frame_count=len(anim.frames), fps=fps)
        plan = build_video_plan(detections, media, scan=scan, mask=mask,
                                scene_cuts=cuts.cuts, bad_frames=bad, track=track,
                                tool=tool)
        rendered = render_animation(anim.frames, plan, rng)
        out = _output(src, dst, anim.format, overwrite)
        write_animation(out, anim, rendered, quality=quality)
        result.output = out
        result.plan = plan
        result.frames = len(anim.frames)
        result.faces = _face_regions(plan)
        result.extra["animated"] = anim.format
        if plan_path is not None:
            plan.save(plan_path)
            result.plan_path = Path(plan_path)
    except (VeilError, OSError, ValueError) as exc:
        result.error = error_text(exc)
    result.seconds = time.perf_counter() - t0
    return result


def render_animation_plan(src: Path, plan: Plan, dst: Path, *, quality: int = 95,
                          overwrite: bool = False,
                          rng: np.random.Generator | None = None) -> FileResult:
    """Render a saved plan onto every frame of the animation ``src`` (no scanning)."""
    from veil.jobs.image import check_output_path
    from veil.media.images import read_animation, write_animation

    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    result = FileResult(source=src, kind="image", plan=plan)
    try:
        check_output_path(src, dst, overwrite=overwrite)
        plan.require_source(src, "image")
        anim = read_animation(src)
        rendered = render_animation(anim.frames, plan, rng)
        out = _output(src, dst, anim.format, overwrite)
        write_animation(out, anim, rendered, quality=quality)
        result.output = out
        result.frames = len(anim.frames)
        result.faces = _face_regions(plan)
    except (VeilError, OSError, ValueError) as exc:
        result.error = error_text(exc)
    result.seconds = time.perf_counter() - t0
    return result
