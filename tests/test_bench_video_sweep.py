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
