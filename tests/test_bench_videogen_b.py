"""The second clip generator: ground truth follows the frame's own transform, boxes that
cross the frame border are clipped to their visible part, and clips are deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from benchmarks.metrics import counts
from benchmarks.videogen import GtImage
from benchmarks.videogen_b import (
    Shot,
    frame_boxes,
    frame_matrix,
    frame_truth,
    make_clip,
    plan_shot,
    render_frame,
    transform_boxes,
)

OUT = (320, 180)
# Still: dark background with three coloured squares whose boxes are the ground truth.
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
BOXES = np.array([[100.0, 80.0, 40.0, 40.0], [300.0, 150.0, 30.0, 30.0],
                  [200.0, 220.0, 24.0, 24.0]])


def _still() -> np.ndarray:
    img = np.full((300, 450, 3), 30, np.uint8)
    for (x, y, w, h), c in zip(BOXES.astype(int), COLOURS, strict=True):
        img[y:y + h, x:x + w] = c
    return img


def _shot(centres: list[tuple[float, float]], *, scale: float = 1.0, roll: float = 0.0,
          readout: float = 0.0, occluder_at: int = 99) -> Shot:
    n = len(centres)
    return Shot(scale=np.full(n, scale), centre=np.array(centres, float),
                roll=np.full(n, roll), defocus=np.zeros(n), readout=readout, exposure=0.0,
                occluder=(occluder_at, 3, 0.3, 1.1, 40), quality=np.full(n, 90), noise=0.0)


def _region(frame: np.ndarray, colour: tuple[int, int, int]) -> tuple[float, ...] | None:
    """Bounding box ``x y w h`` of the pixels mostly of ``colour`` (None when absent)."""
    c = np.array(colour)
    near = np.abs(frame.astype(int) - c).max(axis=2) < 100
    ys, xs = np.nonzero(near)
    if len(xs) == 0:
        return None
    return (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())


def test_boxes_follow_camera_roll_and_rolling_shutter() -> None:
    still = _still()
    # A fast pan with a rolling shutter and a roll: the squares become sheared, rotated
    # parallelograms; the box must be the axis-aligned box around what is drawn.
    shot = _shot([(170.0, 125.0), (185.0, 128.0), (200.0, 131.0)], scale=1.3, roll=4.0,
                 readout=0.8)
    for t in range(3):
        frame = render_frame(still, shot, t, OUT)
        m = frame_matrix(shot, t, OUT)
        boxes = frame_boxes(BOXES, m, OUT)
        whole = transform_boxes(BOXES, m)
        checked = 0
        for box, full, colour in zip(boxes, whole, COLOURS, strict=True):
            if not np.allclose(box, full):
                continue  # cut by the border: the next test covers clipping
            seen = _region(frame, colour)
            assert seen is not None
            checked += 1
            assert np.allclose(seen, box, atol=2.0), (t, seen, box)
        assert checked >= 1


def test_rolling_shutter_shears_with_the_motion() -> None:
    still_pan = _shot([(200.0, 150.0), (240.0, 150.0)], readout=0.8)
    m = frame_matrix(still_pan, 1, OUT)
    # The camera moves right, the scene left: lower rows (read later) are further left.
    assert m[0, 1] < 0
    assert np.allclose(frame_matrix(_shot([(200.0, 150.0)] * 2, readout=0.8), 1, OUT),
                       [[1, 0, 160 - 200], [0, 1, 90 - 150]])


def test_faces_leaving_the_frame_are_clipped_to_their_visible_part() -> None:
    # The camera pans right until the red square (x 100..140) leaves at the left border.
    centres = [(200.0 + 10 * t, 150.0) for t in range(15)]
    shot = _shot(centres)
    gt = GtImage("synthetic", BOXES, np.zeros(3, bool))
    widths = []
    for t in range(len(centres)):
        rows = frame_truth(gt, shot, t, OUT)
        x, y, w, h = rows[0, :4]
        assert x >= 0 and x + w <= OUT[0] and y >= 0 and y + h <= OUT[1]
        left = 100 - (centres[t][0] - OUT[0] / 2)  # unclipped left edge in the frame
        assert np.isclose(w, max(0.0, min(40.0, left + 40)), atol=1e-6)
        widths.append(w)
    assert widths[0] == 40.0 and widths[-1] == 0.0
    visible = [counts(frame_truth(gt, shot, t, OUT)[0, :4]) for t in range(len(centres))]
    # It counts while at least 10 px of it are in the frame, then no more.
    first_out = next(t for t, w in enumerate(widths) if w < 10)
    assert visible == [True] * first_out + [False] * (len(centres) - first_out)


def test_a_face_behind_the_passer_by_is_invalid_there() -> None:
    gt = GtImage("synthetic", np.array([[190.0, 140.0, 20.0, 20.0]]), np.zeros(1, bool))
    shot = _shot([(200.0, 150.0)] * 6, occluder_at=2)
    flags = [bool(frame_truth(gt, shot, t, OUT)[0, 4]) for t in range(6)]
    # The passer-by crosses frames 2..4 from left to right: it covers the centred face in
    # the middle frame only, never before or after.
    assert flags == [False, False, False, True, False, False]


def test_the_view_stays_inside_the_still() -> None:
    for size in ((640, 360), (1920, 1080)):
        for seed in range(4):
            shot = plan_shot(np.random.default_rng(seed), 60, (1024, 683), size)
            for t in range(60):
                m = np.vstack([frame_matrix(shot, t, size), [0, 0, 1]])
                corners = np.array([[0, 0, 1], [size[0], 0, 1], [0, size[1], 1],
                                    [size[0], size[1], 1]], float)
                inside = np.linalg.solve(m, corners.T)[:2]
                assert inside.min() > -0.5
                assert (inside[0] < 1024.5).all() and (inside[1] < 683.5).all()


def test_clip_and_truth_are_deterministic(tmp_path: Path) -> None:
    img = tmp_path / "still.png"
    cv2.imwrite(str(img), _still()[:, :, ::-1])
    gt = GtImage("synthetic", BOXES, np.zeros(3, bool))
    a = make_clip(img, gt, tmp_path / "a.mp4", seed=3, frames=6, size=(160, 90))
    b = make_clip(img, gt, tmp_path / "b.mp4", seed=3, frames=6, size=(160, 90))
    c = make_clip(img, gt, tmp_path / "c.mp4", seed=4, frames=6, size=(160, 90))
    ja, jb, jc = (json.loads(p.read_text()) for p in (a, b, c))
    assert ja["frames"] == jb["frames"] and len(ja["frames"]) == 6
    assert ja["frames"] != jc["frames"]
    assert (ja["width"], ja["height"]) == (160, 90)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
