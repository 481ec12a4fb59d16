"""How the frames of a video are searched: the video scan policy.

A photo's four passes up to 1280 px are several times too slow at video rates; a video
frame gets a base pass at :data:`VIDEO_BASE_SIDE` and a zoom pass on one frame in
:data:`VIDEO_ZOOM_EVERY` (:class:`VideoScanner`), with weak candidates reported for the
tracker to confirm (:func:`video_scan_settings`, recorded in the plan). On a frame
larger than the base the zoom pass is of the frame's own pixels (at least
:data:`VIDEO_NATIVE_ZOOM` times them, in tiles of :data:`VIDEO_TILE_SIDE`), so a small
face is seen at least as large as it is, whatever the video's resolution.
"""

from __future__ import annotations

import dataclasses
from collections import deque

import numpy as np

from veil.detections import Detections, long_sides
from veil.scan.base import Detector
from veil.scan.registry import video_detector_name
from veil.scan.scanner import Scanner, plan_chips, run_pass, run_pass_on_chips
from veil.settings import ScanSettings

__all__ = ["VIDEO_BASE_SIDE", "VIDEO_KEEP_WEAK", "VIDEO_NATIVE_ZOOM", "VIDEO_TILE_OVERLAP",
           "VIDEO_TILE_SIDE", "VIDEO_ZOOM", "VIDEO_ZOOM_EVERY", "VIDEO_ZOOM_WHOLE", "VideoScanner",
           "video_scan_settings"]

#: Long side of the base pass for video frames: CenterFace costs about 26 ms at
#: 640x360 and 128 ms at 1280x720 on two cores, and a video has thousands of frames.
VIDEO_BASE_SIDE = 640
#: The zoom pass of a video frame: x1.5 of the base pass (960x540 for 16:9).
VIDEO_ZOOM = 1.5
#: The zoom pass runs on one frame in this many; the tracker bridges the others.
#: (``python -m veil.bench.video_sweep``: 1.5x on every second frame leaked less than
#: 2x on every third, at less cost.)
VIDEO_ZOOM_EVERY = 2
#: Video frames also report candidates down to this score, unconfirmed: the plan
#: keeps those that persist for three frames and are small (at most
#: ``TrackSettings.faint_max_size`` of the long side; :class:`veil.plan.track.TrackSettings`).
VIDEO_KEEP_WEAK = 0.06
#: On a frame larger than the base, the zoom pass is at least this many times the
#: frame's own pixels (``ScanSettings.native_scale`` of the ``video`` search): shrunk
#: to the 640 px base and zoomed x1.5, a 1280x720 frame's 10 px faces reach the
#: detector at 7.5 px and a 1920x1080 frame's at 5 px. ``python -m
#: benchmarks.video_sweep --size 1280x720`` (BENCHMARKS.md, "Size-aware video search"):
#: x1 every 2nd frame took generator A's 720p track leak from 17.0% to 8.5% of faces
#: (1080p: 20.6% to 12.7%); x1.5 found no more and cost 1.7x as much; every 3rd frame
#: lost most of the gain.
VIDEO_NATIVE_ZOOM = 1.0
#: Tile side and overlap of that pass (pixels at its scale): 1280x720 and 1920x1080
#: frames are searched whole (tile borders cost detector input); larger ones in
#: overlapping tiles, so memory stays bounded.
VIDEO_TILE_SIDE = 2048
VIDEO_TILE_OVERLAP = 128
#: ``ScanSettings.video_zoom_whole`` of video jobs: the zoom pass sees the whole frame
#: on one frame in this many, and chips only on the zoom frames between (0: whole on
#: every zoom frame). 8 since the end of session 9, with the chip rules below: the chips
#: cover about 1% of ``source_s18.mp4``'s frames (48% with session 8's rules), and the
#: generator A and B clips at 720p leak within one face of 0 with 4 and with 8 (A 6 against
#: 5 of 94, B 21 against 21 of 92); 8 ran about 1.14x as fast as 4 on that clip with a
#: faint area of 0.63% on the real clips (4: 0.58%); BENCHMARKS.md, "Cheaper chips for the
#: strided zoom (session 9)" and "Session 9".
VIDEO_ZOOM_WHOLE = 8
#: Chips of a zoom frame are also laid around the faces of this many frames before.
VIDEO_CHIP_RECENT = 2
#: A candidate (the base pass's, or a face of the frames before) opens a chip of a strided
#: zoom frame only when its long side is at most this many pixels of the base pass (48
#: frame pixels at 720p): a larger box is seen clearly at the base scale, and at a faint
#: score it is almost never a face (the faint-track rule's idea, ``TrackSettings.
#: faint_max_size``). ``None``: every weak candidate and recent face opens one (session 8).
VIDEO_CHIP_SEED_SIDE: float | None = 24.0
#: The faces of the frames before that open chips score at least this much (``None``: the
#: support threshold, as in session 8). The faint-track rule keeps candidates from
#: :data:`VIDEO_KEEP_WEAK` (0.06) that persist, so a small face seen only at 0.06-0.075 on
#: a whole frame needs a chip on the next zoom frames to persist; with the size rule above
#: such seeds are few and small.
VIDEO_CHIP_RECENT_SCORE: float | None = VIDEO_KEEP_WEAK
#: Chips of a strided zoom frame start on a grid of this many frame pixels. CenterFace
#: pads its input to a multiple of 32 at the right and bottom, so a chip starting on the
#: 32 px grid gives the detector the same pixels, on the same grid, as the whole frame
#: does (the zoom is of the frame's own pixels): a face inside it scores as on a whole
#: frame. On the 16 px grid of photos' chips, half the chips were shifted by 16 px against
#: the network's stride, and faint faces (0.06-0.1) scored differently in them.
VIDEO_CHIP_CELL = 32


