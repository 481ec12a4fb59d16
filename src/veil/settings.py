"""Settings that travel with a plan: how faces are found and how they are masked.

They are plain dataclasses so that a plan can record exactly what made it, and a
re-render or a report can show it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

MaskMethod = Literal["solid", "pixelate", "blur"]
MaskShape = Literal["ellipse", "box"]

MASK_METHODS: tuple[str, ...] = ("solid", "pixelate", "blur")
MASK_SHAPES: tuple[str, ...] = ("ellipse", "box")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


FAST_THRESHOLD = 0.1

#: Which CenterFace graph searches video frames (see ``ScanSettings.video_detector``).
VIDEO_DETECTORS: tuple[str, ...] = ("auto", "int8", "fp32")

#: How a picture is searched (see :class:`ScanSettings`).
SEARCHES: tuple[str, ...] = ("native", "pyramid", "tiled", "adaptive", "video")


@dataclass(frozen=True)
class ScanSettings:
    """How the detector is run (defaults chosen on ../shared/data/wider-val-dev; see BENCHMARKS.md).

    threshold: a candidate at or above this confidence in any pass is a face.
    support_ratio: a weaker candidate, down to ``support_ratio * threshold``, is still a
        face when at least ``support_passes`` other passes found it too (IoU >= 0.3).
        Faint small faces recur across scales and mirror images; false alarms mostly
        do not.
    support_passes: how many other passes must confirm a weak candidate.
    zooms: detector passes, as factors of the base size (the whole frame with its long
        side at most ``base_side``); zooms above 1 make small faces visible.
    mirror: also run the largest zoom on the mirrored frame.
    base_side: long side, in pixels, of the base pass.
    target_pixels: a zoomed pass is shrunk to at most this many pixels (bounds time
        on large photos and video frames); a pass that shrinks to the previous
        one's size is skipped.
    max_upscale: the largest factor a frame is ever enlarged by.
    keep_weak: when above 0, candidates down to this score are reported too, unconfirmed
        (their scores set them apart). A video plan confirms them over time: a face
        persists from frame to frame, most false alarms flicker (see
        :class:`veil.plan.track.TrackSettings`). Photos leave it at 0.
    device: where the detector runs: ``auto`` (CUDA when onnxruntime offers it, else the
        CPU), ``cpu`` or ``cuda`` (an error where CUDA is not available). A plan does not
        record it (:meth:`plan_dict`): a plan records how faces are found, not on what
        hardware, so it can be rendered and verified on any machine.
    detector: the detector that finds the faces, by registry name
        (:data:`veil.scan.registry.DETECTORS`: ``centerface``, ``yunet``).
    search: ``adaptive`` (the default for pictures since session 6: the ``native``
        passes, the zoomed ones only where faces can be; see ``chip_score``),
        ``native`` (the passes above, but a picture larger
        than ``base_side`` is never shrunk for them: its zooms are of its own pixels, cut
        into overlapping tiles, plus one pass of the whole picture at ``base_side`` for
        the largest faces; a 10 px face is seen at the same size in a 0.2 MP and a
        48 MP picture, and cost grows with the area), ``pyramid`` (the passes above on
        the whole picture brought to ``base_side``, zooms bounded by ``target_pixels``:
        video frames, where the cost per frame must stay fixed) or ``tiled``
        (size-aware: the finest pass at ``native_scale`` times the
        picture's own pixels, cut into overlapping tiles so memory stays bounded, then
        passes at half the scale each down to the whole picture at ``base_side`` and at
        most its own pixels; cost grows with the picture's area). ``mirror``, ``zooms``,
        ``target_pixels`` apply to ``pyramid`` (and to ``native`` and ``adaptive`` on
        pictures no larger than ``base_side``, where the first two are the same) and
        ``max_upscale`` to all.
        ``video`` (video frames, :func:`veil.scan.video.video_scan_settings`): ``pyramid``
        on a frame up to ``base_side``; on a larger frame the base pass stays at
        ``base_side`` but the zoom pass is at least ``native_scale`` times the frame's own
        pixels, tiled (plans made before it record ``pyramid``).
    native_scale: ``tiled``: scale of the finest pass against the picture's pixels
        (2.0 shows a 10 px face to the detector as 20 px); ``video``: the least scale of
        the zoom pass against a large frame's own pixels.
    tile_side: ``tiled``: side of one detector tile, in the pass's pixels.
    tile_overlap: ``tiled``: overlap of neighbouring tiles, in the pass's pixels; a face
        up to about this size is whole in one tile, larger ones in a coarser pass.
    confirm_detector: when set (a registry name), a weak candidate (between the support
        threshold and the threshold) is also a face when this second detector, run on a
        small zoomed crop around it, finds a face there scoring ``confirm_threshold``.
    confirm_threshold: the second detector's score that confirms a weak candidate.
    chip_score, chip_face, chip_margin, chip_full: ``adaptive`` (the ``native`` passes,
        but the largest zooms only where faces can be): the passes up to ``chip_whole``
        times the picture's own pixels run whole; a candidate they find scoring
        ``chip_score`` or more whose long side is at most ``chip_face`` frame pixels (a
        face small enough to need the zoom), or any weak candidate (support threshold to
        threshold, which needs a second pass), opens a chip: its box grown by
        ``chip_margin`` pixels (or half its size) on each side. Overlapping chips are
        merged, and the larger zooms (2x and mirrored 2x by default) run on the chips
        only; when the chips cover ``chip_full`` of the picture or more, they run on the
        whole picture, as ``native`` does. A picture where the whole passes see nothing
        face-like gets no larger zoom.
    video_detector: the CenterFace graph of video jobs (photos always use the fp32 one,
        ``detector``): ``fp32`` (the default, ``centerface``), ``int8`` (the int8 graph
        shipped with veil: about half the detector's CPU per pass and 0.6x the CPU of a
        720p job, but on the hand-held clips of ``benchmarks.videogen_b`` it leaked 11
        faces of 104 against fp32's 6: BENCHMARKS.md, "int8 CenterFace for video
        (session 8)") or ``auto`` (int8 on an x86-64 CPU with AVX512-VNNI, fp32 on CUDA
        and elsewhere: :func:`veil.scan.registry.video_detector_name`). A video plan
        records the graph used as its ``detector`` (``centerface-int8`` or
        ``centerface``); only a ``detector`` of ``centerface`` is replaced.
    chip_whole: ``adaptive``: the passes up to this zoom run on the whole picture (and
        seed the chips); 1.0 runs only the pass at the picture's own pixels whole (cheaper,
        but a lone face of 20-24 px on a busy texture, which that pass barely sees, then
        gets no zoom: see BENCHMARKS.md, "Adaptive zoom for photos").
    video_zoom_whole: ``video``: the zoom pass (at the frame's own pixels on frames larger
        than ``base_side``) sees the whole frame on one frame in this many; on the other
        zoom frames it runs only on chips around the base pass's small candidates and the
        small faces of the frames just before (:class:`veil.scan.video.VideoScanner`; the
        size and score rules are its ``VIDEO_CHIP_*`` constants). Video jobs use 4
        (:data:`veil.scan.video.VIDEO_ZOOM_WHOLE`); 0, the default here and in plans made
        before session 9: the whole frame on every zoom frame.
    """

    threshold: float = 0.25
    support_ratio: float = 0.3
    support_passes: int = 1
    zooms: tuple[float, ...] = (1.0, 1.5, 2.0)
    mirror: bool = True
    base_side: int = 1280
    target_pixels: int = 2_500_000
    max_upscale: float = 2.0
    keep_weak: float = 0.0
    device: str = "auto"
    detector: str = "centerface"
    search: str = "adaptive"
    native_scale: float = 1.0
    tile_side: int = 1024
    tile_overlap: int = 128
    confirm_detector: str = ""
    confirm_threshold: float = 0.3
    chip_score: float = 0.04
    chip_face: float = 24.0
    chip_margin: float = 32.0
    chip_full: float = 1.0
    chip_whole: float = 1.5
    video_detector: str = "fp32"
    video_zoom_whole: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        if not 0 < self.support_ratio <= 1:
            raise ValueError("support_ratio must be in (0, 1]")
        if not self.zooms or any(z <= 0 for z in self.zooms):
            raise ValueError("zooms must be positive factors")
        if self.support_passes < 1:
            raise ValueError("support_passes must be at least 1")
        if not 0 <= self.keep_weak <= 1:
            raise ValueError("keep_weak must be in [0, 1]")
        if self.device not in DEVICES:
            raise ValueError(f"unknown device {self.device!r}; choose from {DEVICES}")
        if self.search not in SEARCHES:
            raise ValueError(f"unknown search {self.search!r}; choose from {SEARCHES}")
        if self.native_scale <= 0:
            raise ValueError("native_scale must be positive")
        if not 0 <= self.tile_overlap < self.tile_side // 2:
            raise ValueError("tile_overlap must be at least 0 and under half of tile_side")
        if not 0 < self.confirm_threshold <= 1:
            raise ValueError("confirm_threshold must be in (0, 1]")
        if not 0 < self.chip_score <= 1:
            raise ValueError("chip_score must be in (0, 1]")
        if self.chip_face < 0 or self.chip_margin < 0:
            raise ValueError("chip_face and chip_margin must be at least 0")
        if not 0 < self.chip_full <= 1:
            raise ValueError("chip_full must be in (0, 1]")
        if self.chip_whole < 1:
            raise ValueError("chip_whole must be at least 1")
        if self.video_zoom_whole < 0:
            raise ValueError("video_zoom_whole must be at least 0")
        if self.video_detector not in VIDEO_DETECTORS:
            raise ValueError(f"unknown video detector {self.video_detector!r}; choose from "
                             f"{VIDEO_DETECTORS}")

    @property
    def support_threshold(self) -> float:
        """The lowest score a candidate confirmed by other passes may have."""
        return self.threshold * self.support_ratio

    @property
    def detector_floor(self) -> float:
        """The lowest candidate score any rule of these settings looks at."""
        floor = self.support_threshold
        if self.search == "adaptive" and (max(self.zooms) > self.chip_whole or self.mirror):
            floor = min(floor, self.chip_score)  # the candidates that open chips
        if self.keep_weak > 0:
            return min(floor, self.keep_weak)
        return floor

    @classmethod
    def fast(cls, **changes: Any) -> ScanSettings:
        """One pass at the base size: for speed, at the cost of small faces.

        With no second pass to confirm weak candidates, the threshold is lower (0.1: on
        the dev set the best single-pass leak rate at a collateral under 1; see
        BENCHMARKS.md)."""
        return cls(**{"zooms": (1.0,), "mirror": False, "threshold": FAST_THRESHOLD, **changes})

    @property
    def passes_spec(self) -> str:
        """The passes as ``--passes`` writes them: ``1,1.5,2,m2``."""
        spec = [f"{z:g}" for z in self.zooms]
        if self.mirror:
            spec.append(f"m{max(self.zooms):g}")
        return ",".join(spec)

    def with_passes(self, spec: str) -> ScanSettings:
        """These settings with the passes of a ``--passes`` spec: zoom factors separated by
        commas, and optionally the largest once more prefixed with ``m`` (mirrored)."""
        parts = [p.strip().lower() for p in spec.split(",") if p.strip()]
        mirrored = [p[1:] for p in parts if p.startswith("m")]
        try:
            zooms = tuple(sorted({float(p) for p in parts if not p.startswith("m")}))
            mirror_at = [float(p) for p in mirrored]
        except ValueError:
            raise ValueError(f"passes {spec!r}: write zoom factors such as 1,1.5,2,m2") from None
        if not zooms or any(z <= 0 or z > 4 for z in zooms):
            raise ValueError(f"passes {spec!r}: at least one zoom, each above 0 and at most 4")
        if len(mirror_at) > 1 or (mirror_at and mirror_at[0] != max(zooms)):
            raise ValueError(f"passes {spec!r}: only the largest zoom can be mirrored "
                             f"(m{max(zooms):g})")
        return replace(self, zooms=zooms, mirror=bool(mirror_at),
                       max_upscale=max(self.max_upscale, max(zooms)))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["zooms"] = list(self.zooms)
        return d

    def plan_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without ``device``: what a plan records."""
        d = self.to_dict()
        del d["device"]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanSettings:
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        if "zooms" in kw:
            kw["zooms"] = tuple(float(z) for z in kw["zooms"])
        return cls(**kw)


