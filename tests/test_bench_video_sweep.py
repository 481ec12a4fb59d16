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
