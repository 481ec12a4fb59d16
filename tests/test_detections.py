"""Box geometry shared by the stages."""

from __future__ import annotations

import numpy as np

from veil.detections import box_iou, nested_boxes


def test_parts_of_a_large_face_are_nested_and_neighbours_are_not():
    boxes = np.array([
        [100, 100, 500, 560],   # a large face
        [180, 160, 460, 420],   # its upper part, found again by a zoomed pass
        [120, 300, 330, 540],   # its lower left part
        [480, 120, 700, 380],   # a neighbour overlapping its edge
        [0, 0, 40, 40],         # a small face elsewhere
    ], np.float32)
    assert nested_boxes(boxes).tolist() == [False, True, True, False, False]
    assert nested_boxes(np.zeros((0, 4), np.float32)).shape == (0,)
    same = np.array([[0, 0, 50, 50], [0, 0, 50, 50]], np.float32)
    assert not nested_boxes(same).any()  # equal boxes: neither is the larger one


def test_box_iou_of_identical_and_disjoint_boxes():
    a = np.array([[0, 0, 10, 10]], np.float32)
    assert box_iou(a, a)[0, 0] == 1.0
    assert box_iou(a, a + 20)[0, 0] == 0.0
