"""The video sweep scores a plan built from cached candidates (no detector, no media)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.video_sweep import SCALES, VideoSetting, score_setting


def _cache(tmp_path: Path, score: float, frames: int = 10) -> dict:
    clip = tmp_path / "c.mp4"
    face = [100.0, 100.0, 40.0, 40.0, 0]
    (tmp_path / "c.mp4.gt.json").write_text(json.dumps({"frames": [[face]] * frames}))
    box = np.array([[100, 100, 140, 140]], np.float32)
    per = {s: (box, np.array([score], np.float32)) for s in SCALES}
    return {str(clip): {"frames": [per] * frames, "cuts": [], "shape": (360, 640)}}


def test_a_found_face_is_covered_and_a_missed_one_leaks(tmp_path: Path) -> None:
    total, leaked, faces = score_setting(_cache(tmp_path, 0.9), VideoSetting())
    assert (total.counted, total.leaked, leaked, faces) == (10, 0, 0, 1)
    total, leaked, faces = score_setting(_cache(tmp_path, 0.01), VideoSetting())
    assert (total.counted, total.leaked, leaked, faces) == (10, 10, 1, 1)


def test_weak_candidates_count_only_when_kept(tmp_path: Path) -> None:
    cache = _cache(tmp_path, 0.07)   # under the threshold, over the weak floor
    total, _, _ = score_setting(cache, VideoSetting(keep_weak=0.06))
    assert total.leaked == 0         # a persistent faint face is masked
    total, _, _ = score_setting(cache, VideoSetting(keep_weak=0.0))
    assert total.leaked == 10


def test_collateral_is_split_by_the_kind_of_track(tmp_path: Path) -> None:
    from benchmarks.video_sweep import collateral_sources

    cache = _cache(tmp_path, 0.9)
    entry = cache[str(tmp_path / "c.mp4")]
    far = np.array([[400, 200, 440, 240]], np.float32)  # a steady false alarm, no face there
    for t, per in enumerate(entry["frames"]):
        entry["frames"][t] = {s: (np.vstack([b, far]), np.append(sc, 0.9).astype(np.float32))
                              for s, (b, sc) in per.items()}
    parts = collateral_sources(cache, VideoSetting())
    assert set(parts) == {"face, confirmed", "not a face, confirmed"}
    assert parts["not a face, confirmed"] > parts["face, confirmed"] >= 0.0


def test_the_cached_camera_motion_reaches_the_plan(tmp_path: Path) -> None:
    from dataclasses import replace

    # A face carried 20 px a frame by a pan, lost by the detector for 14 frames.
    n, lost = 40, range(12, 26)
    xs = [100.0 + 20.0 * max(0, min(t, 26) - 11) for t in range(n)]
    clip = tmp_path / "c.mp4"
    gt = [[[x, 100.0, 40.0, 40.0, 0]] for x in xs]
    (tmp_path / "c.mp4.gt.json").write_text(json.dumps({"frames": gt}))
    frames = []
    for t, x in enumerate(xs):
        box = np.array([[x, 100, x + 40, 140]], np.float32)
        s = np.array([0.9 if t not in lost else 0.0], np.float32)
        frames.append({k: (box, s) if t not in lost else (box[:0], s[:0]) for k in SCALES})
    motion = [None] + [np.array([[1.0, 0.0, xs[t] - xs[t - 1]], [0.0, 1.0, 0.0]])
                       for t in range(1, n)]
    cache = {str(clip): {"frames": frames, "cuts": [], "shape": (360, 640),
                         "motion": motion}}
    with_camera, _, _ = score_setting(cache, VideoSetting())
    without, _, _ = score_setting(cache, replace(VideoSetting(), camera=False))
    assert with_camera.leaked == 0 < without.leaked


def test_yunet_scores_map_onto_the_jobs_threshold_and_weak_floor() -> None:
    from benchmarks.video_sweep import map_yunet_scores

    raw = np.array([0.0, 0.1, 0.2, 0.35, 0.5, 0.9, 1.0], np.float32)
    out = map_yunet_scores(raw, (0.5, 0.2), threshold=0.25, weak=0.06)
    assert np.all(np.diff(out) > 0)
    assert np.allclose(out[[0, 2, 4, 6]], [0.0, 0.06, 0.25, 1.0])
    assert 0.06 < out[3] < 0.25 and out[1] < 0.06


def test_a_mixed_setting_takes_its_zoom_pass_from_yunet(tmp_path: Path) -> None:
    from dataclasses import replace

    from benchmarks.video_sweep import cpu_per_frame

    cache = _cache(tmp_path, 0.01)            # CenterFace misses the face everywhere
    entry = cache[str(tmp_path / "c.mp4")]
    entry["cpu"] = {s: 10.0 for s in SCALES}  # 1 CPU-s per frame and pass
    box = np.array([[100, 100, 140, 140]], np.float32)
    entry["yunet"] = {"frames": [{1.5: (box, np.array([0.7], np.float32))}] * 10,
                      "cpu": {1.5: 3.0}}
    d = VideoSetting()
    total, _, _ = score_setting(cache, d)
    assert total.leaked == 10
    mixed = replace(d, zoom_detector="yunet", yunet=(0.5, 0.2))
    total, _, _ = score_setting(cache, mixed)
    assert total.leaked == 0                  # found on the zoom frames, tracked between
    assert cpu_per_frame(cache, d) == 1.0 + 1.0 / 2
    assert abs(cpu_per_frame(cache, mixed) - (1.0 + 0.3 / 2)) < 1e-9
    low = replace(mixed, yunet=(0.8, 0.75))   # 0.7 is under YuNet's weak floor there
    total, _, _ = score_setting(cache, low)
    assert total.leaked == 10


def test_yunet_faint_candidates_are_kept_only_where_the_filters_allow() -> None:
    from dataclasses import replace

    from benchmarks.video_sweep import yunet_weak_kept

    boxes = np.array([[100, 100, 140, 140],     # faint, CenterFace has one there
                      [300, 100, 340, 140],     # faint, nothing from CenterFace near it
                      [500, 100, 540, 140],     # confident: always kept
                      [100, 200, 300, 350]],    # faint and large (200 px of 640)
                     np.float32)
    scores = np.array([0.15, 0.15, 0.6, 0.15], np.float32)
    near = np.array([[104, 98, 146, 138]], np.float32)
    base = [(near, np.array([0.07], np.float32))]
    v = VideoSetting(zoom_detector="yunet", yunet=(0.3, 0.1))
    assert yunet_weak_kept(boxes, scores, v, 640, base).all()      # no filter: all
    agree = replace(v, agree=0.3, agree_centre=False)
    assert yunet_weak_kept(boxes, scores, agree, 640, base).tolist() == [
        True, False, True, False]
    # the base pass's candidate must score the agreement floor
    assert not yunet_weak_kept(boxes, scores, replace(agree, agree_floor=0.1), 640,
                               base)[0]
    # the frame before counts as well as this one
    assert yunet_weak_kept(boxes, scores, agree, 640,
                           [base[0], (near[:0], np.zeros(0, np.float32))])[0]
    # a centre inside the other box agrees where the IoU is low
    small = [(np.array([[110, 110, 125, 125]], np.float32), np.array([0.07], np.float32))]
    assert not yunet_weak_kept(boxes, scores, agree, 640, small)[0]
    assert yunet_weak_kept(boxes, scores, replace(agree, agree_centre=True), 640, small)[0]
    sized = replace(v, weak_max_size=0.1)                          # up to 64 px
    assert yunet_weak_kept(boxes, scores, sized, 640, base).tolist() == [
        True, True, True, False]


def test_an_agreement_filter_drops_a_faint_yunet_texture(tmp_path: Path) -> None:
    from dataclasses import replace

    cache = _cache(tmp_path, 0.9)             # CenterFace finds the face everywhere
    entry = cache[str(tmp_path / "c.mp4")]
    face = np.array([[100, 100, 140, 140]], np.float32)
    texture = np.array([[400, 200, 440, 240]], np.float32)  # YuNet alone, faint, steady
    yboxes = np.vstack([face, texture])
    entry["yunet"] = {"frames": [{1.5: (yboxes, np.array([0.8, 0.15], np.float32))}] * 10}
    mixed = VideoSetting(zoom_detector="yunet", every=1, yunet=(0.3, 0.1))
    plain, _, _ = score_setting(cache, mixed)
    filtered, _, _ = score_setting(cache, replace(mixed, agree=0.3))
    assert plain.leaked == filtered.leaked == 0
    assert filtered.collateral < plain.collateral


def test_only_picks_settings_by_any_of_its_texts() -> None:
    from benchmarks.video_sweep import _picked

    assert _picked("yunet t0.6 w0.1", "t0.5|t0.6")
    assert not _picked("yunet t0.3 w0.1", "t0.5|t0.6")
    assert not _picked("anything", "|")
