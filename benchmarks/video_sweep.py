"""How the video scan and tracking defaults were chosen: a sweep on generated clips.

    python -m benchmarks.video_sweep                       # clips from dev images 0-11
    python -m benchmarks.video_sweep --first 12 --clips 12 # a check set
    python -m benchmarks.video_sweep --gen b               # videogen_b's camera motion
    python -m benchmarks.video_sweep --scales 1.0,1.5      # cache only what the default needs
    python -m benchmarks.video_sweep --size 1280x720 --clips 6   # size-aware zoom options
    python -m benchmarks.video_sweep --gen b --grid motion       # camera-motion tracking
    python -m benchmarks.video_sweep --size 1280x720 --clips 6 --detector yunet  # YuNet-n
    python -m benchmarks.video_sweep --size 1280x720 --clips 6 --detector yunet --grid filters

The detector runs once per frame of each clip at every scale a setting may use (1x,
1.5x, 2x of the 640x360 frame, candidates down to 0.05), and the candidates are cached
in ``--work``, with the detector's CPU seconds at each scale (resize included; process
CPU time, so the figures are comparable between scales of one run, not wall-clock
speed). With ``--size`` other than 640x360 the grid is the zoom-pass schedule of larger
frames (:func:`size_grid`: today's zoom of the 640 px base against zooms of the frame's
own pixels, every 2nd or 3rd frame, and a larger base pass), each with its detector
CPU seconds per frame. Every setting is then scored from them: the scanner's own rule combines
the passes of each frame (:meth:`veil.scan.scanner.Scanner.combine`), the video plan is
built as a job builds it (tracks, confirmation, gap filling, extension, widening), and
the plan's regions are scored as the mask a solid fill would draw, with METRICS.md's
per-face rules (frame leak, track leak, collateral). This is a simulation: encoding
and the black-box mask are left out, so ``python -m benchmarks.video_leak`` gives the
final figures of the chosen defaults.

The camera's motion (:class:`veil.plan.motion.CameraMotion`, as the job measures it) is
cached next to the candidates (``<work>/motion``, with its CPU seconds); a setting with
``camera=False`` builds its plan without it (the tracker of session 6 and before).

``--detector yunet`` also caches YuNet-n's candidates (apart, ``<folder>-yunet``) and
scores :func:`yunet_grid`: YuNet in place of CenterFace's zoom pass (the costly one) or
of both passes. YuNet's scores are on another scale than CenterFace's, so each such
setting names a YuNet threshold and weak floor (``VideoSetting.yunet``) that
:func:`map_yunet_scores` maps onto the job's own threshold and ``keep_weak``; the
support rule, the plan's confirmation and its faint-track rules then apply unchanged.
``--grid filters`` scores :func:`filter_grid`: filters on YuNet's candidates under its
threshold (:func:`yunet_weak_kept`: agreement with CenterFace's base pass, a size limit).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import videogen, videogen_b
from benchmarks.metrics import (
    Totals,
    TrackTally,
    collateral_pixels,
    counted_face_pixels,
    score_frame,
    xyxy,
)
from benchmarks.video_leak import clip_frames
from benchmarks.videogen import DEFAULT_DATA
from veil.detections import Detections, box_iou
from veil.jobs.video import VIDEO_BASE_SIDE, VIDEO_KEEP_WEAK, VIDEO_ZOOM, VIDEO_ZOOM_EVERY
from veil.plan.motion import CameraMotion
from veil.plan.record import MediaInfo, Plan
from veil.plan.track import SceneCutDetector, TrackSettings
from veil.plan.video import build_video_plan
from veil.render.masks import coverage_mask
from veil.scan.scanner import Scanner, ScanPass, run_pass
from veil.settings import MaskSettings, ScanSettings

SCALES = (1.0, 1.5, 2.0)
FLOOR = 0.05


@dataclass(frozen=True)
class VideoSetting:
    """One point of the sweep: the scan schedule, the tracker and the mask."""

    zoom: float | None = VIDEO_ZOOM       # scale of the zoom pass (None: base pass only)
    # (scales are of the clip frame; at 640x360 that is also the video base size)
    every: int = VIDEO_ZOOM_EVERY         # the zoom pass runs on one frame in this many
    base: float = 1.0                     # scale of the base pass, run on every frame
    keep_weak: float = VIDEO_KEEP_WEAK    # ScanSettings.keep_weak
    threshold: float = 0.25
    track: TrackSettings = field(default_factory=TrackSettings)
    mask: MaskSettings = field(default_factory=MaskSettings)
    camera: bool = True                   # give the plan the cached camera motion
    base_detector: str = "centerface"     # detector of the base pass: centerface / yunet
    zoom_detector: str = "centerface"     # detector of the zoom pass
    # YuNet's own threshold and weak floor, mapped onto ``threshold`` and ``keep_weak``
    yunet: tuple[float, float] = (0.5, 0.2)
    # Collateral filters for YuNet's candidates under its threshold (``yunet_weak_kept``):
    agree: float | None = None            # kept only where CenterFace's base pass (this
    # frame or the one before) has a candidate from ``agree_floor`` overlapping it at
    # this IoU, or (``agree_centre``) one box's centre inside the other; None: off
    agree_floor: float = FLOOR
    agree_centre: bool = True
    weak_max_size: float | None = None    # kept only up to this fraction of the long side


def _grid() -> dict[str, VideoSetting]:
    d = VideoSetting()
    old = TrackSettings(motion_widen=1.0, uncertain_grow=0.04, min_detections=1,
                        confirm_score=0.0)
    return {
        "default": d,
        "before (1.5x every 2nd, no weak)": VideoSetting(zoom=1.5, every=2, keep_weak=0.0,
                                                          track=old),
        "no weak candidates": replace(d, keep_weak=0.0),
        "weak from 0.075": replace(d, keep_weak=0.075),
        "weak from 0.05": replace(d, keep_weak=0.05),
        "weak tracks need 6 frames": replace(d, track=replace(d.track, min_detections=6)),
        "weak tracks need 10 frames": replace(d, track=replace(d.track, min_detections=10)),
        "zoom 2x every 3rd frame": replace(d, zoom=2.0, every=3),
        "zoom 2x every 2nd frame": replace(d, zoom=2.0, every=2),
        "zoom 1.5x every frame": replace(d, zoom=1.5, every=1),
        "motion widening 0.5": replace(d, track=replace(d.track, motion_widen=0.5)),
        "motion widening 1.0, growth 0.04": replace(
            d, track=replace(d.track, motion_widen=1.0, uncertain_grow=0.04)),
        "no extension": replace(d, track=replace(d.track, extend_before=0, extend_after=0)),
        "faint tracks of any size (before issue 12)": replace(
            d, track=replace(d.track, faint_max_size=None)),
        "faint tracks up to 0.05 of the long side": replace(
            d, track=replace(d.track, faint_max_size=0.05)),
        "faint tracks up to 0.1 of the long side": replace(
            d, track=replace(d.track, faint_max_size=0.1)),
        "faint tracks up to 0.15 of the long side": replace(
            d, track=replace(d.track, faint_max_size=0.15)),
    }


def _motion_grid() -> dict[str, VideoSetting]:
    """Camera-motion tracking (session 7): the tracker before it, and its settings."""
    d = VideoSetting()
    t = d.track
    return {
        "before: no camera motion (session 6 tracker)": replace(d, camera=False),
        "camera motion (default)": d,
        "camera motion, no coasting": replace(d, track=replace(t, coast_max=0)),
        "camera motion, coast up to 8": replace(d, track=replace(t, coast_max=8)),
        "camera motion, coast up to 25": replace(d, track=replace(t, coast_max=25)),
        "camera motion, fast from 0.01": replace(d, track=replace(t, coast_fast=0.01)),
        "camera motion, fast from 0.04": replace(d, track=replace(t, coast_fast=0.04)),
        "camera motion, no own velocity": replace(d, track=replace(t, own_velocity=0.0)),
        "camera motion, own velocity 0.5": replace(d, track=replace(t, own_velocity=0.5)),
        "camera motion, own velocity 0.25": replace(d, track=replace(t, own_velocity=0.25)),
        "camera motion, no own velocity, fast from 0.01": replace(
            d, track=replace(t, own_velocity=0.0, coast_fast=0.01)),
        "camera motion, no own velocity, camera widening 0.5": replace(
            d, track=replace(t, own_velocity=0.0, camera_widen=0.5)),
        "camera motion, camera widening 0.5": replace(d, track=replace(t, camera_widen=0.5)),
        "camera motion, camera widening 0": replace(d, track=replace(t, camera_widen=0.0)),
        "camera motion, motion widening 0.5": replace(d, track=replace(t, motion_widen=0.5)),
        "camera motion, extend 2 before / 4 after": replace(
            d, track=replace(t, extend_before=2, extend_after=4)),
        "camera motion, growth 0.01": replace(d, track=replace(t, uncertain_grow=0.01)),
        # weak detections joining face tracks (session 9)
        "weak: one association for all scores": replace(
            d, track=replace(t, weak_max_ratio=None)),
        "weak: large weak boxes linked last, ratio 2.0": replace(
            d, track=replace(t, weak_max_ratio=2.0)),
        "weak: large weak boxes linked last, ratio 1.3": replace(
            d, track=replace(t, weak_max_ratio=1.3)),
        "weak: large weak boxes linked last, ratio 1.2": replace(
            d, track=replace(t, weak_max_ratio=1.2)),
    }


def cache_motion(clips: list[Path], work: Path) -> dict[str, Any]:
    """The camera motion of every frame of each clip, as the video job measures it
    (cached under ``work / "motion"``), with its CPU seconds (``cpu``) and frames."""
    out: dict[str, Any] = {}
    for clip in clips:
        cached = work / "motion" / (clip.name + ".pkl")
        if cached.is_file():
            out[str(clip)] = pickle.loads(cached.read_bytes())
            continue
        est = CameraMotion()
        for t, rgb in enumerate(clip_frames(clip)):
            est.update(t, rgb)
        entry = {"motion": est.motion, "cpu": est.cpu_seconds, "frames": len(est.motion)}
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(pickle.dumps(entry))
        out[str(clip)] = entry
    return out


def _key(scale: float) -> float:
    return round(scale, 4)


def map_yunet_scores(scores: np.ndarray, yunet: tuple[float, float], threshold: float,
                     weak: float) -> np.ndarray:
    """YuNet scores on CenterFace's scale as the job's rules read it: piecewise linear
    and increasing, YuNet's threshold ``yunet[0]`` onto ``threshold``, its weak floor
    ``yunet[1]`` onto ``weak`` (the job's ``keep_weak``), 0 and 1 onto themselves. So a
    YuNet candidate is a face at its own threshold, reported weak from its own floor,
    and supports another pass in between (the support threshold falls between them)."""
    y_threshold, y_weak = yunet
    if not 0 < y_weak < y_threshold < 1 or not 0 < weak < threshold < 1:
        raise ValueError("need 0 < weak floor < threshold < 1 on both scales")
    return np.interp(scores, [0.0, y_weak, y_threshold, 1.0],
                     [0.0, weak, threshold, 1.0]).astype(np.float32)


def cache_candidates(clips: list[Path], work: Path,
                     scales: tuple[float, ...] = SCALES,
                     folder: str = "candidates",
                     model: Path | None = None,
                     detector_name: str = "centerface") -> dict[str, Any]:
    """Candidates of every frame at every scale in ``scales`` (cached on disk under
    ``work / folder``; a cached clip that lacks one of them is scanned again), and the
    detector's CPU seconds at each scale (``cpu``). ``model``: another CenterFace graph
    (such as ``benchmarks.int8 --save``'s) in place of veil's. ``detector_name``
    ``yunet``: YuNet-n's candidates (its own scores, down to the same floor)."""
    from veil.scan.centerface import CenterFace
    from veil.scan.yunet import YuNet

    out: dict[str, Any] = {}
    detector = None
    keys = [_key(s) for s in scales]
    for clip in clips:
        cached = work / folder / (clip.name + ".pkl")
        if cached.is_file():
            entry = pickle.loads(cached.read_bytes())
            if all(k in per for per in entry["frames"] for k in keys):
                out[str(clip)] = entry
                continue
        detector = detector or (YuNet(floor=FLOOR) if detector_name == "yunet"
                                else CenterFace(model, floor=FLOOR))
        cuts = SceneCutDetector()
        frames: list[dict[float, tuple[np.ndarray, np.ndarray]]] = []
        cpu = dict.fromkeys(keys, 0.0)
        shape = (0, 0)
        for t, rgb in enumerate(clip_frames(clip)):
            shape = rgb.shape[:2]
            per = {}
            for k in keys:
                t0 = time.process_time()
                d = run_pass(detector, rgb, ScanPass(scale=k))
                cpu[k] += time.process_time() - t0
                per[k] = (d.boxes.copy(), d.scores.copy())
            frames.append(per)
            cuts.update(t, rgb)
        entry = {"frames": frames, "cuts": list(cuts.cuts), "shape": shape, "cpu": cpu}
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(pickle.dumps(entry))
        out[str(clip)] = entry
    return out


class _Cached:
    """Stands in for the detector: the sweep feeds the scanner cached passes."""

    name = "cached"

    def detect(self, frame: np.ndarray) -> Detections:  # pragma: no cover - never called
        raise RuntimeError("the sweep combines cached candidates only")


def _scan_settings(v: VideoSetting) -> ScanSettings:
    return ScanSettings(threshold=v.threshold, keep_weak=v.keep_weak,
                        zooms=(1.0,) if v.zoom is None else (1.0, v.zoom), mirror=False)


def _source(entry: dict[str, Any], detector: str) -> dict[str, Any]:
    """The cached candidates of ``detector`` for one clip (YuNet's under ``yunet``)."""
    if detector == "centerface":
        return entry
    if detector not in entry:
        raise KeyError(f"no {detector} candidates cached (run with --detector {detector})")
    return entry[detector]


def _agrees(boxes: np.ndarray, others: np.ndarray, iou: float, centre: bool) -> np.ndarray:
    """Whether each of ``boxes`` overlaps one of ``others`` at ``iou`` or more or, with
    ``centre``, holds the centre of one of them or has its own centre inside one."""
    if not len(boxes) or not len(others):
        return np.zeros(len(boxes), dtype=bool)
    ok = box_iou(boxes, others).max(axis=1) >= iou
    if centre:
        def inside(pts: np.ndarray, bx: np.ndarray) -> np.ndarray:
            x, y = pts[:, None, 0], pts[:, None, 1]
            return ((bx[None, :, 0] <= x) & (x <= bx[None, :, 2])
                    & (bx[None, :, 1] <= y) & (y <= bx[None, :, 3]))

        def centres(bx: np.ndarray) -> np.ndarray:
            return np.stack([(bx[:, 0] + bx[:, 2]) / 2, (bx[:, 1] + bx[:, 3]) / 2], axis=1)

        ok |= inside(centres(boxes), others).any(axis=1)
        ok |= inside(centres(others), boxes).T.any(axis=1)
    return np.asarray(ok, dtype=bool)


def yunet_weak_kept(boxes: np.ndarray, scores: np.ndarray, v: VideoSetting,
                    long_side: int, base: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Which of YuNet's candidates (``boxes``, its own ``scores``) a setting keeps: all at
    or over its threshold ``v.yunet[0]``; under it, those that pass the setting's
    filters: no larger than ``v.weak_max_size`` of the frame's ``long_side``, and with
    ``v.agree``, overlapping a candidate of CenterFace's base pass (``base``: its boxes
    and scores in this frame and the one before) that scores ``v.agree_floor`` or more."""
    keep = np.ones(len(boxes), dtype=bool)
    if not len(boxes):
        return keep
    weak = scores < v.yunet[0]
    if v.weak_max_size is not None:
        side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        keep &= ~weak | (side <= v.weak_max_size * long_side)
    if v.agree is not None:
        others = [b[s >= v.agree_floor] for b, s in base if len(b)]
        near = (_agrees(boxes, np.concatenate(others), v.agree, v.agree_centre)
                if others else np.zeros(len(boxes), dtype=bool))
        keep &= ~weak | near
    return keep


def _pass(entry: dict[str, Any], t: int, scale: float, detector: str,
          v: VideoSetting) -> Detections:
    boxes, scores = _source(entry, detector)["frames"][t][_key(scale)]
    if detector == "yunet":
        if v.base_detector == "centerface" and (v.agree is not None
                                                or v.weak_max_size is not None):
            frames = entry["frames"]
            base = [frames[i][_key(v.base)] for i in (t - 1, t) if i >= 0]
            keep = yunet_weak_kept(boxes, scores, v, max(entry["shape"]), base)
            boxes, scores = boxes[keep], scores[keep]
        scores = map_yunet_scores(scores, v.yunet, v.threshold, v.keep_weak)
    return Detections(boxes, scores)


def _plans(cache: dict[str, Any], v: VideoSetting) -> Iterator[tuple[Plan, dict[str, Any]]]:
    """The plan a job would build from each clip's cached candidates, with the clip's
    ground truth (``frames``, ``width``, ``height``)."""
    scan = _scan_settings(v)
    scanner = Scanner(scan, detector=_Cached())
    for clip, entry in cache.items():
        gt = json.loads(Path(clip + ".gt.json").read_text())
        h, w = entry["shape"]
        dets = []
        for t in range(len(entry["frames"])):
            parts = [_pass(entry, t, v.base, v.base_detector, v)]
            if v.zoom is not None and t % v.every == 0:
                parts.append(_pass(entry, t, v.zoom, v.zoom_detector, v))
            dets.append(scanner.combine(parts, w, h))
        media = MediaInfo(name=Path(clip).name, sha256="", kind="video", width=w, height=h,
                          frame_count=len(dets))
        camera = entry.get("motion") if v.camera else None
        yield build_video_plan(dets, media, scan=scan, mask=v.mask, scene_cuts=entry["cuts"],
                               track=v.track, camera=camera), gt


def _gt_rows(gt: dict[str, Any], t: int) -> np.ndarray:
    return np.asarray(gt["frames"][t], dtype=np.float64).reshape(-1, 5)


def size_grid(width: int, height: int) -> dict[str, VideoSetting]:
    """Zoom-pass schedules for ``width`` x ``height`` frames, as frame scales: today's
    (the x1.5 zoom of the frame brought to the 640 px base), zooms of the frame's own
    pixels (x1, x1.5) every frame, 2nd or 3rd frame, the frame's own pixels as the only
    pass, and a base pass at 960 px."""
    base = min(1.0, VIDEO_BASE_SIDE / max(width, height))
    big = min(1.0, 1.5 * VIDEO_BASE_SIDE / max(width, height))
    d = VideoSetting(base=base, zoom=VIDEO_ZOOM * base)
    return {
        "today: x1.5 of the 640 px base, every 2nd": d,
        "base pass only": replace(d, zoom=None),
        "x1.5 of the base, every frame": replace(d, every=1),
        "native x1, every 2nd": replace(d, zoom=max(1.0, d.zoom or 0)),
        "native x1, every frame": replace(d, zoom=max(1.0, d.zoom or 0), every=1),
        "native x1 alone, every frame": replace(d, base=1.0, zoom=None),
        "native x1, every 3rd": replace(d, zoom=max(1.0, d.zoom or 0), every=3),
        "native x1.5, every 2nd": replace(d, zoom=max(1.5, d.zoom or 0)),
        "native x1.5, every 3rd": replace(d, zoom=max(1.5, d.zoom or 0), every=3),
        "base 960 px, x1.5 of it every 2nd": replace(d, base=big, zoom=VIDEO_ZOOM * big),
        "base 960 px, native x1 every 2nd": replace(d, base=big, zoom=max(1.0, big * 1.15)),
    }


def yunet_grid(width: int, height: int) -> dict[str, VideoSetting]:
    """YuNet-n for the frames of ``width`` x ``height`` clips: today's default; YuNet in
    place of CenterFace's zoom pass (same scale, every 2nd frame and every frame), over a
    grid of YuNet thresholds and weak floors; YuNet for both passes."""
    if (width, height) == (640, 360):
        d = VideoSetting()
    else:
        base = min(1.0, VIDEO_BASE_SIDE / max(width, height))
        d = VideoSetting(base=base, zoom=max(1.0, VIDEO_ZOOM * base))
    assert d.zoom is not None
    grid = {"today (CenterFace both passes)": d,
            "CenterFace base pass only": replace(d, zoom=None)}
    mixed = replace(d, zoom_detector="yunet")
    for t in (0.3, 0.4, 0.5, 0.6):
        for wk in (0.1, 0.2, 0.3):
            if wk < t:
                grid[f"CF base + YuNet zoom, every 2nd, yunet t{t} w{wk}"] = replace(
                    mixed, yunet=(t, wk))
    for t, wk in ((0.3, 0.1), (0.4, 0.2), (0.5, 0.2)):
        grid[f"CF base + YuNet zoom, every frame, yunet t{t} w{wk}"] = replace(
            mixed, yunet=(t, wk), every=1)
        grid[f"YuNet both passes, every 2nd, yunet t{t} w{wk}"] = replace(
            mixed, yunet=(t, wk), base_detector="yunet")
    return grid


def filter_grid(width: int, height: int) -> dict[str, VideoSetting]:
    """Collateral filters for the mixed schedule's faint YuNet candidates (YuNet t0.3,
    weak floor 0.1, zoom every frame and every 2nd): agreement with CenterFace's base
    pass (``VideoSetting.agree``, IoU 0.3 or a centre inside, CenterFace from a floor),
    a size limit (``weak_max_size``), and both; with today's default and the unfiltered
    mixed schedules in the same run."""
    grid = yunet_grid(width, height)
    out = {"today (CenterFace both passes)": grid["today (CenterFace both passes)"]}
    mixed = replace(grid["CF base + YuNet zoom, every 2nd, yunet t0.3 w0.1"], agree_centre=True)
    rows: list[tuple[int, tuple[float, float], float | None, float | None]] = [
        (1, (0.3, 0.1), None, None), (1, (0.3, 0.1), None, 0.04),
        (1, (0.3, 0.1), 0.1, None), (1, (0.3, 0.1), 0.1, 0.04),
        (1, (0.3, 0.1), None, 0.03), (1, (0.3, 0.1), None, 0.05),
        (1, (0.3, 0.1), FLOOR, None), (1, (0.3, 0.1), 0.2, None),
        (1, (0.3, 0.05), 0.1, 0.04),
        (2, (0.3, 0.1), None, None), (2, (0.3, 0.1), None, 0.04),
        (2, (0.3, 0.1), 0.1, None), (2, (0.3, 0.1), 0.1, 0.04),
        # YuNet's texture tracks are confirmed ones (a candidate from 0.3): a higher
        # threshold leaves them faint, for the size limit to take
        (1, (0.6, 0.1), None, None), (1, (0.6, 0.1), None, 0.04),
        (1, (0.5, 0.1), None, 0.04), (1, (0.6, 0.1), None, 0.03),
        (1, (0.6, 0.05), None, 0.04), (2, (0.6, 0.1), None, 0.04),
        (1, (0.6, 0.1), None, 0.05), (1, (0.6, 0.1), None, 0.06),
        (1, (0.6, 0.1), None, 0.08), (1, (0.7, 0.1), None, 0.04),
        (1, (0.7, 0.1), None, 0.08), (1, (0.8, 0.1), None, 0.04),
        (1, (0.8, 0.1), None, 0.08), (1, (0.9, 0.1), None, 0.04),
        (1, (0.9, 0.1), None, 0.08), (2, (0.8, 0.1), None, 0.04),
        (2, (0.8, 0.1), None, 0.08),
    ]
    for every, (t, wk), floor, size in rows:
        name = (f"CF base + YuNet zoom, {'every frame' if every == 1 else 'every 2nd'}, "
                f"yunet t{t} w{wk}")
        v = replace(mixed, every=every, yunet=(t, wk))
        if floor is not None:
            name += f", agree with CF from {floor}"
            v = replace(v, agree=0.3, agree_floor=floor)
        if size is not None:
            name += f", weak up to {size} of the long side"
            v = replace(v, weak_max_size=size)
        out[name] = v
    return out


def cpu_per_frame(cache: dict[str, Any], v: VideoSetting) -> float:
    """Detector CPU seconds per frame of setting ``v``, from the cached timings."""
    frames = sum(len(e["frames"]) for e in cache.values())

    def cpu(scale: float, detector: str) -> float:
        return sum(_source(e, detector).get("cpu", {}).get(_key(scale), float("nan"))
                   for e in cache.values()) / max(frames, 1)

    per = cpu(v.base, v.base_detector)
    if v.zoom is not None:
        per += cpu(v.zoom, v.zoom_detector) / v.every
    return per


def _scales_of(grid: dict[str, VideoSetting], detector: str) -> tuple[float, ...]:
    """The scales at which the settings of ``grid`` run ``detector``."""
    return tuple(sorted({_key(s) for v in grid.values()
                         for s, d in ((v.base, v.base_detector), (v.zoom, v.zoom_detector))
                         if s is not None and d == detector}))


def score_setting(cache: dict[str, Any], v: VideoSetting) -> tuple[Totals, int, int]:
    """Totals over all face-frames, and faces leaked in any frame / faces."""
    total = Totals()
    faces = leaked = 0
    for plan, gt in _plans(cache, v):
        hw = (plan.media.height, plan.media.width)
        tally = TrackTally()
        for t in range(plan.media.frame_count):
            mask = coverage_mask(hw, plan.frame(t).active_boxes(), v.mask)
            rows = _gt_rows(gt, t)
            fs = score_frame(mask, rows[:, :4], rows[:, 4] > 0)
            total.add(fs)
            tally.add(fs)
        faces += len(tally.counted)
        leaked += len(tally.leaked)
    return total, leaked, faces


def collateral_sources(cache: dict[str, Any], v: VideoSetting) -> dict[str, float]:
    """Collateral of setting ``v`` split by the kind of track that made each mask: on a
    face or not (most of its detections overlap a ground-truth box, IoU >= 0.2), and
    confirmed by a detection at the threshold or faint (kept because it persisted).
    Each kind's collateral is that of its own masks (overlaps count in both kinds)."""
    pixels: dict[str, int] = {}
    face_px = 0
    for plan, gt in _plans(cache, v):
        hw = (plan.media.height, plan.media.width)
        hits: dict[object, list[bool]] = {}
        strong: dict[object, bool] = {}
        for t, fp in plan.frames.items():
            g = xyxy(_gt_rows(gt, t)[:, :4])
            for r in fp.regions:
                if r.provenance != "detected":
                    continue
                on = bool(len(g)) and bool(box_iou(np.asarray([r.box], np.float32),
                                                   g).max() >= 0.2)
                hits.setdefault(r.track_id, []).append(on)
                strong[r.track_id] = strong.get(r.track_id, False) or r.score >= v.threshold
        kind = {k: ("face" if np.mean(h) >= 0.5 else "not a face") + ", "
                + ("confirmed" if strong[k] else "faint") for k, h in hits.items()}
        for t in range(plan.media.frame_count):
            rows = _gt_rows(gt, t)
            face_px += counted_face_pixels(rows[:, :4], rows[:, 4] <= 0, hw[1], hw[0])
            groups: dict[str, list[tuple[float, ...]]] = {}
            for r in plan.frame(t).active_regions():
                groups.setdefault(kind.get(r.track_id, "other"), []).append(r.box)
            for k, boxes in groups.items():
                m = coverage_mask(hw, np.asarray(boxes, np.float32), v.mask)
                pixels[k] = pixels.get(k, 0) + collateral_pixels(m, rows[:, :4])
    return {k: n / max(face_px, 1) for k, n in sorted(pixels.items())}


def _picked(name: str, only: str) -> bool:
    """Whether ``--only``'s texts (separated by ``|``) pick the setting ``name``."""
    return any(text and text in name for text in only.split("|"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.video_sweep",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--work", type=Path, default=Path("bench-work/video"))
    ap.add_argument("--first", type=int, default=0, help="index of the first WIDER image")
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gen", choices=("a", "b"), default="a",
                    help="clip generator: a (videogen) or b (videogen_b); b's clips and "
                         "candidates are kept apart under <work>/gen-b")
    ap.add_argument("--scales", default=None,
                    help="scales to scan the clips at (default: all the grid needs); "
                         "settings whose passes are at another scale are left out")
    ap.add_argument("--size", default="640x360",
                    help="frame size of the clips (as benchmarks.video_leak --size); "
                         "other than 640x360 the grid is the zoom schedules of size_grid")
    ap.add_argument("--centerface", type=Path, default=None, metavar="ONNX",
                    help="another CenterFace graph (e.g. benchmarks.int8 --save's), its "
                         "candidates cached apart")
    ap.add_argument("--detector", choices=("centerface", "yunet"), default="centerface",
                    help="yunet: also cache YuNet-n's candidates (apart) and score "
                         "yunet_grid, YuNet in place of CenterFace's zoom pass or both")
    ap.add_argument("--grid", choices=("default", "motion", "filters"), default="default",
                    help="motion: camera-motion tracking settings (640x360 only); "
                         "filters (with --detector yunet): filter_grid, collateral "
                         "filters for YuNet's faint candidates")
    ap.add_argument("--only", default=None,
                    help="score only the settings whose name contains this text (or one "
                         "of several texts separated by |)")
    ap.add_argument("--sources", action="store_true",
                    help="instead of the grid: the default's collateral by kind of track")
    a = ap.parse_args(argv)
    if not (a.data / "wider-val-dev" / "gt.txt").is_file():
        print(f"no WIDER dev set under {a.data}")
        return 2
    gen = videogen_b if a.gen == "b" else videogen
    w, h = videogen_b.parse_size(a.size)
    if (w, h) == (640, 360):
        work = a.work / "gen-b" if a.gen == "b" else a.work
        clips = gen.make_clips(a.data, work / "clips", count=a.clips, frames=a.frames,
                               seed=a.seed, first=a.first)
        grid, folder = (_motion_grid() if a.grid == "motion" else _grid()), "candidates"
        scales = SCALES
        if a.detector == "yunet":
            grid = filter_grid(w, h) if a.grid == "filters" else yunet_grid(w, h)
            scales = _scales_of(grid, "centerface")
    else:  # the clips of benchmarks.video_leak --size, in its folder layout
        work, tag = a.work, f"{a.gen}-{w}x{h}"
        clips = gen.make_clips(a.data, work / f"clips-{tag}", count=a.clips,
                               frames=a.frames, size=(w, h), seed=a.seed, first=a.first)
        grid = size_grid(w, h)
        if a.detector == "yunet":
            grid = filter_grid(w, h) if a.grid == "filters" else yunet_grid(w, h)
        folder = f"candidates-{tag}"
        scales = _scales_of(grid, "centerface")
    if a.scales:
        scales = tuple(_key(float(v)) for v in a.scales.split(","))
    if a.centerface is not None:
        import hashlib

        folder += "-" + hashlib.sha256(a.centerface.read_bytes()).hexdigest()[:12]
    cache = cache_candidates(clips, work, scales, folder, a.centerface)
    yscales: tuple[float, ...] = ()
    if a.detector == "yunet":
        yscales = _scales_of(grid, "yunet")
        ycache = cache_candidates(clips, work, yscales, f"{folder}-yunet",
                                  detector_name="yunet")
        for clip, entry in cache.items():
            entry["yunet"] = ycache[clip]
    motion = cache_motion(clips, work)
    for clip, entry in cache.items():
        entry["motion"] = motion[clip]["motion"]
    mcpu = sum(m["cpu"] for m in motion.values()) / max(sum(m["frames"] for m in
                                                            motion.values()), 1)
    print(f"Simulated on {len(clips)} clips of generator {a.gen.upper()} (WIDER dev images "
          f"from index {a.first}), {a.frames} frames each, {w}x{h}. Camera motion: "
          f"{mcpu * 1000:.1f} CPU-ms per frame.\n")
    if a.sources:
        # the default's, or with --only those of the grid's settings that match it
        picked = ({k: v for k, v in grid.items() if _picked(k, a.only)} if a.only
                  else {"default": VideoSetting()})
        parts = {name: collateral_sources(cache, v) for name, v in picked.items()}
        kinds = sorted({k for p in parts.values() for k in p})
        print("| masks of tracks | " + " | ".join(parts) + " |")
        print("|---|" + "---|" * len(parts))
        for kind in kinds:
            print(f"| {kind} | " + " | ".join(f"{p.get(kind, 0.0):.2f}"
                                             for p in parts.values()) + " |")
        return 0
    if a.only:
        grid = {k: v for k, v in grid.items() if _picked(k, a.only)}
    print("| setting | frame leak | track leak | collateral | detector CPU-s per frame |")
    print("|---|---|---|---|---|")
    have = {("centerface", _key(s)) for s in scales} | {("yunet", s) for s in yscales}
    for name, v in grid.items():
        if {(d, _key(s)) for s, d in ((v.base, v.base_detector), (v.zoom, v.zoom_detector))
                if s is not None} - have:
            continue
        total, leaked, faces = score_setting(cache, v)
        print(f"| {name} | {100 * total.leaked / max(total.counted, 1):.2f}% | "
              f"{leaked}/{faces} = {100 * leaked / max(faces, 1):.1f}% | "
              f"{total.collateral:.2f} | {cpu_per_frame(cache, v):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
