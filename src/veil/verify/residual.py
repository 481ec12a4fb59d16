"""Residual faces: faces still visible in an output, found the way an adversary would.

The output is scanned again with CenterFace at the job's base size and a lower threshold,
with dlib's HOG frontal-face detector (large frontal faces), and with a second detector
*family* that does not share the job's blind spots: YuNet-n, searching the output at its
own pixels and coarser, and at twice its pixels around its own faint small candidates
(``YUNET_SEARCH``), so that a 10 px face reaches it at 20 px whatever the picture's size
without a 12 MP photo being searched as 48 MP. A face found there
counts as *residual* unless at least ``MASKED_SHARE`` (0.8, METRICS.md's coverage for a
face that is not leaked) of its box lies inside a masked region. Boxes under 8 px on the
shorter side are ignored (METRICS.md does not count faces
under 10 px; the detector's boxes are tighter than ground truth).

False alarms are kept rare by two rules, tuned on veil's own outputs of the WIDER dev set
(``python -m benchmarks.planted_miss``):

- a candidate of one family under its "alone" score (``CF_ALONE_SCORE``,
  ``HOG_ALONE_SCORE``, ``YUNET_ALONE_SCORE``) counts only when another family finds a face
  at the same place (weak lone candidates outside the masks were clothing, badges, flags,
  hands); YuNet candidates under ``YUNET_WEAK_SCORE`` are not looked at;
- masking creates face-like blobs (a flat patch above a dark collar can look like a head),
  so a candidate that *touches* a masked region without lying mostly inside it is
  confirmed on the original: the same detector must find a face at the same place in the
  original picture, otherwise it is an artefact of the mask.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from veil.detections import Detections, box_iou
from veil.scan import Scanner
from veil.scan.scanner import (
    Chip,
    faces_on_crops,
    plan_chips,
    plan_tiled_passes,
    run_pass,
    run_pass_on_chips,
)
from veil.settings import ScanSettings

# A face at least this much inside a masked region is masked (METRICS.md: a face is
# leaked below 0.8 coverage).
MASKED_SHARE = 0.8
CONFIRM_IOU = 0.3         # a touching candidate is real when the original shows a face here
HOG_MIN_SCORE = 0.2       # dlib HOG detection score floor (its own scale, 0 = default)
THRESHOLD_FACTOR = 0.9    # CenterFace threshold when verifying: 0.9 x the one that made it
# METRICS.md counts faces from 10 px on the shorter side of the ground-truth box;
# CenterFace's boxes are about 15% tighter than WIDER's, so candidates count from 8 px.
MIN_RESIDUAL_SIDE = 8.0
# A CenterFace candidate that dlib HOG does not confirm (IoU >= AGREE_IOU) must score at
# least this much: on veil's own dev-set outputs every weaker lone candidate outside the
# masks was not a face, while every planted miss >= 20 px scored higher (BENCHMARKS.md,
# ``python -m benchmarks.planted_miss``).
CF_ALONE_SCORE = 0.4
# A dlib HOG candidate that CenterFace does not confirm must score at least this much
# (dlib's own scale): badges and patches reach 0.6, frontal faces CenterFace misses
# score well above 1.
HOG_ALONE_SCORE = 1.0
AGREE_IOU = 0.3
# YuNet-n, the independent family: the output searched at YUNET_SCALE times its own pixels
# (tiled), so the 10-20 px faces the job's pyramid misses reach it at 20-40 px. A YuNet
# candidate scoring YUNET_ALONE_SCORE or more is a face on its own; from YUNET_WEAK_SCORE
# it is one when CenterFace or dlib HOG finds a face at the same place. Chosen on the even
# half of the dev images (``python -m benchmarks.real_miss``, BENCHMARKS.md "Real misses"):
# the rule catching the most leaked faces >= 15 px while flagging at most 10% of veil's
# default outputs. Lower weak scores with agreement flagged more files (unlabelled and
# sub-10 px faces, textures CenterFace also scores faintly) than they caught leaks, so
# the weak score equals the alone score: YuNet counts from 0.6, on its own.
YUNET_SCALE = 2.0
# Where the 2x pass runs. ``tiled``: on the whole picture (a 12 MP photo is searched as
# 48 MP). ``adaptive``: on a picture of YUNET_ADAPTIVE_FROM pixels or more, YuNet first
# searches the whole picture at its own pixels and coarser (the tiled search's other
# passes); every candidate there scoring YUNET_SEED_SCORE or more whose long side is at
# most YUNET_SEED_FACE pixels (a face small enough to need the zoom) opens a chip (its box
# grown by YUNET_CHIP_MARGIN, or half its size, on each side; overlapping chips merged),
# and the 2x pass runs on the chips only. The seeds are YuNet's own: the check stays
# independent of the job's CenterFace. A smaller picture is searched whole at 2x: there
# the whole search costs little, and a face YuNet barely sees at 1x (a 12 px face scoring
# 0.04 there and 0.83 at 2x, in the real misses of the odd dev half) is never skipped.
# On the dev outputs and on their 12 MP mosaics, every unmasked candidate from 0.6 and
# under 64 px that the whole 2x search finds, the adaptive one finds at the same place;
# its score can move across 0.6 where a chip's 2x tiles are cut elsewhere than the whole
# picture's (BENCHMARKS.md, "Cheaper verification of photos (session 7)";
# ``python -m benchmarks.verify_cost --yunet``).
YUNET_SEARCH = "adaptive"
YUNET_ADAPTIVE_FROM = 2_000_000
YUNET_SEED_SCORE = 0.1
YUNET_WHOLE_SCALE = 1.0
YUNET_SEED_FACE = 48.0
YUNET_CHIP_MARGIN = 32.0
YUNET_ALONE_SCORE = 0.6
YUNET_WEAK_SCORE = 0.6
YUNET_CORE = 0.2
# A photo's search (``photo_finder``): YuNet's zoomed passes at PHOTO_YUNET_SCALE (2.5x,
# and 1.25x) on the chips that YuNet's own candidates from PHOTO_YUNET_SEED at 1x open, on
# every photo whatever its size (PHOTO_YUNET_ADAPTIVE_FROM); YuNet still counts from 0.6.
# Chosen on the odd half of the dev images, reported on the even half (``python -m
# benchmarks.real_miss --sweep``; BENCHMARKS.md, "Catch rate against cost: YuNet's zoom in
# verification (session 8)"): of the searches at 2x, 2.5x, 3x and 4x, whole and on chips
# (seeds 0.05 and 0.1), and YuNet from 0.5 to 0.8, the one catching the most leaked faces
# from 15 px (then the most of all sizes, then the fewest false flags) while flagging at
# most 10% of the odd half's default outputs and costing at most 1.66x the whole 2x
# search (verification's budget once dlib's descriptors cost a fifth), and whose repair
# rounds on the 103 default (blurred) dev outputs stay under 10%: the two ranked above it
# (3x seed 0.1 and 2.5x seed 0.05, from 0.55) needed 15 and 11 (today's search 4, this
# one 7). Odd half: 8/43 leaked faces from 15 px caught instead of 7/43, 25/54 of 10-15 px
# instead of 22/54, 4/51 default outputs flagged instead of 5/51, YuNet 1.3x the CPU; even
# half: 9/47 instead of 4/47, 21/79 instead of 18/79, 5/52 flagged instead of 6/52, 1.4x;
# 12 MP mosaics: 13/94 instead of 11/94 at about 1.8x.
# Chips cut the zoom where YuNet sees nothing at 1x: they flag fewer files than the whole
# search at the same zoom, at about two thirds of its cost. Video frames keep the search
# above (their check's cost is per frame).
PHOTO_YUNET_SCALE = 2.5
PHOTO_YUNET_SEED = 0.05
PHOTO_YUNET_ADAPTIVE_FROM = 0
# YuNet is the check's eye for the small faces the job cannot see. A YuNet candidate whose
# shorter side is this many pixels or more counts only when another family agrees, or when
# CenterFace finds a face on a close crop of the output there: CenterFace finds faces this
# large, and on real footage lone YuNet boxes of 200-300 px at 0.6-0.8 were blurred floors
# and furniture (``source_s18.mp4``), each costing a repair round and a needless mask. No
# leaked face of the dev set is this large (BENCHMARKS.md, "Real misses").
YUNET_LARGE_SIDE = 64.0
# Pixel budget of the verification scan's zoomed passes, as a share of the job's.
PIXEL_BUDGET_SHARE = 1.0
# The zooms of verification's CenterFace passes. One pass at the
# job's base size: the job already searched these pixels with CenterFace at every zoom
# (outside the masks the output *is* the original), so CenterFace looks again only for
# what a plan lost (a region deleted by hand) and what a mask left; the small faces the
# job cannot see are the second family's (YuNet, tiled at 2x). On the dev set's planted
# misses the job's three zooms caught 3 more of 13 faces of 10-20 px (11 against 8; the
# same 22 of 24 from 20 px), and on its real misses nothing more (BENCHMARKS.md), at
# about 40% of the check's time.
CF_ZOOMS: tuple[float, ...] = (1.0,)
# dlib HOG searches a frame at its own pixels (no upsampling): it then finds frontal faces
# from about 80 px, its part being the large faces; the small ones are YuNet's, tiled at
# 2x. Upsampling once (faces from 40 px) cost four times as much and caught nothing more
# on the dev set's planted misses (22/24 from 20 px, 8/13 at 10-20 px either way, the
# same false flags; BENCHMARKS.md, "Session 6"): YuNet sees those faces already.
HOG_UPSAMPLE = 0
FAMILIES: tuple[str, ...] = ("centerface", "dlib-hog", "yunet")
# The families that search a whole photo. A photo's job searched every pixel with
# CenterFace at every zoom, and YuNet at 2x sees whatever a plan lost or a mask left as
# well as CenterFace's one pass at the job's base size did: without that pass the
# planted misses caught and the false flags were the same (BENCHMARKS.md, "Session 6"),
# at about 15% less of the check's time. Video frames keep it: on the frames sampled at
# track boundaries CenterFace is the only whole-frame search (see ``find``).
PHOTO_FAMILIES: tuple[str, ...] = ("dlib-hog", "yunet")


def strong_settings(made_with: ScanSettings | None = None) -> ScanSettings:
    """Scan settings for verification: CenterFace at ``CF_ZOOMS`` of the job's base size
    (the whole picture brought to ``base_side``: the cost is bounded whatever the
    picture's size; a large picture's small faces are the second family's, which
    searches at twice the picture's own pixels), at a lower threshold
    (``THRESHOLD_FACTOR``), without the mirrored repeat.

    Outside the masks the output is the original, which the job searched at every zoom
    and mirrored; this pass is for what a plan lost or a mask left (see ``CF_ZOOMS``).
    """
    base = made_with or ScanSettings()
    return ScanSettings(
        threshold=round(min(base.threshold, CF_ALONE_SCORE) * THRESHOLD_FACTOR, 4),
        zooms=CF_ZOOMS,
        mirror=False,
        base_side=base.base_side,
        target_pixels=int(base.target_pixels * PIXEL_BUDGET_SHARE),
        max_upscale=base.max_upscale,
        device=base.device,
        search="pyramid",
    )


def yunet_settings(made_with: ScanSettings | None = None,
                   floor: float = YUNET_WEAK_SCORE, scale: float | None = None) -> ScanSettings:
    """The independent family's search: YuNet-n, tiled, at ``scale`` (default
    ``YUNET_SCALE``) times the picture's pixels down to the whole picture; every candidate
    from ``floor`` up."""
    base = made_with or ScanSettings()
    scale = YUNET_SCALE if scale is None else scale
    return ScanSettings(detector="yunet", search="tiled", native_scale=scale,
                        threshold=floor, support_ratio=1.0, mirror=False,
                        device=base.device)


@dataclass(frozen=True)
class Rules:
    """When a lone YuNet candidate counts (see the module's text)."""

    yunet_alone: float = YUNET_ALONE_SCORE
    yunet_weak: float = YUNET_WEAK_SCORE
    #: YuNet candidates (from ``yunet_weak``) also confirm weak CenterFace / HOG ones.
    yunet_confirms: bool = False
    #: A YuNet box reaches further (forehead, chin, hair) than CenterFace's, which the
    #: job's masks follow, and a blurred face keeps its outline: a YuNet candidate is
    #: masked when its box, or its box without this share of its width and height on
    #: each side (the face's core), is ``MASKED_SHARE`` masked (0: the whole box only).
    yunet_core: float = YUNET_CORE


@dataclass(frozen=True)
class Candidate:
    """A face a detector found in the output."""

    box: tuple[float, float, float, float]
    score: float
    detector: str  # "centerface", "dlib-hog" or "yunet"


#: dlib HOG looks for the large faces: a picture longer than this is searched brought
#: down to it (a 4032 px photo's faces of about 250 px and more stay over HOG's 80 px),
#: so its cost stays bounded; the smaller faces are YuNet's, searched at the picture's
#: own pixels and more.
HOG_MAX_SIDE = 1280


#: At most this many YuNet inputs' detections are remembered (see ``_Remembering``).
MEMO_INPUTS = 512


class _Remembering:
    """A detector that remembers what it found on each input (keyed by a hash of the
    input's pixels, its shape and the score floor) while one photo is verified: a repair
    round renders the photo again, and most of YuNet's tiles and chips are unchanged. The
    same input gives the same detections, so nothing changes but the cost. Boxes and
    scores only are kept, never pixels."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.memo: dict[bytes, Detections] = {}
        self.scope: object = None
        self.active = False

    def __getattr__(self, name: str) -> Any:  # name, version, ... of the real detector
        return getattr(self.inner, name)

    @property
    def floor(self) -> float:
        return float(self.inner.floor)

    @floor.setter
    def floor(self, value: float) -> None:
        self.inner.floor = value

    def remember(self, scope: object) -> None:
        """Remember for the photo ``scope`` names (None: remember nothing); another
        scope forgets what was remembered."""
        if scope != self.scope or scope is None or len(self.memo) > MEMO_INPUTS:
            self.memo.clear()
        self.scope, self.active = scope, scope is not None

    def detect(self, frame: np.ndarray) -> Detections:
        if not self.active:
            return self.inner.detect(frame)
        h = hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=16)
        h.update(repr((frame.shape, float(self.inner.floor))).encode())
        key = h.digest()
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self.inner.detect(frame)
        return found


class ResidualFinder:
    """Both detector families at verification strength; reusable across frames."""

    def __init__(self, made_with: ScanSettings | None = None, *, hog: bool = True,
                 yunet: bool = True, scanner: Scanner | None = None,
                 rules: Rules | None = None, yunet_floor: float | None = None,
                 yunet_search: str | None = None,
                 seed_score: float | None = None,
                 whole_scale: float | None = None,
                 adaptive_from: int | None = None,
                 yunet_scale: float | None = None) -> None:
        self.settings = strong_settings(made_with)
        self.scanner = scanner or Scanner(self.settings)
        self.rules = rules or Rules()
        self._hog: Any = None
        if hog:
            import dlib

            self._hog = dlib.get_frontal_face_detector()
        self.yunet: Scanner | None = None
        # None: the module's settings, read when the finder is made
        yunet_search = YUNET_SEARCH if yunet_search is None else yunet_search
        seed_score = YUNET_SEED_SCORE if seed_score is None else seed_score
        self.yunet_search = yunet_search
        self.seed_score = seed_score
        self.whole_scale = YUNET_WHOLE_SCALE if whole_scale is None else whole_scale
        self.adaptive_from = YUNET_ADAPTIVE_FROM if adaptive_from is None else adaptive_from
        if yunet:
            floor = self.rules.yunet_weak if yunet_floor is None else yunet_floor
            self.yunet = Scanner(yunet_settings(made_with, floor, yunet_scale))
            if yunet_search == "adaptive":
                # the whole-picture passes report the faint candidates that open chips
                self.yunet.detector.floor = min(self.yunet.detector.floor, seed_score)
            self.yunet.detector = _Remembering(self.yunet.detector)
            self.chips: ScanSettings = replace(
                self.yunet.settings, chip_score=seed_score, chip_face=YUNET_SEED_FACE,
                chip_margin=YUNET_CHIP_MARGIN, chip_full=1.0)

    def remember(self, scope: object) -> None:
        """Keep YuNet's detections of each tile and chip while the photo ``scope`` names
        is verified (a repair round searches again only what changed); ``None``: keep
        nothing (video frames)."""
        if self.yunet is not None and isinstance(self.yunet.detector, _Remembering):
            self.yunet.detector.remember(scope)

    def adaptive(self, frame: np.ndarray) -> bool:
        """Whether YuNet's 2x pass runs on chips only in this frame (see YUNET_SEARCH)."""
        h, w = frame.shape[:2]
        return self.yunet_search == "adaptive" and h * w >= self.adaptive_from

    def yunet_parts(self, frame: np.ndarray) -> tuple[list[Detections], list[Chip]]:
        """What each pass of the adaptive YuNet search finds (frame pixels): the passes at
        ``whole_scale`` times the picture's pixels and coarser on the whole picture, the
        finer ones (2x) on the chips that their faint small candidates open; and those
        chips."""
        assert self.yunet is not None
        h, w = frame.shape[:2]
        s = self.yunet.settings
        whole = plan_tiled_passes(w, h, replace(s, native_scale=min(self.whole_scale,
                                                                    s.native_scale)))
        zoomed = [p for p in self.yunet.passes(w, h) if p.scale > self.whole_scale * 1.0001]
        parts = [run_pass(self.yunet.detector, frame, p) for p in whole]
        chips = plan_chips(parts, w, h, self.chips) if zoomed else []
        return parts + [run_pass_on_chips(self.yunet.detector, frame, p, chips)
                        for p in zoomed], chips

    def _yunet_adaptive(self, frame: np.ndarray) -> Detections:
        assert self.yunet is not None
        h, w = frame.shape[:2]
        parts, _ = self.yunet_parts(frame)
        return self.yunet.combine(parts, w, h)

    def _yunet(self, frame: np.ndarray) -> list[Candidate]:
        if self.yunet is None:
            return []
        det = (self._yunet_adaptive(frame) if self.adaptive(frame)
               else self.yunet.scan(frame))
        return [Candidate(tuple(float(v) for v in b), float(s), "yunet")  # type: ignore[arg-type]
                for b, s in zip(det.boxes, det.scores, strict=True)]

    def _centerface(self, frame: np.ndarray) -> list[Candidate]:
        det = self.scanner.scan(frame)
        return [Candidate(tuple(float(v) for v in b), float(s), "centerface")  # type: ignore[arg-type]
                for b, s in zip(det.boxes, det.scores, strict=True)]

    def _dlib_hog(self, frame: np.ndarray, upsample: int | None = None) -> list[Candidate]:
        if self._hog is None:
            return []
        h, w = frame.shape[:2]
        k = 1.0
        if upsample is None and max(h, w) > HOG_MAX_SIDE:
            k = HOG_MAX_SIDE / max(h, w)
            frame = cv2.resize(frame, (max(1, round(w * k)), max(1, round(h * k))),
                               interpolation=cv2.INTER_AREA)
        up = HOG_UPSAMPLE if upsample is None else upsample
        rects, scores, _ = self._hog.run(np.ascontiguousarray(frame), up, HOG_MIN_SCORE)
        out = []
        for r, s in zip(rects, scores, strict=True):
            box = (float(max(0, r.left() / k)), float(max(0, r.top() / k)),
                   float(min(w, (r.right() + 1) / k)), float(min(h, (r.bottom() + 1) / k)))
            if box[2] > box[0] and box[3] > box[1]:
                out.append(Candidate(box, float(s), "dlib-hog"))
        return out

    def candidates(self, frame: np.ndarray, second_family: bool = True,
                   families: tuple[str, ...] = FAMILIES) -> list[Candidate]:
        """Every face the ``families`` find in ``frame`` (RGB uint8); CenterFace's only
        when ``second_family`` is false."""
        search = {"centerface": self._centerface, "dlib-hog": self._dlib_hog,
                  "yunet": self._yunet}
        if not second_family:
            families = ("centerface",)
        return [c for fam in FAMILIES if fam in families for c in search[fam](frame)]

    def _face_near(self, image: np.ndarray, cand: Candidate, family: str,
                   min_iou: float) -> tuple[float, float, float, float] | None:
        """The face ``family`` finds at the candidate's place in ``image`` (its box
        overlapping the candidate's best, IoU ``min_iou`` or more), or ``None``: the
        detector runs on a window of three times the candidate's box (HOG upsampled twice,
        so that it sees faces down to 20 px)."""
        h, w = image.shape[:2]
        x1, y1, x2, y2 = cand.box
        bw, bh = x2 - x1, y2 - y1
        cx1, cy1 = int(max(0, x1 - bw)), int(max(0, y1 - bh))
        cx2, cy2 = int(min(w, x2 + bw)), int(min(h, y2 + bh))
        crop = np.ascontiguousarray(image[cy1:cy2, cx1:cx2])
        if crop.size == 0:
            return None
        if family == "yunet":
            if self.yunet is None:
                return None
            det = Detections(np.asarray([cand.box], np.float32), np.ones(1, np.float32))
            face = faces_on_crops(self.yunet.detector, image, det, self.rules.yunet_weak)[0]
            return None if face is None else _xyxy(face)
        if family == "centerface":
            found = [c.box for c in self._centerface(crop)]
        else:
            found = [c.box for c in self._dlib_hog(crop, upsample=2)]
        if not found:
            return None
        boxes = Detections(np.asarray(found, dtype=np.float32),
                           np.ones(len(found), np.float32)).transformed(1, 1, cx1, cy1).boxes
        iou = box_iou(np.asarray([cand.box], np.float32), boxes)[0]
        return _xyxy(boxes[int(iou.argmax())]) if iou.max() >= min_iou else None

    def find(self, output: np.ndarray, masked: np.ndarray, *,
             original: np.ndarray | None = None,
             allowed: np.ndarray | None = None,
             second_family: bool = True,
             families: tuple[str, ...] = FAMILIES) -> list[tuple[Candidate, float]]:
        """Residual faces of one output frame, each with the share of its box that is masked.

        ``masked``: boolean ``(H, W)`` pixels that were masked. ``allowed``: boolean
        ``(H, W)`` pixels deliberately left visible (faces a reviewer released); a face
        mostly inside them is not residual. ``original``: the original frame, used to
        confirm candidates that touch a mask (without it they count as residual).
        ``second_family=False`` skips dlib HOG and YuNet over the whole frame; it then
        looks only around CenterFace's weak candidates, to confirm them. ``families``:
        the detectors that search the whole frame (:data:`PHOTO_FAMILIES` for a photo).
        """
        return self.judge(self.candidates(output, second_family, families), output, masked,
                          original=original, allowed=allowed, second_family=second_family)

    def judge(self, cands: list[Candidate], output: np.ndarray, masked: np.ndarray, *,
              original: np.ndarray | None = None, allowed: np.ndarray | None = None,
              second_family: bool = True, rules: Rules | None = None,
              families: tuple[str, ...] = FAMILIES,
              memo: dict[Any, Any] | None = None) -> list[tuple[Candidate, float]]:
        """The residual faces among ``cands`` (:meth:`find` without the detection), under
        ``rules`` (default: the finder's) and from ``families`` only. ``memo`` keeps the
        confirmations on the original between calls on the same frame."""
        rules = rules or self.rules
        memo = {} if memo is None else memo
        cands = [c for c in cands if c.detector in families
                 and (c.detector != "yunet" or c.score >= rules.yunet_weak)]
        out: list[tuple[Candidate, float]] = []
        boxes = {fam: np.asarray([c.box for c in cands if c.detector == fam],
                                 np.float32).reshape(-1, 4)
                 for fam in ("centerface", "dlib-hog", "yunet")}
        alone = {"centerface": CF_ALONE_SCORE, "dlib-hog": HOG_ALONE_SCORE,
                 "yunet": rules.yunet_alone}
        confirms = {"centerface": ("dlib-hog", "yunet") if rules.yunet_confirms
                    else ("dlib-hog",),
                    "dlib-hog": ("centerface", "yunet") if rules.yunet_confirms
                    else ("centerface",),
                    "yunet": ("centerface", "dlib-hog")}

        def face_near(image: np.ndarray, cand: Candidate, family: str, min_iou: float
                      ) -> tuple[float, float, float, float] | None:
            key = (id(image), cand.box, family)
            if key not in memo:
                memo[key] = self._face_near(image, cand, family, min_iou)
            return memo[key]

        def near(image: np.ndarray, cand: Candidate, family: str, min_iou: float) -> bool:
            return face_near(image, cand, family, min_iou) is not None

        def covered(cand: Candidate, box: tuple[float, float, float, float]) -> float:
            share = box_share(masked, box)
            if cand.detector == "yunet" and rules.yunet_core > 0:
                share = max(share, box_share(masked, core_box(box, rules.yunet_core)))
            return share

        def agreed(cand: Candidate) -> bool:
            if cand.detector == "centerface" and not second_family:
                # no HOG over the whole frame: HOG looks in a window around the candidate
                return self._hog is not None and near(output, cand, "dlib-hog", AGREE_IOU)
            one = np.asarray([cand.box], np.float32)
            return any(len(boxes[f]) and box_iou(one, boxes[f]).max() >= AGREE_IOU
                       for f in confirms[cand.detector])

        for cand in cands:
            side = min(cand.box[2] - cand.box[0], cand.box[3] - cand.box[1])
            if side < MIN_RESIDUAL_SIDE:
                continue  # below the size METRICS.md counts as a face
            share = covered(cand, cand.box)
            if share >= MASKED_SHARE:
                continue
            if allowed is not None and box_share(allowed, cand.box) >= MASKED_SHARE:
                continue
            if cand.score < alone[cand.detector] and not agreed(cand):
                continue  # a weak candidate no other family sees: a false alarm
            if (cand.detector == "yunet" and side >= YUNET_LARGE_SIDE
                    and not agreed(cand) and not near(output, cand, "centerface", AGREE_IOU)):
                continue  # a large face only YuNet sees: texture (see YUNET_LARGE_SIDE)
            if share > 0 and original is not None:
                face = face_near(original, cand, cand.detector, CONFIRM_IOU)
                if face is None:
                    continue  # a blob the mask itself made look like a face
                if covered(cand, face) >= MASKED_SHARE:
                    continue  # the face, where the original shows it, is masked: the
                    #           candidate is its blurred outline, drawn lower or larger
            if any(box_iou(np.asarray([cand.box]), np.asarray([c.box]))[0, 0] >= 0.5
                   for c, _ in out):
                continue  # two families found the same face: report it once
            out.append((cand, share))
        return out


def photo_finder(made_with: ScanSettings | None = None, *, hog: bool = True
                 ) -> ResidualFinder:
    """The finder verification uses on photos: YuNet's zoomed passes at
    ``PHOTO_YUNET_SCALE`` on the chips its own candidates from ``PHOTO_YUNET_SEED`` open,
    on every photo (see there)."""
    return ResidualFinder(made_with, hog=hog, yunet_search="adaptive",
                          adaptive_from=PHOTO_YUNET_ADAPTIVE_FROM,
                          yunet_scale=PHOTO_YUNET_SCALE, seed_score=PHOTO_YUNET_SEED)


def core_box(box: tuple[float, float, float, float], cut: float
             ) -> tuple[float, float, float, float]:
    """``box`` without ``cut`` of its width and height on each side."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * cut, (y2 - y1) * cut
    return (x1 + dx, y1 + dy, x2 - dx, y2 - dy)


def box_share(mask: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Fraction of the pixels of ``box`` (xyxy) that are set in ``mask``."""
    h, w = mask.shape[:2]
    x1, y1 = int(np.clip(np.floor(box[0]), 0, w)), int(np.clip(np.floor(box[1]), 0, h))
    x2, y2 = int(np.clip(np.ceil(box[2]), 0, w)), int(np.clip(np.ceil(box[3]), 0, h))
    if x2 <= x1 or y2 <= y1:
        return 0.0
    return float(mask[y1:y2, x1:x2].mean())


def _xyxy(box: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return x1, y1, x2, y2