def video_scan_settings(width: int, height: int, scan: ScanSettings | None = None
                        ) -> ScanSettings:
    """The scan settings for the frames of a ``width`` x ``height`` video.

    The photo defaults run four passes up to 1280 px; at video rates that is several
    times too slow. A video frame gets a base pass with its long side at most
    :data:`VIDEO_BASE_SIDE` and one zoom pass at :data:`VIDEO_ZOOM` x that (no
    mirror), and weak candidates are reported for the tracker to confirm
    (:data:`VIDEO_KEEP_WEAK`). On a larger frame the zoom pass is at least
    :data:`VIDEO_NATIVE_ZOOM` times the frame's own pixels (the ``video`` search,
    :func:`veil.scan.scanner.plan_video_passes`). ``scan``'s threshold and support
    settings are kept; a one-pass ``scan`` (:meth:`ScanSettings.fast`) stays one pass
    (at the video base size). A ``scan`` whose detector is ``centerface`` gets the graph
    its ``video_detector`` names (:func:`veil.scan.registry.video_detector_name`; fp32 by
    default), recorded as the settings' ``detector``.
    """
    scan = scan or ScanSettings()
    one_pass = len(scan.zooms) == 1 and not scan.mirror
    detector = scan.detector
    if detector == "centerface":  # the graph for video frames (int8 by default)
        detector = video_detector_name(scan.video_detector, scan.device)
    long_side = max(width, height, 1)
    base = min(1.0, VIDEO_BASE_SIDE / long_side)
    pixels = round(width * base * VIDEO_ZOOM) * round(height * base * VIDEO_ZOOM)
    return dataclasses.replace(
        scan, search="video", zooms=(1.0,) if one_pass else (1.0, VIDEO_ZOOM), mirror=False,
        detector=detector,
        base_side=VIDEO_BASE_SIDE, target_pixels=max(pixels, 1),
        max_upscale=max(VIDEO_ZOOM, VIDEO_NATIVE_ZOOM), native_scale=VIDEO_NATIVE_ZOOM,
        tile_side=VIDEO_TILE_SIDE, tile_overlap=VIDEO_TILE_OVERLAP,
        keep_weak=min(VIDEO_KEEP_WEAK, scan.threshold), video_zoom_whole=VIDEO_ZOOM_WHOLE)


