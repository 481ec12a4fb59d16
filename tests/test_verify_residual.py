"""Residual-face search and the video frame sample."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from veil.detections import box_iou
from veil.plan.record import MediaInfo, Plan, Region
from veil.render.masks import coverage_mask, mask_regions
from veil.settings import MaskSettings, ScanSettings
from veil.verify.frames import boundary_windows, sample_indices
from veil.verify.residual import (
    CF_ALONE_SCORE,
    MASKED_SHARE,
    MIN_RESIDUAL_SIDE,
    PHOTO_YUNET_SCALE,
    PHOTO_YUNET_SEED,
    YUNET_ADAPTIVE_FROM,
    YUNET_LARGE_SIDE,
    Candidate,
    ResidualFinder,
    box_share,
    core_box,
    photo_finder,
    strong_settings,
    yunet_settings,
)
from verify_media import FACE_BOX, astronaut, photo_yunet_inputs


def test_strong_settings_lower_the_threshold_at_the_jobs_base_size():
    base = ScanSettings()
    s = strong_settings(base)
    assert s.threshold < base.threshold
    assert s.zooms == (1.0,) and not s.mirror
    # No costlier passes: the same pixel budget and enlargement as the job's scan.
    assert (s.base_side, s.target_pixels, s.max_upscale) == \
        (base.base_side, base.target_pixels, base.max_upscale)
    # The job searches a large picture at its own pixels (search "adaptive": the native
    # passes, zooms where faces can be); the check's
    # CenterFace keeps the bounded pyramid, the second family (YuNet, tiled at 2x the
    # picture's pixels) looks for the small faces.
    assert base.search == "adaptive" and s.search == "pyramid"
    assert yunet_settings(base).search == "tiled" and yunet_settings(base).native_scale == 2


def test_hog_searches_a_large_picture_brought_down_to_1280_px():
    """dlib HOG is for large faces: a 12 MP output is searched at 1280 px (bounded cost),
    and the large face in it is still found, in the picture's own coordinates."""
    face = cv2.resize(astronaut()[0:300, 100:400], (600, 600), interpolation=cv2.INTER_AREA)
    canvas = np.full((3024, 4032, 3), 110, np.uint8)
    canvas[1000:1600, 2000:2600] = face
    finder = ResidualFinder(ScanSettings(), yunet=False)
    seen: list[tuple[int, ...]] = []
    real = finder._hog

    class Spy:
        def run(self, image: np.ndarray, up: int, floor: float):  # noqa: ANN202
            seen.append(image.shape)
            return real.run(image, up, floor)

    finder._hog = Spy()
    found = finder._dlib_hog(canvas)
    assert seen and max(seen[0][:2]) == 1280
    boxes = np.asarray([c.box for c in found], np.float32).reshape(-1, 4)
    x1, y1, x2, y2 = FACE_BOX      # the astronaut's face, in the crop enlarged 2x
    gt = np.asarray([[2000 + 2 * (x1 - 100), 1000 + 2 * y1, 2000 + 2 * (x2 - 100),
                      1000 + 2 * y2]], np.float32)
    assert len(boxes) and box_iou(boxes, gt).max() > 0.3


def test_box_share():
    mask = np.zeros((100, 100), bool)
    mask[:, :50] = True
    assert box_share(mask, (0, 0, 50, 10)) == 1.0
    assert box_share(mask, (25, 0, 75, 10)) == 0.5
    assert box_share(mask, (60, 0, 90, 10)) == 0.0
    assert box_share(mask, (200, 200, 300, 300)) == 0.0


def test_unmasked_face_is_residual_and_masked_region_is_not():
    img = astronaut()
    finder = ResidualFinder(ScanSettings())
    nothing = np.zeros(img.shape[:2], bool)
    found = finder.find(img, nothing, original=img)
    assert any(abs(c.box[0] - FACE_BOX[0]) < 20 and abs(c.box[1] - FACE_BOX[1]) < 20
               for c, _ in found)
    covered = np.zeros(img.shape[:2], bool)
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    covered[y1 - 20:y2 + 20, x1 - 20:x2 + 20] = True
    # The face is still visible but lies inside a region said to be masked: not residual
    # (the check on changed pixels happens in verify_pair, not here).
    again = finder.find(img, covered, original=img)
    assert not any(abs(c.box[0] - FACE_BOX[0]) < 20 for c, _ in again)


