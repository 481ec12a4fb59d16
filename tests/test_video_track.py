"""The tracker on synthetic detections: linking, gap filling, extension, cuts, widening."""

from __future__ import annotations

import numpy as np
import pytest

from veil.detections import Detections
from veil.plan.record import MediaInfo
from veil.plan.track import (
    SceneCutDetector,
    TrackSettings,
    link_tracks,
    track_regions,
)
from veil.plan.video import build_video_plan
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings


def moving_face(n: int, start=(10.0, 40.0), step=(4.0, 0.0), size=30.0,
                missing=()) -> list[Detections]:
    """One face moving ``step`` px per frame; frames in ``missing`` have no detection."""
    out = []
    for i in range(n):
        if i in missing:
            out.append(Detections.empty())
            continue
        x, y = start[0] + step[0] * i, start[1] + step[1] * i
        out.append(Detections([[x, y, x + size, y + size]], [0.9]))
    return out


def by_frame(regions):
    frames: dict[int, list] = {}
    for r in regions:
        frames.setdefault(r.frame, []).append(r)
    return frames


def test_gap_inside_a_track_is_filled_with_interpolated_boxes():
    dets = moving_face(20, missing={8, 9, 10})
    tracks = link_tracks(dets)
    assert len(tracks) == 1
    exact = TrackSettings(motion_widen=0, uncertain_grow=0)
    regions = by_frame(track_regions(tracks, 20, settings=exact))
    for f in (8, 9, 10):
        (r,) = regions[f]
        assert r.provenance == "interpolated"
        x = 10.0 + 4.0 * f  # where the face really is
        np.testing.assert_allclose(r.box, [x, 40, x + 30, 70], atol=1e-3)
    assert all(r.provenance == "detected" for f in (7, 11) for r in regions[f])


def test_gap_longer_than_max_gap_starts_a_new_track():
    dets = moving_face(30, step=(1.0, 0.0), missing=set(range(5, 20)))
    tracks = link_tracks(dets, settings=TrackSettings(max_gap=5))
    assert len(tracks) == 2


def test_tracks_are_extended_before_and_after_but_not_past_the_video():
    dets = [Detections.empty()] * 5 + moving_face(10, step=(0, 0))[:10] + [Detections.empty()] * 3
    s = TrackSettings(extend_before=3, extend_after=5, motion_widen=0)
    regions = by_frame(track_regions(link_tracks(dets, settings=s), len(dets), settings=s))
    assert sorted(regions) == list(range(2, 18))  # 5-3 .. last frame (17), not beyond
    assert regions[2][0].provenance == "extended"
    assert regions[17][0].provenance == "extended"
    assert regions[5][0].provenance == "detected"


def test_scene_cut_ends_tracks_and_stops_extension():
    dets = moving_face(20, step=(0, 0))
    s = TrackSettings(extend_before=4, extend_after=4)
    cuts = [10]
    tracks = link_tracks(dets, cuts, s)
    assert len(tracks) == 2
    assert tracks[0].frames[-1] == 9 and tracks[1].frames[0] == 10
    # A face that appears only after the cut is not extended back across it.
    dets2 = [Detections.empty()] * 10 + moving_face(10, step=(0, 0))
    regs = track_regions(link_tracks(dets2, cuts, s), 20, cuts, s)
    assert min(r.frame for r in regs) == 10


def test_two_faces_crossing_keep_their_own_tracks():
    a = moving_face(15, start=(0, 10), step=(6, 0))
    b = moving_face(15, start=(90, 80), step=(-6, 0))
    dets = [Detections.concatenate([x, y]) for x, y in zip(a, b, strict=True)]
    tracks = link_tracks(dets)
    assert len(tracks) == 2
    for tr in tracks:
        xs = [float(box[0]) for box in tr.boxes]
        steps = np.diff(xs)
        assert np.all(steps == steps[0])  # each track follows one straight path


def test_interpolated_boxes_grow_with_distance_from_a_detection():
    dets = moving_face(20, step=(0, 0), missing={8, 9, 10, 11, 12})
    s = TrackSettings(uncertain_grow=0.05)
    regions = by_frame(track_regions(link_tracks(dets, settings=s), 20, settings=s))
    widths = [float(regions[f][0].box[2] - regions[f][0].box[0]) for f in range(7, 14)]
    assert widths == pytest.approx([30, 33, 36, 39, 36, 33, 30])


