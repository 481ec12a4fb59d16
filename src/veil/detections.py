"""The one record of what a detector found in one frame.

Every stage that deals with faces in a single frame takes or returns a
:class:`Detections`: detectors produce it, the planner turns it into regions,
the verifier compares against it. Coordinates are float32 pixels, ``x1 y1 x2 y2``,
in the frame's *displayed* orientation (EXIF / rotation already applied).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _empty_boxes() -> np.ndarray:
    return np.zeros((0, 4), dtype=np.float32)


def _empty_scores() -> np.ndarray:
    return np.zeros((0,), dtype=np.float32)


@dataclass
class Detections:
    """Faces found in one frame.

    Attributes:
        boxes: ``(N, 4)`` float32, ``x1, y1, x2, y2`` in pixels.
        scores: ``(N,)`` float32 confidence in ``[0, 1]``.
        landmarks: ``(N, 5, 2)`` float32 (eyes, nose, mouth corners) or ``None``.
    """

    boxes: np.ndarray = field(default_factory=_empty_boxes)
    scores: np.ndarray = field(default_factory=_empty_scores)
    landmarks: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(self.boxes) != len(self.scores):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.scores)} scores")
        if self.landmarks is not None:
            self.landmarks = np.asarray(self.landmarks, dtype=np.float32).reshape(-1, 5, 2)
            if len(self.landmarks) != len(self.boxes):
                raise ValueError("landmarks and boxes differ in length")

    @classmethod
    def empty(cls) -> Detections:
        return cls()

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> Detections:
        """Select detections by index array, boolean mask or slice."""
        lm = None if self.landmarks is None else self.landmarks[index]
        return Detections(self.boxes[index], self.scores[index], lm)

    @property
    def widths(self) -> np.ndarray:
        return self.boxes[:, 2] - self.boxes[:, 0]

    @property
    def heights(self) -> np.ndarray:
        return self.boxes[:, 3] - self.boxes[:, 1]

    def with_min_score(self, threshold: float) -> Detections:
        return self[self.scores >= threshold]

    def transformed(self, scale_x: float, scale_y: float, dx: float = 0.0,
                    dy: float = 0.0) -> Detections:
        """Map coordinates by ``x * scale_x + dx`` (and likewise for y)."""
        mul = np.array([scale_x, scale_y, scale_x, scale_y], dtype=np.float32)
        add = np.array([dx, dy, dx, dy], dtype=np.float32)
        boxes = self.boxes * mul + add
        lm = None
        if self.landmarks is not None:
            lm = self.landmarks * np.array([scale_x, scale_y], dtype=np.float32) + np.array(
                [dx, dy], dtype=np.float32
            )
        return Detections(boxes, self.scores.copy(), lm)

    def clipped(self, width: int, height: int) -> Detections:
        """Clip boxes to the frame and drop those left with no area."""
        boxes = self.boxes.copy()
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        lm = None if self.landmarks is None else self.landmarks[keep]
        return Detections(boxes[keep], self.scores[keep], lm)

    @staticmethod
    def concatenate(parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections()
        lm = None
        if all(p.landmarks is not None for p in parts):
            lm = np.concatenate([p.landmarks for p in parts if p.landmarks is not None])
        return Detections(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            lm,
        )

    def to_list(self) -> list[dict[str, object]]:
        """Plain JSON-friendly form: one dict per face."""
        out: list[dict[str, object]] = []
        for i in range(len(self)):
            item: dict[str, object] = {
                "box": [round(float(v), 2) for v in self.boxes[i]],
                "score": round(float(self.scores[i]), 4),
            }
            if self.landmarks is not None:
                item["landmarks"] = [[round(float(v), 2) for v in p] for p in self.landmarks[i]]
            out.append(item)
        return out


def _areas(b: np.ndarray) -> np.ndarray:
    return (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)


def _intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection areas of ``(N,4)`` and ``(M,4)`` xyxy boxes → ``(N, M)``."""
    ix = (np.minimum(a[:, None, 2], b[None, :, 2])
          - np.maximum(a[:, None, 0], b[None, :, 0])).clip(0)
    iy = (np.minimum(a[:, None, 3], b[None, :, 3])
          - np.maximum(a[:, None, 1], b[None, :, 1])).clip(0)
    return ix * iy


def long_sides(boxes: np.ndarray) -> np.ndarray:
    """The longer side of each ``(N,4)`` xyxy box."""
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(N,4)`` and ``(M,4)`` xyxy boxes → ``(N, M)``."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    inter = _intersections(a, b)
    union = _areas(a)[:, None] + _areas(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def nested_boxes(boxes: np.ndarray, share: float = 0.8) -> np.ndarray:
    """Boolean ``(N,)``: which xyxy boxes lie at least ``share`` of their area inside a
    larger box of the same set. A large face is often also found as several smaller,
    overlapping boxes on its parts (zoomed passes see an eye and a cheek as a face);
    masking the large box masks them, and they are not faces of their own."""
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    area = _areas(b)
    inside = _intersections(b, b) >= share * np.maximum(area[:, None], 1e-9)  # i inside j
    larger = area[None, :] > area[:, None]
    return (inside & larger).any(axis=1)
