"""The video planted-miss benchmark removes the right regions and counts only real leaks."""

from __future__ import annotations

import numpy as np

from benchmarks.video_planted import TAIL, _candidates, _leaked_frames, _plant
from veil.plan.record import MediaInfo, Plan, Region
from veil.settings import MaskSettings


def _setup(frames: int = 20) -> tuple[Plan, list[np.ndarray]]:
    plan = Plan(MediaInfo("c.mp4", "0" * 64, "video", 320, 240, frame_count=frames, fps=30.0),
                mask=MaskSettings())
    gt = []
    for t in range(frames):
        x = 50.0 + 2 * t
        # face 0 moves and is planned; face 1 is too small to plant; face 2 is unplanned
        gt.append(np.array([[x, 60, 30, 30, 0], [200, 20, 12, 12, 0], [250, 150, 30, 30, 0]]))
        plan.add_region(t, Region((x + 2, 62, x + 28, 88), score=0.9, track_id=1))
        plan.add_region(t, Region((201, 21, 211, 31), score=0.9, track_id=2))
    return plan, gt


def test_only_planned_faces_of_20px_are_planted():
    plan, gt = _setup()
    assert _candidates(plan, gt) == [0]


def test_whole_and_tail_plants_remove_the_face_where_intended():
    plan, gt = _setup()
    whole, removed = _plant(plan, gt, 0, "whole")
    assert sorted(removed) == list(range(20))
    assert all(len(whole.frame(t).regions) == 1 for t in range(20))  # face 1 stays
    assert len(plan.frame(0).regions) == 2                           # the original plan too
    assert _leaked_frames(whole, gt, 0, sorted(removed)) == list(range(20))
    tail, removed = _plant(plan, gt, 0, "tail")
    assert sorted(removed) == list(range(20 - TAIL, 20))
    assert _leaked_frames(tail, gt, 0, list(range(20))) == list(range(20 - TAIL, 20))


def test_a_face_still_covered_by_a_neighbour_is_not_a_leak():
    plan, gt = _setup()
    reduced, removed = _plant(plan, gt, 0, "tail")
    for t in removed:  # a neighbour's large region still hides the face
        x = float(gt[t][0, 0])
        reduced.add_region(t, Region((x - 10, 50, x + 40, 100), track_id=9))
    assert _leaked_frames(reduced, gt, 0, sorted(removed)) == []