def test_fast_motion_widens_boxes():
    dets = moving_face(10, step=(12.0, 0.0))
    s = TrackSettings(motion_widen=1.0)
    regs = track_regions(link_tracks(dets, settings=s), 10, settings=s)
    r = next(r for r in regs if r.frame == 5)
    w = float(r.box[2] - r.box[0])
    assert w >= 30 + 2 * 12 - 1e-3  # one frame of motion on each side
    assert float(r.box[3] - r.box[1]) == 30  # no vertical motion, no vertical widening


def test_plan_has_track_ids_provenance_and_whole_frames():
    dets = moving_face(12, missing={5})
    media = MediaInfo(name="x.mp4", sha256="0", kind="video", width=200, height=100,
                      frame_count=12, fps=30.0)
    plan = build_video_plan(dets, media, scan=ScanSettings(), mask=MaskSettings(),
                            bad_frames=[3])
    assert plan.frame(5).regions[0].provenance == "interpolated"
    assert {r.track_id for f in plan.frames.values() for r in f.regions} == {0}
    assert plan.frame(3).mask_whole
    for fp in plan.frames.values():
        for r in fp.regions:
            x1, y1, x2, y2 = r.box
            assert 0 <= x1 < x2 <= 200 and 0 <= y1 < y2 <= 100


def test_scene_cut_detector_fires_on_a_cut_not_on_a_pan():
    rng = np.random.default_rng(0)
    scene_a = rng.integers(0, 80, size=(120, 400, 3), dtype=np.uint8)
    scene_b = rng.integers(150, 255, size=(120, 400, 3), dtype=np.uint8)
    det = SceneCutDetector()
    frames = [scene_a[:, i * 5:i * 5 + 160] for i in range(10)]
    frames += [scene_b[:, i * 5:i * 5 + 160] for i in range(10)]
    for i, f in enumerate(frames):
        det.update(i, np.ascontiguousarray(f))
    assert det.cuts == [10]


def test_short_weak_tracks_are_dropped_when_confirmation_is_asked_for():
    from veil.plan.track import confirmed_tracks

    dets = moving_face(20)
    dets[5] = Detections.concatenate([dets[5], Detections([[100, 100, 120, 120]], [0.3])])
    dets[9] = Detections.concatenate([dets[9], Detections([[140, 10, 160, 30]], [0.8])])
    tracks = link_tracks(dets)
    assert len(tracks) == 3
    assert len(confirmed_tracks(tracks)) == 3          # default: every track is masked
    kept = confirmed_tracks(tracks, TrackSettings(min_detections=3, confirm_score=0.5))
    assert sorted(len(t.frames) for t in kept) == [1, 20]   # the confident one stays


def test_video_scan_settings_bound_the_passes_by_frame_size():
    from veil.scan.scanner import plan_passes
    from veil.scan.video import VIDEO_KEEP_WEAK, VIDEO_ZOOM, video_scan_settings

    for w, h in [(640, 360), (1280, 720), (1920, 1080), (720, 1280)]:
        s = video_scan_settings(w, h, ScanSettings(threshold=0.3))
        passes = plan_passes(w, h, s)
        assert s.threshold == 0.3 and not s.mirror
        assert [p.mirror for p in passes] == [False, False]
        base, zoom = (max(w, h) * p.scale for p in passes)
        assert base == pytest.approx(min(640, max(w, h)))
        # The zoom pass: x1.5 of the base, but never below the frame's own pixels.
        assert zoom == pytest.approx(max(VIDEO_ZOOM * base, max(w, h)), rel=0.01)
        assert s.keep_weak == VIDEO_KEEP_WEAK < s.support_threshold
    fast = video_scan_settings(1280, 720, ScanSettings.fast())
    assert len(plan_passes(1280, 720, fast)) == 1


def test_video_scanner_runs_the_zoom_pass_on_every_nth_frame():
    from veil.scan.video import VideoScanner

    class Counter:
        name = "counter"

        def __init__(self) -> None:
            self.sizes: list[tuple[int, int]] = []

        def detect(self, frame: np.ndarray) -> Detections:
            self.sizes.append(frame.shape[:2])
            return Detections.empty()

    det = Counter()
    settings = ScanSettings(search="pyramid", zooms=(1.0, 1.5), mirror=False, base_side=64,
                            target_pixels=10**6)
    vs = VideoScanner(settings, zoom_every=2, detector=det)
    frame = np.zeros((36, 64, 3), np.uint8)
    for i in range(4):
        vs.scan(frame, i)
    assert det.sizes == [(36, 64), (54, 96), (36, 64), (36, 64), (54, 96), (36, 64)]