def test_released_face_is_not_residual():
    img = astronaut()
    finder = ResidualFinder(ScanSettings())
    allowed = np.zeros(img.shape[:2], bool)
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    allowed[y1 - 20:y2 + 20, x1 - 20:x2 + 20] = True
    found = finder.find(img, np.zeros_like(allowed), original=img, allowed=allowed)
    assert not any(abs(c.box[0] - FACE_BOX[0]) < 20 for c, _ in found)


def _video_plan(frames: int = 100) -> Plan:
    return Plan(MediaInfo("v.mp4", "0" * 64, "video", 64, 64, frame_count=frames, fps=30.0),
                mask=MaskSettings())


def test_sample_indices_stride_and_track_boundaries():
    plan = _video_plan()
    for i in range(20, 60):
        if i != 41:  # a one-frame gap in the track
            plan.add_region(i, Region((1, 1, 20, 20), track_id=7))
    idx = sample_indices(100, 30.0, plan)
    assert idx == sorted(set(idx))
    assert {0, 15, 30, 45, 60, 75, 90, 99} <= set(idx)          # two per second + last
    # before the start (19), in the gap (41, which also serves the window before the
    # track resumes), after the end (60, already in the regular sample)
    assert set(idx) == {0, 15, 30, 45, 60, 75, 90, 99, 19, 41}
    assert sample_indices(10, None, None, stride=1) == list(range(10))
    assert sample_indices(0, 30.0) == []


def test_sample_indices_hit_every_boundary_window_in_a_crowd():
    plan = _video_plan()
    for t in range(30):  # a crowd: a track starts and one ends in almost every frame
        for i in range(2 * t, 2 * t + 9):
            plan.add_region(i, Region((1, 1, 20, 20), track_id=t))
    idx = set(sample_indices(100, 30.0, plan))
    windows = boundary_windows(plan, 100)
    assert len(windows) == 59  # 30 starts (one at frame 0 has none) and 30 ends
    assert all(any(lo <= i <= hi for i in idx) for lo, hi in windows)
    assert len(idx - set(sample_indices(100, 30.0))) <= 25


def test_sample_indices_untracked_regions_change_by_count():
    plan = _video_plan()
    for i in range(50, 70):
        plan.add_region(i, Region((1, 1, 20, 20)))
    idx = set(sample_indices(100, 30.0, plan, stride=1000))
    assert any(47 <= i <= 49 for i in idx)  # just before the regions appear
    assert any(70 <= i <= 72 for i in idx)  # just after they end


class _FakeScanner:
    """Stands in for CenterFace: returns the given boxes and scores for any frame."""

    def __init__(self, boxes, scores):
        self.boxes, self.scores = boxes, scores

    def scan(self, frame):
        from veil.detections import Detections

        return Detections(np.asarray(self.boxes, np.float32).reshape(-1, 4),
                          np.asarray(self.scores, np.float32))


def test_weak_lone_candidate_is_not_residual_but_strong_or_confirmed_is():
    img = astronaut()
    nothing = np.zeros(img.shape[:2], bool)
    patch = (140.0, 300.0, 200.0, 360.0)  # somewhere on the suit: no face there
    # YuNet off: it would find the astronaut's own (unmasked) face.
    weak = ResidualFinder(ScanSettings(), hog=False, yunet=False,
                          scanner=_FakeScanner([patch], [CF_ALONE_SCORE - 0.1]))
    assert weak.find(img, nothing) == []
    strong = ResidualFinder(ScanSettings(), hog=False, yunet=False,
                            scanner=_FakeScanner([patch], [CF_ALONE_SCORE + 0.1]))
    assert len(strong.find(img, nothing)) == 1
    # The real face at a weak CenterFace score: dlib HOG sees it too, so it counts.
    both = ResidualFinder(ScanSettings(), yunet=False,
                          scanner=_FakeScanner([FACE_BOX], [0.2]))
    found = both.find(img, nothing)
    assert any(c.detector == "centerface" and abs(c.box[0] - FACE_BOX[0]) < 1
               for c, _ in found)