class VideoScanner:
    """Scans the frames of a video: every frame with the base pass, and one frame in
    ``zoom_every`` with the zoom passes of ``settings`` too (the tracker bridges between
    them).

    ``zoom_every=1`` zooms on every frame. With ``settings.video_zoom_whole`` (N) above 1
    and a frame larger than the base pass, the zoom passes see the whole frame only on
    one frame in N (``index % N == 0``); on the other zoom frames they run on chips only
    (:func:`veil.scan.scanner.plan_chips`): around the base pass's small or weak
    candidates and around the faces reported on the :data:`VIDEO_CHIP_RECENT` frames
    before (scoring :data:`VIDEO_CHIP_RECENT_SCORE` or more), so a face the base pass cannot
    see is found again at the latest on the next whole frame. Only boxes of at most
    :data:`VIDEO_CHIP_SEED_SIDE` base-pass pixels open chips, and chips start on a grid of
    :data:`VIDEO_CHIP_CELL` frame pixels.
    ``scan(rgb, index)`` is the only call; frames are scanned in order.
    """

    def __init__(self, settings: ScanSettings, zoom_every: int = VIDEO_ZOOM_EVERY,
                 detector: Detector | None = None) -> None:
        self.settings = settings
        self.full = Scanner(settings, detector=detector)
        self.zoom_every = max(1, int(zoom_every))
        self.whole_every = max(0, int(settings.video_zoom_whole))
        self.light = self.full
        if (self.zoom_every > 1 or self.whole_every > 1) and (
                len(settings.zooms) > 1 or settings.mirror):
            light = dataclasses.replace(settings, zooms=(1.0,), mirror=False)
            self.light = Scanner(light, detector=self.full.detector)
        self._recent: deque[tuple[int, Detections]] = deque(maxlen=VIDEO_CHIP_RECENT)
        #: The chips' share of the frame, summed over the chip frames scanned, and their
        #: count (for benchmarks; two numbers, whatever the video's length).
        self.chip_area_total = 0.0
        self.chip_frames = 0
        #: The chips of the last chip frame scanned.
        self.chips: list[tuple[int, int, int, int]] = []

    def passes_for(self, width: int, height: int, index: int) -> str:
        """How frame ``index`` is searched: ``whole`` (all passes on the whole frame),
        ``chips`` (the base pass whole, the zooms on chips) or ``base`` (the base pass
        only)."""
        if self.light is self.full:
            return "whole"
        # Chips only where the zoom is of the frame's own pixels (a frame larger than the
        # base); a smaller frame's zoom pass is cheap and stays whole.
        if self.whole_every > 1 and max(width, height) > self.settings.base_side:
            if index % self.whole_every == 0:
                return "whole"
            return "chips" if index % self.zoom_every == 0 else "base"
        return "whole" if index % self.zoom_every == 0 else "base"

    def scan(self, rgb: np.ndarray, index: int) -> Detections:
        """Faces of frame ``index``."""
        h, w = rgb.shape[:2]
        how = self.passes_for(w, h, index)
        if how == "chips":
            found = self._scan_chips(rgb, index)
        else:
            found = (self.full if how == "whole" else self.light).scan(rgb)
        if self.whole_every > 1:
            # Weak faces too: a face the tracker still bridges, or a faint one it keeps.
            least = VIDEO_CHIP_RECENT_SCORE
            self._recent.append((index, found.with_min_score(
                self.settings.support_threshold if least is None else least)))
        return found

    def _scan_chips(self, rgb: np.ndarray, index: int) -> Detections:
        h, w = rgb.shape[:2]
        passes = self.full.passes(w, h)
        detector = self.full.detector
        parts = [run_pass(detector, rgb, passes[0])]
        recent = Detections.concatenate([d for i, d in self._recent
                                         if index - i <= VIDEO_CHIP_RECENT])
        limit = VIDEO_CHIP_SEED_SIDE
        if limit is not None:  # base-pass pixels, to the frame's
            side = limit / max(passes[0].scale, 1e-6)
            parts_seed = [_small(parts[0], side)]
            recent = _small(recent, side)
        else:
            parts_seed = parts
        chips = plan_chips(parts_seed, w, h, self.settings, recent, cell=VIDEO_CHIP_CELL)
        self.chips = chips
        self.chip_area_total += sum((c[2] - c[0]) * (c[3] - c[1]) for c in chips) / (w * h)
        self.chip_frames += 1
        parts += [run_pass_on_chips(detector, rgb, p, chips) for p in passes[1:]]
        extra = None
        if self.full.confirm_detector is not None:
            extra = self.full.confirmed_weak(rgb, parts)
        return self.full.combine(parts, w, h, extra)


def _small(dets: Detections, side: float) -> Detections:
    """The boxes of ``dets`` whose long side is at most ``side`` pixels."""
    if not len(dets):
        return dets
    return dets[long_sides(dets.boxes) <= side]