def test_weak_candidates_are_reported_only_when_asked():
    class Fixed:
        name = "fixed"
        floor = 0.05

        def detect(self, frame: np.ndarray) -> Detections:
            boxes = np.array([[10, 10, 30, 30], [40, 5, 60, 25]], np.float32)
            return Detections(boxes, np.array([0.9, 0.07], np.float32)).with_min_score(
                self.floor)

    frame = np.zeros((64, 64, 3), np.uint8)
    one = dict(zooms=(1.0,), mirror=False)
    assert len(Scanner(ScanSettings(**one), detector=Fixed()).scan(frame)) == 1
    det = Fixed()
    det.floor = 0.1
    weak = Scanner(ScanSettings(**one, keep_weak=0.06), detector=det)
    assert det.floor == pytest.approx(0.06)  # lowered to what the settings need
    found = weak.scan(frame)
    assert sorted(found.scores.tolist()) == pytest.approx([0.07, 0.9])


def test_weak_tracks_need_persistence_and_confident_ones_do_not():
    n = 12
    dets = []
    for t in range(n):
        boxes, scores = [], []
        if t == 5:  # one confident face in one frame
            boxes.append([100, 100, 140, 140])
            scores.append(0.9)
        if t == 2:  # one weak flicker
            boxes.append([300, 100, 330, 130])
            scores.append(0.1)
        if t in (3, 6, 8):  # a faint face the scan sees in three frames only
            boxes.append([200, 200, 230, 230])
            scores.append(0.1)
        dets.append(Detections(np.array(boxes, np.float32).reshape(-1, 4),
                               np.array(scores, np.float32)))
    media = MediaInfo(name="c.mp4", sha256="0", kind="video", width=640, height=360,
                      frame_count=n)
    plan = build_video_plan(dets, media, scan=ScanSettings(), mask=MaskSettings())
    regions = {t: [r.box for r in plan.frame(t).regions] for t in range(n)}
    assert not any(abs(b[0] - 300) < 20 for bs in regions.values() for b in bs)
    faint = [t for t, bs in regions.items() if any(abs(b[0] - 200) < 20 for b in bs)]
    assert set(range(3, 9)) <= set(faint)   # detected, and filled between detections
    assert any(abs(b[0] - 100) < 20 for b in regions[5])


def _steady(n: int, box: list[float], score: float) -> list[Detections]:
    return [Detections([box], [score]) for _ in range(n)]


def test_a_large_faint_steady_box_over_texture_is_dropped():
    # Issue 12: on a 1280x720 clip a 334x477 box over plants, faint in every frame,
    # was masked for the whole shot because it persisted.
    media = MediaInfo(name="c.mp4", sha256="0", kind="video", width=1280, height=720,
                      frame_count=20)
    dets = _steady(20, [800, 150, 1134, 627], 0.1)
    plan = build_video_plan(dets, media, scan=ScanSettings(), mask=MaskSettings())
    assert plan.region_count() == 0
    assert plan.track is not None and plan.track.faint_max_size == pytest.approx(0.125)


def test_a_small_faint_face_track_is_kept_and_a_large_confident_one_too():
    media = MediaInfo(name="c.mp4", sha256="0", kind="video", width=1280, height=720,
                      frame_count=20)
    small = _steady(20, [100, 100, 130, 134], 0.08)      # a small blurred face
    large = _steady(20, [600, 100, 1000, 600], 0.1)
    large[7] = Detections([[600, 100, 1000, 600]], [0.6])  # seen clearly once: a face
    dets = [Detections.concatenate([a, b]) for a, b in zip(small, large, strict=True)]
    plan = build_video_plan(dets, media, scan=ScanSettings(), mask=MaskSettings())
    for t in range(20):
        xs = sorted(round(r.box[0]) for r in plan.frame(t).regions)
        assert len(xs) == 2 and xs[0] < 130 and xs[1] > 500