def test_tiny_candidates_are_ignored():
    img = astronaut()
    tiny = ResidualFinder(ScanSettings(), hog=False, yunet=False,
                          scanner=_FakeScanner([(10, 10, 10 + MIN_RESIDUAL_SIDE - 1, 30)], [0.9]))
    assert tiny.find(img, np.zeros(img.shape[:2], bool)) == []


def test_yunet_search_is_tiled_at_twice_the_pixels():
    s = yunet_settings(ScanSettings())
    assert (s.detector, s.search, s.native_scale) == ("yunet", "tiled", 2.0)
    assert s.support_threshold == s.threshold  # every candidate from the floor up


def test_core_box():
    assert core_box((0, 0, 10, 20), 0.2) == (2, 4, 8, 16)


def _placed_face(side: float, size: tuple[int, int], at: tuple[int, int],
                 blur: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A grey picture of ``size`` (width, height) holding the astronaut at ``at``, scaled
    so that her face is ``side`` px wide (and blurred by ``blur`` px), and the face's box
    there."""
    f = side / (FACE_BOX[2] - FACE_BOX[0])
    small = cv2.resize(astronaut(), (round(512 * f), round(512 * f)),
                       interpolation=cv2.INTER_AREA)
    if blur:
        small = cv2.GaussianBlur(small, (0, 0), blur)
    canvas = np.full((size[1], size[0], 3), 128, np.uint8)
    ox, oy = at
    canvas[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small
    box = np.asarray([[ox + FACE_BOX[0] * f, oy + FACE_BOX[1] * f,
                       ox + FACE_BOX[2] * f, oy + FACE_BOX[3] * f]], np.float32)
    return canvas, box


def _phone_picture(face_side: float) -> tuple[np.ndarray, np.ndarray]:
    """A 3000x2250 grey picture holding the astronaut scaled so that her face is
    ``face_side`` px wide, and the face's box there."""
    return _placed_face(face_side, (3000, 2250), (1400, 1000))


def _near(found, box: np.ndarray) -> list:
    """The candidates on the face (IoU >= 0.3 with its box)."""
    return [c for c, _ in found
            if box_iou(np.asarray([c.box], np.float32), box)[0, 0] >= 0.3]


@pytest.mark.slow
def test_small_unmasked_face_in_a_large_picture_is_found_by_the_tiled_yunet_search():
    """A 12 px face left unmasked in a 6.75 MP picture: the check's CenterFace (the whole
    picture at 1280 px) sees it at 5 px and with dlib HOG misses it; YuNet,
    tiled at twice the picture's pixels, sees it at 24 px and flags it. Masked, it passes."""
    canvas, box = _phone_picture(12.0)
    nothing = np.zeros(canvas.shape[:2], bool)
    finder = ResidualFinder(ScanSettings())
    cands = finder.candidates(canvas)
    old = finder.judge(cands, canvas, nothing, original=canvas,
                       families=("centerface", "dlib-hog"))
    assert _near(old, box) == []
    new = finder.judge(cands, canvas, nothing, original=canvas)
    # YuNet finds it.
    assert "yunet" in [c.detector for c in _near(new, box)]

    solid = MaskSettings(method="solid")
    masked = mask_regions(canvas, box, solid)
    assert finder.find(masked, coverage_mask(canvas.shape[:2], box, solid),
                       original=canvas) == []


def test_a_masked_face_s_blurred_outline_is_not_a_residual_face():
    """Blurred, a face keeps its outline, and YuNet can draw that outline lower or larger
    than the face (on a 720p clip: 300x400 px boxes reaching the neck, 70% masked). Where
    the original shows the face, it is masked: nothing is visible."""
    img = astronaut()
    face = np.asarray([FACE_BOX], np.float32)
    blur = MaskSettings()
    out = mask_regions(img, face, blur)
    masked = coverage_mask(img.shape[:2], face, blur)
    x1, y1, x2, y2 = FACE_BOX
    w, h = x2 - x1, y2 - y1  # the clip's box, relative to its face: wider, taller, lower
    low = (x1 - 0.22 * w, y1 + 0.23 * h, x2 + 0.2 * w, y2 + 0.61 * h)
    cand = Candidate(low, 0.7, "yunet")
    assert 0 < box_share(masked, low) < MASKED_SHARE
    assert box_share(masked, core_box(low, 0.2)) < MASKED_SHARE
    finder = ResidualFinder(ScanSettings(), hog=False)
    assert finder.judge([cand], out, masked, original=img) == []
    # The same box on an output that left the face unmasked is a visible face.
    assert len(finder.judge([cand], img, np.zeros_like(masked), original=img)) == 1


def test_a_large_face_only_yunet_sees_needs_centerface_on_a_close_crop():
    """A lone YuNet box of 64 px or more counts only where CenterFace, which finds faces
    that large, sees a face on a crop of the output (on footage, such boxes were blurred
    floors and furniture); the astronaut's unmasked face counts."""
    img = astronaut()
    nothing = np.zeros(img.shape[:2], bool)
    finder = ResidualFinder(ScanSettings(), hog=False)
    suit = (120.0, 300.0, 240.0, 420.0)  # her suit: no face
    assert min(suit[2] - suit[0], suit[3] - suit[1]) >= YUNET_LARGE_SIDE
    assert finder.judge([Candidate(suit, 0.75, "yunet")], img, nothing, original=img) == []
    found = finder.judge([Candidate(FACE_BOX, 0.75, "yunet")], img, nothing, original=img)
    assert [c.detector for c, _ in found] == ["yunet"]


class _Counting:
    """A detector that counts the pixels it is shown."""

    def __init__(self, inner) -> None:
        self.inner, self.pixels = inner, 0
        self.floor = inner.floor

    def detect(self, frame: np.ndarray):
        self.pixels += frame.shape[0] * frame.shape[1]
        return self.inner.detect(frame)


@pytest.mark.slow
def test_yunet_zooms_only_where_its_own_faint_candidates_are():
    """A 6.75 MP picture with one 12 px face: the whole 2x search shows YuNet 27 MP and
    more; the adaptive one searches the picture at its own pixels and coarser, then at 2x
    only around its faint small candidates, and still flags the face (found at 2x)."""
    canvas, box = _phone_picture(12.0)
    nothing = np.zeros(canvas.shape[:2], bool)
    finder = ResidualFinder(ScanSettings(), hog=False)
    assert finder.yunet is not None and finder.yunet_search == "adaptive"
    counter = _Counting(finder.yunet.detector)
    finder.yunet.detector = counter
    found = finder.judge(finder._yunet(canvas), canvas, nothing, original=canvas)
    assert "yunet" in [c.detector for c in _near(found, box)]
    whole = canvas.shape[0] * canvas.shape[1]
    # the passes at 1x and coarser, in overlapping tiles, see about 1.8x the picture and
    # the chips a little more; the whole 2x search shows YuNet about 7x
    assert counter.pixels < 2.2 * whole
    _, chips = finder.yunet_parts(canvas)
    assert chips and any(c[0] <= box[0, 0] and c[1] <= box[0, 1] and c[2] >= box[0, 2]
                         and c[3] >= box[0, 3] for c in chips)


def test_yunet_adaptive_search_without_candidates_runs_no_zoom():
    """A flat picture: no faint candidate, no chip, so no pass at 2x at all."""
    flat = np.full((900, 1200, 3), 128, np.uint8)
    finder = ResidualFinder(ScanSettings(), hog=False)
    assert finder.yunet is not None
    counter = _Counting(finder.yunet.detector)
    finder.yunet.detector = counter
    parts, chips = finder.yunet_parts(flat)
    assert chips == [] and all(len(p) == 0 for p in parts)
    assert counter.pixels <= 1.1 * 900 * 1200 * 1.05  # padded tiles of the 1x pass only


def test_a_small_picture_is_searched_whole_at_twice_its_pixels():
    """Under YUNET_ADAPTIVE_FROM pixels the 2x pass runs on the whole picture (4x its
    pixels, plus the 1x pass), a large one's only on chips."""
    finder = ResidualFinder(ScanSettings(), hog=False)
    assert finder.yunet is not None
    counter = _Counting(finder.yunet.detector)
    finder.yunet.detector = counter
    small = np.full((600, 800, 3), 128, np.uint8)
    assert small.shape[0] * small.shape[1] < YUNET_ADAPTIVE_FROM
    assert not finder.adaptive(small)
    finder._yunet(small)
    assert counter.pixels >= 5 * 600 * 800
    assert finder.adaptive(np.zeros((1512, 2016, 3), np.uint8))


def _small_face(side: float, blur: float) -> tuple[np.ndarray, np.ndarray]:
    """A 640x480 grey photo holding the astronaut with her face ``side`` px wide, blurred
    by ``blur`` px (a far face out of focus), and the face's box there."""
    return _placed_face(side, (640, 480), (300, 200), blur)


def test_a_photo_is_zoomed_only_where_yunet_sees_a_small_candidate(tmp_path, monkeypatch):
    """A photo's check runs YuNet's zoomed passes (2.5x) only on the chips its own faint
    small candidates at 1x open, whatever the photo's size (before: every photo under 2 MP
    was searched whole at 2x): a photo with no face gets no input larger than itself; a
    9 px face gets its chip zoomed and is flagged; masked, the photo passes."""
    from PIL import Image

    from veil.verify.check import verify_pair

    shown = photo_yunet_inputs(monkeypatch)
    blank = tmp_path / "blank.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(100, 156, (480, 640, 3), dtype=np.uint8)).save(blank)
    assert verify_pair(blank, blank, reid=False, metadata=False).residual_faces == []
    assert shown and max(h * w for h, w, _ in shown) <= 480 * 640

    shown.clear()
    canvas, box = _small_face(9.0, 1.0)
    path = tmp_path / "photo.png"
    Image.fromarray(canvas).save(path)
    v = verify_pair(path, path, reid=False, metadata=False)
    flagged = np.asarray([rf.box for rf in v.residual_faces], np.float32).reshape(-1, 4)
    assert len(flagged) and box_iou(flagged, box).max() >= 0.3
    # the photo at its own pixels, then its chip at 2.5x and 1.25x: the zoomed inputs
    # together are smaller than the photo (searched whole at 2.5x: 6.25 times it)
    assert shown[0][:2] == (480, 640) and len(shown) >= 3
    assert sum(h * w for h, w, _ in shown[1:]) < 480 * 640

    solid = MaskSettings(method="solid")
    out = tmp_path / "masked.png"
    Image.fromarray(mask_regions(canvas, box, solid)).save(out)
    assert verify_pair(path, out, reid=False, metadata=False).residual_faces == []


def test_photos_are_searched_finer_than_video_frames():
    """The photo search: YuNet's finest pass at 2.5x on the chips its candidates from 0.05
    open, on every photo; video frames keep the 2x search, whole under 2 MP (their cost is
    per frame), seeded from 0.1 above. YuNet counts from 0.6 in both."""
    photo = photo_finder(ScanSettings(), hog=False)
    frames = ResidualFinder(ScanSettings(), hog=False)
    assert photo.yunet is not None and frames.yunet is not None
    assert photo.yunet.settings.native_scale == PHOTO_YUNET_SCALE == 2.5
    assert frames.yunet.settings.native_scale == 2.0
    small = np.zeros((480, 640, 3), np.uint8)
    large = np.zeros((3024, 4032, 3), np.uint8)
    assert photo.adaptive(small) and photo.adaptive(large)
    assert not frames.adaptive(small) and frames.adaptive(large)
    assert photo.rules.yunet_alone == frames.rules.yunet_alone == 0.6
    assert photo.seed_score == PHOTO_YUNET_SEED == 0.05 and frames.seed_score == 0.1
