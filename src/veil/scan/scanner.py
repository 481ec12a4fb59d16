"""Scan a frame at the scales its size calls for, and merge what each pass finds.

Small faces are the ones detectors miss: a face of 10-20 px is still a person. The
scanner enlarges small images, tiles large ones, and merges the overlapping
detections of all passes into one :class:`Detections`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from veil.detections import Detections, box_iou, long_sides
from veil.scan.base import Detector
from veil.settings import ScanSettings

#: Boxes of the whole-picture pass of a tiled search smaller than this (frame pixels) are
#: dropped (its ``ScanPass.min_side``): the tiled passes see such faces at their own
#: pixels or more, and hold them whole (up to about ``tile_overlap``); the whole picture
#: brought to 1280 px adds false alarms there (3 MP mosaics of the dev images:
#: collateral 1.38 with them, 1.14 without, 11 and 12 of 700 faces leaked). 0 keeps all.
COARSE_MIN_SIDE = 60.0


@dataclass(frozen=True)
class ScanPass:
    """One run of the detector on the frame scaled by ``scale`` (mirrored if ``mirror``).

    With ``tile`` above 0 the scaled frame is searched in tiles of at most ``tile``
    pixels a side overlapping by ``overlap``; each tile is cut from the original and
    scaled on its own, so a pass never holds more than one scaled tile in memory.
    ``min_side``: the pass keeps only boxes whose long side is at least this many frame
    pixels (a pass meant for large faces).
    """

    scale: float
    mirror: bool = False
    tile: int = 0
    overlap: int = 0
    min_side: float = 0.0


def plan_passes(width: int, height: int, settings: ScanSettings) -> list[ScanPass]:
    """The detector passes for a frame of this size, as ``settings.search`` says."""
    if settings.search == "tiled":
        return plan_tiled_passes(width, height, settings)
    if settings.search in ("native", "adaptive"):
        return plan_native_passes(width, height, settings)
    if settings.search == "video":
        return plan_video_passes(width, height, settings)
    return plan_pyramid_passes(width, height, settings)


def plan_native_passes(width: int, height: int, settings: ScanSettings) -> list[ScanPass]:
    """The pyramid's passes, never below the picture's own pixels.

    A picture no larger than ``base_side`` gets exactly :func:`plan_pyramid_passes`. A
    larger one is not shrunk to ``base_side`` for its zooms (a 12 MP phone photo shrunk
    to 1280 px shows its 10-30 px faces to the detector at 3-10 px): each zoom is of the
    picture's own pixels (at most ``max_upscale``), cut into overlapping tiles of
    ``tile_side`` so that memory stays bounded, and the largest is repeated mirrored.
    One more pass sees the whole picture at ``base_side``, for faces too large for a
    tile; it keeps boxes from :data:`COARSE_MIN_SIDE` only. Cost grows with the
    picture's area; coarsest first.
    """
    long_side = max(width, height, 1)
    if long_side <= settings.base_side:
        return plan_pyramid_passes(width, height, settings)
    coarse = ScanPass(scale=settings.base_side / long_side, min_side=COARSE_MIN_SIDE)
    return _tiled_zooms(coarse, [min(z, settings.max_upscale) for z in sorted(settings.zooms)],
                        settings)


def _tiled_zooms(first: ScanPass, scales: list[float], settings: ScanSettings
                 ) -> list[ScanPass]:
    """``first``, then a pass tiled as ``settings`` says at each of ``scales`` (ascending)
    that is at least 1.15x the pass before it, and the largest repeated mirrored when
    ``settings.mirror``."""
    passes = [first]
    for scale in scales:
        if scale < passes[-1].scale * 1.15:
            continue
        passes.append(ScanPass(scale=scale, tile=settings.tile_side,
                               overlap=settings.tile_overlap))
    if settings.mirror and len(passes) > 1:
        last = passes[-1]
        passes.append(ScanPass(scale=last.scale, mirror=True, tile=last.tile,
                               overlap=last.overlap))
    return passes


def plan_tiled_passes(width: int, height: int, settings: ScanSettings) -> list[ScanPass]:
    """Size-aware search: every picture at ``native_scale`` times its own pixels, whatever
    its size, then at half the scale each time until the whole picture fits in
    ``base_side`` at no more than its own pixels (the last pass is exactly that, whole).
    A pass larger than a tile is tiled.

    The smallest faces are seen at the same size in a 1 MP and a 48 MP picture; the
    total detector input is about 4/3 of the finest pass, so cost grows with the area.
    Listed finest first.
    """
    long_side = max(width, height, 1)
    # The coarsest pass shows the whole picture at no more than its own pixels (at most
    # base_side): large faces are found best at a modest size.
    coarsest = min(1.0, settings.native_scale, settings.base_side / long_side)
    passes: list[ScanPass] = []
    scale = settings.native_scale
    while True:
        # The coarsest pass (at most base_side) sees the whole picture: the largest faces.
        tiled = long_side * scale > settings.tile_side and scale > coarsest * 1.0001
        passes.append(ScanPass(scale=scale, tile=settings.tile_side if tiled else 0,
                               overlap=settings.tile_overlap if tiled else 0))
        if scale <= coarsest * 1.0001:
            break
        scale = max(scale / 2, coarsest)
        if scale < coarsest * 1.15:  # a last step smaller than 15% adds nothing
            scale = coarsest
    return passes


def plan_pyramid_passes(width: int, height: int, settings: ScanSettings) -> list[ScanPass]:
    """Decide the detector passes for a frame of this size.

    The base pass sees the whole frame with its long side at most ``base_side``.
    Each zoom enlarges that, bounded by ``max_upscale`` and ``target_pixels``; a zoom
    that the bounds bring down to (about) the previous pass's scale is skipped. The
    largest pass is repeated on the mirrored frame when ``mirror`` is set.
    """
    long_side = max(width, height, 1)
    pixels = max(width * height, 1)
    base = min(1.0, settings.base_side / long_side)
    cap = min(settings.max_upscale, math.sqrt(settings.target_pixels / pixels))
    passes: list[ScanPass] = []
    for zoom in sorted(settings.zooms):
        scale = base * zoom if zoom <= 1 else min(base * zoom, max(cap, base))
        if passes and scale < passes[-1].scale * 1.15:
            continue
        passes.append(ScanPass(scale=scale))
    if settings.mirror:
        passes.append(ScanPass(scale=passes[-1].scale, mirror=True))
    return passes


def plan_video_passes(width: int, height: int, settings: ScanSettings) -> list[ScanPass]:
    """The pyramid's passes, with zooms that never fall below the frame's own pixels.

    A frame no larger than ``base_side`` gets exactly :func:`plan_pyramid_passes`. On a
    larger one the base pass still sees the whole frame at ``base_side`` (every video
    frame pays for it), but a zoom pass is not a zoom of that shrunk frame (a 1280x720
    frame brought to 640 px shows its 10 px faces at 5 px, and x1.5 of it at 7.5 px): the
    smallest zoom above 1 is at least ``native_scale`` times the frame's own pixels (at
    most ``max_upscale``; larger zooms in proportion), cut into overlapping tiles of
    ``tile_side`` when the pass is larger than a tile. A zoom that the pyramid already
    puts higher keeps the pyramid's scale. Coarsest first.
    """
    passes = plan_pyramid_passes(width, height, settings)
    long_side = max(width, height, 1)
    if long_side <= settings.base_side:
        return passes
    zooms = sorted(z for z in settings.zooms if z > 1)
    if not zooms:
        return passes
    base = settings.base_side / long_side
    scales = [max(min(settings.max_upscale, settings.native_scale * zoom / zooms[0]),
                  min(base * zoom, settings.max_upscale)) for zoom in zooms]
    return _tiled_zooms(ScanPass(scale=base), scales, settings)


def tile_size(length: int, tile: int, overlap: int, step: int = 32) -> int:
    """The side of the tiles that cover ``length`` with as many tiles as ``tile`` needs
    (overlapping by at least ``overlap``), but no larger than that takes (rounded up to
    ``step``, the detector's input multiple, and at most ``tile``): evenly spread tiles of
    the full size can overlap by a quarter of their side, input the detector pays for."""
    if length <= tile:
        return length
    n = math.ceil((length - overlap) / (tile - overlap))
    need = math.ceil((length + (n - 1) * overlap) / n)
    return min(tile, -(-need // step) * step)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``length`` with at least
    ``overlap`` pixels shared by neighbours, spread evenly, the last flush with the end."""
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


#: A box coming this close (pass pixels) to a tile's inner edge is left to the neighbour
#: tile, which holds it whole when it is small enough.
_EDGE = 4


def _run_tiled(detector: Detector, frame: np.ndarray, p: ScanPass) -> Detections:
    h, w = frame.shape[:2]
    sw, sh = max(1, round(w * p.scale)), max(1, round(h * p.scale))
    interp = cv2.INTER_AREA if p.scale < 1 else cv2.INTER_LINEAR
    small = p.overlap - 2 * _EDGE  # boxes up to this size (pass pixels) are whole elsewhere
    parts: list[Detections] = []
    tx_side, ty_side = tile_size(sw, p.tile, p.overlap), tile_size(sh, p.tile, p.overlap)
    xs, ys = tile_starts(sw, tx_side, p.overlap), tile_starts(sh, ty_side, p.overlap)
    for ty in ys:
        for tx in xs:
            tw, th = min(tx_side, sw - tx), min(ty_side, sh - ty)
            # The tile's window in the original, scaled on its own.
            x1, y1 = int(math.floor(tx / p.scale)), int(math.floor(ty / p.scale))
            x2 = min(w, int(math.ceil((tx + tw) / p.scale)))
            y2 = min(h, int(math.ceil((ty + th) / p.scale)))
            crop = frame[y1:y2, x1:x2]
            cw, ch = max(1, round((x2 - x1) * p.scale)), max(1, round((y2 - y1) * p.scale))
            scaled = crop if (cw, ch) == (x2 - x1, y2 - y1) else cv2.resize(
                crop, (cw, ch), interpolation=interp)
            if p.mirror:
                scaled = np.ascontiguousarray(scaled[:, ::-1])
            dets = detector.detect(np.ascontiguousarray(scaled))
            if p.mirror:
                dets = _unmirror(dets, cw)
            if len(dets):
                b = dets.boxes
                near = np.zeros(len(dets), dtype=bool)
                if tx > 0:
                    near |= b[:, 0] < _EDGE
                if tx + tw < sw:
                    near |= b[:, 2] > cw - _EDGE
                if ty > 0:
                    near |= b[:, 1] < _EDGE
                if ty + th < sh:
                    near |= b[:, 3] > ch - _EDGE
                size = long_sides(b)
                dets = dets[~(near & (size <= small))]
            parts.append(dets.transformed((x2 - x1) / cw, (y2 - y1) / ch, x1, y1))
    return Detections.concatenate(parts)


def run_pass(detector: Detector, frame: np.ndarray, p: ScanPass) -> Detections:
    """What the detector finds in one pass, in frame coordinates."""
    dets = _detect_pass(detector, frame, p)
    if p.min_side > 0 and len(dets):
        dets = dets[long_sides(dets.boxes) >= p.min_side]
    return dets


def _detect_pass(detector: Detector, frame: np.ndarray, p: ScanPass) -> Detections:
    h, w = frame.shape[:2]
    if p.tile and max(w, h) * p.scale > p.tile:
        return _run_tiled(detector, frame, p)
    if abs(p.scale - 1.0) < 1e-3:
        scaled = frame
    else:
        interp = cv2.INTER_AREA if p.scale < 1 else cv2.INTER_LINEAR
        scaled = cv2.resize(frame, (max(1, round(w * p.scale)), max(1, round(h * p.scale))),
                            interpolation=interp)
    if p.mirror:
        scaled = np.ascontiguousarray(scaled[:, ::-1])
    sh, sw = scaled.shape[:2]
    dets = detector.detect(scaled)
    if p.mirror:
        dets = _unmirror(dets, sw)
    return dets.transformed(w / sw, h / sh)


def _unmirror(dets: Detections, width: int) -> Detections:
    boxes = dets.boxes.copy()
    boxes[:, 0] = width - dets.boxes[:, 2]
    boxes[:, 2] = width - dets.boxes[:, 0]
    lm = None
    if dets.landmarks is not None:
        lm = dets.landmarks.copy()
        lm[:, :, 0] = width - lm[:, :, 0]
        lm = lm[:, [1, 0, 2, 4, 3], :]  # left and right swap in a mirror image
    return Detections(boxes, dets.scores, lm)


#: A chip of the adaptive search, in frame pixels: (x1, y1, x2, y2), end exclusive.
Chip = tuple[int, int, int, int]

#: Chips are laid on a grid of cells this many frame pixels wide (merging is done there).
_CHIP_CELL = 16

#: A chip is at least this many frame pixels a side (fewer where the picture is smaller):
#: in a smaller crop a face fills much of the detector's view and the zoomed passes find
#: parts of it that support each other as weak faces (a 24 px face in an 80 px chip: two
#: extra boxes; at 160 px, none).
CHIP_MIN_SIDE = 160


def split_adaptive(passes: list[ScanPass], whole_up_to: float = 1.0
                   ) -> tuple[list[ScanPass], list[ScanPass]]:
    """The passes of a plan that the adaptive search runs on the whole picture (at most
    ``whole_up_to`` times its own pixels, not mirrored) and those it runs on chips only
    (the larger zooms, mirrored). A plan with no pass at the picture's own pixels or less
    runs whole."""
    if not any(p.scale <= 1.0001 and not p.mirror for p in passes):
        return passes, []
    whole = [p for p in passes if p.scale <= whole_up_to * 1.0001 and not p.mirror]
    if not whole:
        return passes, []
    return whole, [p for p in passes if p not in whole]


def chip_seeds(parts: list[Detections], settings: ScanSettings) -> Detections:
    """The candidates of the whole-picture passes that call for a zoom: small ones
    (long side at most ``chip_face``) scoring ``chip_score`` or more, and weak ones
    (support threshold to threshold) of any size, which need a second pass to count."""
    found = Detections.concatenate(parts)
    if not len(found):
        return found
    b = found.boxes
    side = long_sides(b)
    small = (side <= settings.chip_face) & (found.scores >= settings.chip_score)
    weak = (found.scores >= settings.support_threshold) & (found.scores < settings.threshold)
    return found[small | weak]


def plan_chips(parts: list[Detections], width: int, height: int,
               settings: ScanSettings, extra: Detections | None = None,
               cell: int = _CHIP_CELL) -> list[Chip]:
    """Where the adaptive search zooms: each seed (:func:`chip_seeds`, and every box of
    ``extra``, such as the faces of the frames just before a video frame) grown by
    ``chip_margin`` (or half its size, if more) on each side, snapped to a grid of
    ``cell`` px cells (16), and to :data:`CHIP_MIN_SIDE` a side at least; touching or overlapping
    chips merged into their bounding rectangle until none overlap. When the chips cover
    ``chip_full`` of the picture or more, the one chip is the whole picture. Sorted, so
    the search is deterministic."""
    seeds = chip_seeds(parts, settings)
    if extra is not None and len(extra):
        seeds = Detections.concatenate([seeds, Detections(extra.boxes, extra.scores)])
    if not len(seeds) or width <= 0 or height <= 0:
        return []
    gw, gh = -(-width // cell), -(-height // cell)
    least = -(-CHIP_MIN_SIDE // cell)
    rects: list[list[int]] = []
    for x1, y1, x2, y2 in seeds.boxes.astype(np.float64):
        m = max(settings.chip_margin, max(x2 - x1, y2 - y1) / 2)
        r = [max(0, int((x1 - m) // cell)), max(0, int((y1 - m) // cell)),
             min(gw, int(-(-(x2 + m) // cell))), min(gh, int(-(-(y2 + m) // cell)))]
        for lo, hi, n in ((0, 2, gw), (1, 3, gh)):  # grow to the least side, inside
            grow = least - (r[hi] - r[lo])
            if grow > 0:
                r[lo] = max(0, r[lo] - grow // 2)
                r[hi] = min(n, r[lo] + least)
                r[lo] = max(0, r[hi] - least)
        rects.append(r)
    rects = [r for r in rects if r[2] > r[0] and r[3] > r[1]]
    merged = True
    while merged:
        merged = False
        rects.sort()
        out: list[list[int]] = []
        for r in rects:
            for o in out:
                if r[0] <= o[2] and o[0] <= r[2] and r[1] <= o[3] and o[1] <= r[3]:
                    o[:] = [min(o[0], r[0]), min(o[1], r[1]), max(o[2], r[2]), max(o[3], r[3])]
                    merged = True
                    break
            else:
                out.append(r)
        rects = out
    chips = sorted((r[0] * cell, r[1] * cell, min(width, r[2] * cell), min(height, r[3] * cell))
                   for r in rects)
    area = sum((c[2] - c[0]) * (c[3] - c[1]) for c in chips)
    if area >= settings.chip_full * width * height:
        return [(0, 0, width, height)]
    return chips


def run_pass_on_chips(detector: Detector, frame: np.ndarray, p: ScanPass,
                      chips: list[Chip]) -> Detections:
    """One pass run on each chip of the frame on its own (tiled as ``p`` says when a chip
    is large), in frame coordinates; a chip that is the whole frame is :func:`run_pass`."""
    h, w = frame.shape[:2]
    parts: list[Detections] = []
    for x1, y1, x2, y2 in chips:
        if (x1, y1, x2, y2) == (0, 0, w, h):
            parts.append(run_pass(detector, frame, p))
            continue
        crop = np.ascontiguousarray(frame[y1:y2, x1:x2])
        parts.append(run_pass(detector, crop, p).transformed(1.0, 1.0, x1, y1))
    return Detections.concatenate(parts)


def confirmed(parts: list[Detections], threshold: float, support_threshold: float,
              support_passes: int, iou: float = 0.3) -> Detections:
    """Keep confident candidates, and weak ones that other passes found too."""
    weak_parts = [p.with_min_score(support_threshold) for p in parts]
    kept: list[Detections] = []
    for i, p in enumerate(weak_parts):
        if not len(p):
            continue
        support = np.zeros(len(p), dtype=np.int32)
        for j, q in enumerate(weak_parts):
            if i != j and len(q):
                support += box_iou(p.boxes, q.boxes).max(axis=1) >= iou
        kept.append(p[(p.scores >= threshold) | (support >= support_passes)])
    return Detections.concatenate(kept)


def merge_detections(dets: Detections, iou: float = 0.6) -> Detections:
    """Greedy non-maximum suppression: of boxes overlapping by ``iou`` or more, keep the
    best-scoring one. Boxes that overlap less all stay, so the mask covers their union."""
    if len(dets) <= 1:
        return dets
    order = np.argsort(-dets.scores)
    dets = dets[order]
    ious = box_iou(dets.boxes, dets.boxes)
    keep: list[int] = []
    suppressed = np.zeros(len(dets), dtype=bool)
    for i in range(len(dets)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= ious[i] >= iou
    return dets[np.asarray(keep)]


#: Confirmation crops: the crop is this many times the candidate's size, scaled so that
#: the candidate is about ``_CONFIRM_FACE`` pixels (never shrunk, at most 4x enlarged).
_CONFIRM_CONTEXT = 3.0
_CONFIRM_FACE = 48.0
_CONFIRM_IOU = 0.3


def confirm_on_crops(detector: Detector, frame: np.ndarray, candidates: Detections,
                     threshold: float) -> np.ndarray:
    """For each candidate, whether ``detector`` finds a face scoring ``threshold`` or more
    overlapping it (IoU >= 0.3) in a small zoomed crop around it."""
    found = faces_on_crops(detector, frame, candidates, threshold)
    return np.asarray([f is not None for f in found], dtype=bool)


def faces_on_crops(detector: Detector, frame: np.ndarray, candidates: Detections,
                   threshold: float) -> list[np.ndarray | None]:
    """For each candidate, the face ``detector`` finds overlapping it best (IoU >= 0.3,
    scoring ``threshold`` or more) in a small zoomed crop around it, as an xyxy box in
    ``frame``'s pixels; ``None`` where it finds none."""
    h, w = frame.shape[:2]
    out: list[np.ndarray | None] = [None] * len(candidates)
    for i, (x1, y1, x2, y2) in enumerate(candidates.boxes.astype(np.float64)):
        size = max(x2 - x1, y2 - y1, 1.0)
        cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, size * _CONFIRM_CONTEXT / 2
        a, b = max(0, int(cx - half)), max(0, int(cy - half))
        c, d = min(w, int(math.ceil(cx + half))), min(h, int(math.ceil(cy + half)))
        if c - a < 2 or d - b < 2:
            continue
        zoom = min(4.0, max(1.0, _CONFIRM_FACE / size))
        crop = frame[b:d, a:c]
        if zoom > 1:
            crop = cv2.resize(crop, (round((c - a) * zoom), round((d - b) * zoom)),
                              interpolation=cv2.INTER_LINEAR)
        found = detector.detect(np.ascontiguousarray(crop)).with_min_score(threshold)
        if not len(found):
            continue
        ch, cw = crop.shape[:2]
        found = found.transformed((c - a) / cw, (d - b) / ch, a, b)
        iou = box_iou(candidates.boxes[i:i + 1], found.boxes)[0]
        if iou.max() >= _CONFIRM_IOU:
            out[i] = found.boxes[int(iou.argmax())]
    return out


class Scanner:
    """Applies the scan settings around a detector: passes, confirmation, merge.

    The detector (and the confirming one, if any) comes from the process's registry
    (:func:`veil.scan.registry.get_detector`) unless one is given.
    """

    def __init__(self, settings: ScanSettings | None = None,
                 detector: Detector | None = None,
                 confirm_detector: Detector | None = None) -> None:
        from veil.scan.registry import get_detector

        self.settings = settings or ScanSettings()
        if detector is None:
            detector = get_detector(self.settings.detector, floor=self.settings.detector_floor,
                                    device=self.settings.device)
        elif getattr(detector, "floor", 0.0) > self.settings.detector_floor:
            # A detector shared with other scanners only ever reports more candidates
            # this way; each scanner keeps what its own settings ask for.
            detector.floor = self.settings.detector_floor
        self.detector = detector
        if confirm_detector is None and self.settings.confirm_detector:
            confirm_detector = get_detector(self.settings.confirm_detector,
                                            floor=self.settings.confirm_threshold)
        self.confirm_detector = confirm_detector

    def passes(self, width: int, height: int) -> list[ScanPass]:
        """The detector passes for a frame of this size."""
        return plan_passes(width, height, self.settings)

    def scan(self, frame: np.ndarray) -> Detections:
        """All faces in an upright RGB frame."""
        h, w = frame.shape[:2]
        if self.settings.search == "adaptive":
            parts = self.adaptive_parts(frame)
        else:
            parts = [run_pass(self.detector, frame, p) for p in self.passes(w, h)]
        extra = None
        if self.confirm_detector is not None:
            extra = self.confirmed_weak(frame, parts)
        return self.combine(parts, w, h, extra)

    def adaptive_parts(self, frame: np.ndarray) -> list[Detections]:
        """What each pass of the adaptive search finds: the passes at the picture's own
        pixels or less on the whole picture, the zooms on :func:`plan_chips` only."""
        h, w = frame.shape[:2]
        whole, zoomed = split_adaptive(self.passes(w, h), self.settings.chip_whole)
        parts = [run_pass(self.detector, frame, p) for p in whole]
        chips = plan_chips(parts, w, h, self.settings) if zoomed else []
        return parts + [run_pass_on_chips(self.detector, frame, p, chips) for p in zoomed]

    def confirmed_weak(self, frame: np.ndarray, parts: list[Detections]) -> Detections:
        """The weak candidates (support threshold to threshold) that the confirming
        detector finds too, on crops around them; overlapping ones merged first."""
        s = self.settings
        weak = Detections.concatenate([p.with_min_score(s.support_threshold) for p in parts])
        weak = merge_detections(weak[weak.scores < s.threshold], iou=0.5)
        if not len(weak) or self.confirm_detector is None:
            return Detections()
        return weak[confirm_on_crops(self.confirm_detector, frame, weak, s.confirm_threshold)]

    def combine(self, parts: list[Detections], width: int, height: int,
                extra: Detections | None = None) -> Detections:
        """The faces of a ``width`` x ``height`` frame from what each pass found (frame
        coordinates): confident or confirmed candidates, weak ones too with
        ``keep_weak``, and ``extra`` (faces confirmed otherwise), overlaps merged."""
        s = self.settings
        found = confirmed(parts, s.threshold, s.support_threshold, s.support_passes)
        if extra is not None and len(extra):
            found = Detections.concatenate([found, extra])
        if s.keep_weak > 0:  # reported unconfirmed; the video plan confirms them over time
            found = Detections.concatenate([found] + [p.with_min_score(s.keep_weak)
                                                      for p in parts])
        return merge_detections(found).clipped(width, height)

    __call__ = scan