@dataclass(frozen=True)
class MaskSettings:
    """How each region is made unrecognisable.

    method: ``solid`` (flat fill), ``pixelate`` (at most ``pixel_blocks`` blocks across
        the face) or ``blur`` (Gaussian, kernel ``blur_ratio`` x face width, plus noise).
    shape: ``ellipse`` or ``box``.
    margin: fraction of the detected box's width/height added on *each* side, so the
        mask reaches hairline and chin.
    pad_px: pixels added on each side on top of the margin: a detector's box is off by
        a pixel or two whatever the face size, which matters most for the smallest faces.
    """

    method: MaskMethod = "blur"
    shape: MaskShape = "box"
    margin: float = 0.12
    pad_px: float = 1.0
    pixel_blocks: int = 6
    blur_ratio: float = 0.6
    noise: float = 12.0
    color: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self) -> None:
        if self.method not in MASK_METHODS:
            raise ValueError(f"unknown mask method {self.method!r}; choose from {MASK_METHODS}")
        if self.shape not in MASK_SHAPES:
            raise ValueError(f"unknown mask shape {self.shape!r}; choose from {MASK_SHAPES}")
        if not 0 <= self.margin <= 2:
            raise ValueError("margin must be between 0 and 2")
        if self.pixel_blocks < 1:
            raise ValueError("pixel_blocks must be at least 1")
        if self.blur_ratio <= 0:
            raise ValueError("blur_ratio must be positive")

    def with_overrides(self, method: MaskMethod | None = None, shape: MaskShape | None = None,
                       margin: float | None = None) -> MaskSettings:
        """These settings with the given method, shape and margin (``None``: unchanged);
        ``self`` itself when nothing is given."""
        if method is None and shape is None and margin is None:
            return self
        return replace(self,
                       method=self.method if method is None else method,
                       shape=self.shape if shape is None else shape,
                       margin=self.margin if margin is None else margin)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["color"] = list(self.color)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MaskSettings:
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        if "color" in kw:
            kw["color"] = tuple(kw["color"])
        return cls(**kw)