def test_the_faint_size_limit_is_relative_to_the_frame_and_can_be_lifted():
    from veil.plan.track import confirmed_tracks

    tracks = link_tracks(_steady(10, [10, 10, 100, 100], 0.1))   # 90 px
    s = TrackSettings(confirm_score=0.25)
    assert confirmed_tracks(tracks, s, frame_size=(640, 360)) == []      # 0.14 of 640
    assert len(confirmed_tracks(tracks, s, frame_size=(1280, 720))) == 1  # 0.07
    lifted = TrackSettings(confirm_score=0.25, faint_max_size=None)
    assert len(confirmed_tracks(tracks, lifted, frame_size=(640, 360))) == 1
    assert len(confirmed_tracks(tracks, s)) == 1   # no frame size given: no limit


def test_track_settings_of_earlier_plans_read_without_the_faint_limit():
    old = {k: v for k, v in TrackSettings().to_dict().items() if k != "faint_max_size"}
    assert TrackSettings.from_dict(old).faint_max_size is None
    now = TrackSettings().to_dict()
    assert TrackSettings.from_dict(now) == TrackSettings()


def _face_with_a_weak_copy() -> list[Detections]:
    """A face that moves fast and turns back (its track's prediction overshoots), with
    a weak copy of its box over forehead and hair in the frame of the turn."""
    xs = [100 + 30 * i for i in range(11)] + [380 - 30 * (i - 10) for i in range(11, 30)]
    dets = []
    for i, x in enumerate(xs):
        boxes, scores = [[x, 100, x + 100, 220]], [0.9]
        if i == 10:
            boxes.append([x - 40, 60, x + 80, 200])
            scores.append(0.07)
        dets.append(Detections(boxes, scores))
    return dets


def test_a_weak_copy_beside_a_face_does_not_take_the_face_track():
    # Issue 12 (driving_d12.mp4, int8): a weak box beside the face started a track that
    # took the face's next detections; the one face became several overlapping tracks.
    s = TrackSettings(confirm_score=0.25, camera_motion=False)
    tracks = link_tracks(_face_with_a_weak_copy(), settings=s, frame_size=(640, 360))
    face = [t for t in tracks if max(t.scores) >= 0.25]
    assert len(face) == 1 and face[0].frames == list(range(30))
    assert min(face[0].scores) >= 0.25
    # one association for every score (plans before weak_max_ratio) splits the face
    old = link_tracks(_face_with_a_weak_copy(), frame_size=(640, 360),
                      settings=TrackSettings(confirm_score=0.25, camera_motion=False,
                                             weak_max_ratio=None))
    assert len([t for t in old if max(t.scores) >= 0.25]) == 2


def test_a_close_up_face_whose_score_dips_in_blur_keeps_its_track_and_its_masks():
    dets = moving_face(20, size=150.0)   # larger than a faint track may be at 640 px
    for i in range(8, 12):   # motion blur: the same face, a weak score
        dets[i] = Detections(dets[i].boxes * np.array([1, 1, 1.05, 1.05], np.float32), [0.1])
    s = TrackSettings(confirm_score=0.25, camera_motion=False)
    tracks = link_tracks(dets, settings=s, frame_size=(640, 360))
    assert len(tracks) == 1 and tracks[0].frames == list(range(20))
    media = MediaInfo(name="c.mp4", sha256="0", kind="video", width=640, height=360,
                      frame_count=20)
    plan = build_video_plan(dets, media, scan=ScanSettings(), mask=MaskSettings())
    assert all(plan.frame(t).regions for t in range(20))


def test_a_much_larger_weak_box_does_not_continue_a_face_track():
    # the face is lost at frame 10; a weak box 1.8 times its size sits on it
    dets = moving_face(20, start=(100.0, 100.0), step=(0.0, 0.0), size=60.0,
                       missing=range(10, 20))
    dets[10] = Detections([[76.0, 76.0, 184.0, 184.0]], [0.07])
    s = TrackSettings(confirm_score=0.25, camera_motion=False)
    tracks = link_tracks(dets, settings=s, frame_size=(640, 360))
    assert tracks[0].frames == list(range(10))
    lax = TrackSettings(confirm_score=0.25, camera_motion=False, weak_max_ratio=2.0)
    assert link_tracks(dets, settings=lax, frame_size=(640, 360))[0].frames == list(range(11))


def test_track_settings_of_earlier_plans_read_with_one_association_for_all_scores():
    old = {k: v for k, v in TrackSettings().to_dict().items() if k != "weak_max_ratio"}
    assert TrackSettings.from_dict(old).weak_max_ratio is None
    assert TrackSettings().weak_max_ratio == pytest.approx(1.5)
    assert TrackSettings.from_dict(TrackSettings().to_dict()) == TrackSettings()