@dataclass(frozen=True)
class TrackSettings:
    """How detections are linked and how far regions reach beyond them.

    max_gap: frames a track may go undetected and still be continued (the gap is filled).
    extend_before / extend_after: frames masked before a track's first and after its
        last detection (clipped at scene cuts and the ends of the video).
    min_iou: least IoU between a track's predicted box and a detection to link them.
    max_centre_dist: alternatively, centre distance as a fraction of the box size.
    motion_widen: each box grows by this many frames' worth of the track's motion on
        each side (fast motion smears a face beyond its detected box).
    max_widen: cap on that growth, as a fraction of the box size.
    uncertain_grow: interpolated and extended boxes grow on each side by this fraction
        of their size per frame of distance from the nearest detection (heads do not
        move in straight lines), up to ``uncertain_max``.
    min_detections / confirm_score: a track is masked when it has at least
        ``min_detections`` detections *or* one detection scoring ``confirm_score`` or
        more (``None``: the scan's threshold, filled in by the video plan). A face
        persists from frame to frame; most false alarms flicker. This is what lets a
        video scan report weak candidates (``ScanSettings.keep_weak``): a faint face
        seen in three frames is masked in all of them and in the frames between.
    faint_max_size: a track none of whose detections reaches ``confirm_score`` ("faint")
        is masked only while its boxes are small: their median long side at most this
        fraction of the frame's long side. Faint candidates exist for small, blurred
        faces; a large box at a faint score is a texture the detector half-likes (a
        plant, a curtain), since a face that large is seen clearly. ``None``: no limit
        (plans made before this setting existed are read so).
    weak_max_ratio: a detection under ``confirm_score`` whose long side exceeds
        ``faint_max_size`` of the frame's (a box larger than a faint track may be) is
        often a copy of a face's box over forehead and hair, or a texture. Each frame,
        the other detections are linked first, to tracks that hold one of them before
        tracks that hold only such boxes; such a box then continues only a track left
        over, and only within this size ratio of its predicted box (others: within 2).
        A copy beside a face thus cannot take the face's place in its track, while a
        close-up face whose score dips in motion blur still continues its own.
        ``None``: one association for all detections, within a ratio of 2 (plans made
        before this setting existed are read so).
    camera_motion: follow the camera's motion, when the scan measured it
        (:mod:`veil.plan.motion`): predictions, gap filling and extensions are carried
        through it. ``False``: the track's own constant velocity, as before.
    own_velocity: with the camera's motion, the prediction adds this fraction of the
        face's own velocity in the scene (what the camera does not explain).
    camera_widen: with the camera's motion, the share of the motion the camera explains
        that still widens a box (the smear of a fast pan); the face's own motion widens
        it in full, as ``motion_widen`` says.
    coast_fast / coast_max: a frame into which the camera moved more than ``coast_fast``
        of the frame's long side (or whose motion is unknown) is "fast": a detector loses
        faces in such frames (smear, defocus). Fast frames do not count against
        ``max_gap``, and a track's extension continues through them along the camera's
        motion, up to ``coast_max`` frames beyond ``extend_before`` / ``extend_after``,
        until its box leaves the picture.
    """

    max_gap: int = 10
    extend_before: int = 4
    extend_after: int = 8
    min_iou: float = 0.1
    max_centre_dist: float = 0.7
    motion_widen: float = 0.75
    max_widen: float = 1.0
    uncertain_grow: float = 0.02
    uncertain_max: float = 0.3
    min_detections: int = 3
    confirm_score: float | None = None
    faint_max_size: float | None = 0.125
    weak_max_ratio: float | None = 1.5
    camera_motion: bool = True
    own_velocity: float = 1.0
    camera_widen: float = 1.0
    coast_fast: float = 0.02
    coast_max: int = 15

    def to_dict(self) -> dict[str, float | int | bool | None]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackSettings:
        """Settings from :meth:`to_dict`'s form; an unknown key is a ``ValueError``."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown track setting {unknown[0]!r}")
        # A record without the faint size limit was made before it existed: no limit;
        # one without camera_motion was made without the camera's motion.
        # One without weak_max_ratio associated every score in one step.
        return cls(**{"faint_max_size": None, "camera_motion": False,
                      "weak_max_ratio": None, **data})
