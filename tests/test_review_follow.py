"""A region drawn on one video frame becomes a track that follows the face: measured
against the detector's own boxes on a generated clip (the astronaut's face moving,
bobbing and growing over a textured background)."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from veil.plan.record import Plan
from veil.review.follow import follow, iou
from veil.review.frames import FrameSource
from veil.review.state import Session
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings

N, W, H = 48, 360, 240
pytestmark = pytest.mark.slow


def face_clip(path: Path, astronaut: np.ndarray, n: int = N) -> Path:
    """The astronaut's face moving right, bobbing, and growing from 60 to 107 px."""
    src = astronaut[20:260, 100:320]
    c = av.open(str(path), "w")
    v = c.add_stream("libx264", rate=25)
    v.width, v.height, v.pix_fmt = W, H, "yuv420p"
    yy, xx = np.mgrid[0:H, 0:W]
    bg = np.stack([120 + 40 * np.sin(xx / 17.0), 140 + 30 * np.cos(yy / 11.0),
                   90 + 0 * xx], -1).astype(np.uint8)
    for i in range(n):
        s = 60 + i
        face = cv2.resize(src, (s, int(s * 1.09)), interpolation=cv2.INTER_AREA)
        img = bg.copy()
        x, y = 10 + 4 * i, 20 + int(15 * np.sin(i / 6))
        img[y:y + face.shape[0], x:x + s] = face
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i
        for p in v.encode(frame):
            c.mux(p)
    for p in v.encode(None):
        c.mux(p)
    c.close()
    return path


def covered(box, det) -> float:
    """The part of the detector's box that ``box`` covers."""
    ix = max(0.0, min(box[2], det[2]) - max(box[0], det[0]))
    iy = max(0.0, min(box[3], det[3]) - max(box[1], det[1]))
    return ix * iy / ((det[2] - det[0]) * (det[3] - det[1]))


@pytest.fixture(scope="module")
def clip(astronaut, tmp_path_factory):
    path = face_clip(tmp_path_factory.mktemp("follow") / "face.mp4", astronaut)
    frames = FrameSource(path)
    scanner = Scanner(ScanSettings())
    detected = [scanner.scan(frames.frame(i)) for i in range(N)]
    # the face in every frame (its best box: a weak second candidate on the textured
    # background is not what this test is about)
    assert all(len(d) >= 1 for d in detected), (
        "the detector should see the face in every frame",
        [(i, np.round(d.scores, 3).tolist()) for i, d in enumerate(detected) if len(d) != 1],
        scanner.settings, scanner.detector.floor)
    boxes = [d.boxes[int(np.argmax(d.scores))] for d in detected]
    x1, y1, x2, y2 = boxes[0]
    w, h = x2 - x1, y2 - y1
    drawn = (x1 - 0.1 * w, y1 - 0.1 * h, x2 + 0.1 * w, y2 + 0.1 * h)  # roughly, by hand
    return path, frames, scanner, boxes, drawn


def test_drawn_region_follows_the_face_with_the_detector(clip):
    _, frames, scanner, boxes, drawn = clip
    near = Scanner(ScanSettings.fast(), detector=scanner.detector)
    path = follow(frames.frame, 0, drawn, N, detect=near.scan)
    assert [p.frame for p in path] == list(range(N))
    overlap = [iou(p.box, boxes[p.frame]) for p in path[1:]]
    cover = [covered(p.box, boxes[p.frame]) for p in path[1:]]
    # the drawn box is 1.2x the detector's each way: an IoU of 1/1.44 = 0.69 is perfect
    assert np.mean(overlap) >= 0.6 and min(overlap) >= 0.45, (np.mean(overlap), min(overlap))
    assert min(cover) >= 0.9, min(cover)


def test_drawn_region_follows_a_face_the_detector_misses(clip):
    """With no detector at all (the face it missed), the tracker alone keeps the face."""
    _, frames, _, boxes, drawn = clip
    path = follow(frames.frame, 0, drawn, N, detect=None)
    assert len(path) == N
    cover = [covered(p.box, boxes[p.frame]) for p in path[1:]]
    assert np.mean(cover) >= 0.9 and min(cover) >= 0.75, (np.mean(cover), min(cover))


def test_the_same_drawing_gives_the_same_track(clip):
    _, frames, scanner, _, drawn = clip
    near = Scanner(ScanSettings.fast(), detector=scanner.detector)
    runs = [follow(frames.frame, 0, drawn, N, detect=d) for d in (None, None, near.scan,
                                                                   near.scan)]
    assert runs[0] == runs[1] and runs[2] == runs[3]


def test_follow_from_the_session_adds_a_manual_track_to_the_plan(clip, tmp_path):
    path, _, scanner, boxes, drawn = clip
    session = Session([path], tmp_path / "out", mask=MaskSettings(method="solid"),
                      scanner=scanner)
    item = session.items[0]
    plan = session.ensure_plan(item)
    before = {r.track_id for fp in plan.frames.values() for r in fp.regions}
    for track_id in sorted(t for t in before if t is not None):  # the user removes it
        session.delete_track(item, track_id)      # (and any faint track the scan kept) ...
    assert Plan.load(item.plan_path).region_count() == plan.region_count()
    assert {r.provenance for fp in Plan.load(item.plan_path).frames.values()
            for r in fp.regions} == {"deleted"}                 # kept as a record
    start = 10
    track = session.follow(item, start, drawn_at(boxes[start]))  # ... and draws it again
    saved = Plan.load(item.plan_path)
    regions = [(f, r) for f, fp in saved.frames.items() for r in fp.regions
               if r.track_id == track]
    # followed backwards to the face's first frame as well as forwards to its last
    assert sorted(f for f, _ in regions) == list(range(N))
    assert {r.provenance for _, r in regions} == {"manual"}
    assert all(r.edited_at for _, r in regions)
    assert np.mean([covered(r.box, boxes[f]) for f, r in regions]) >= 0.9


def drawn_at(det) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in det)
    w, h = x2 - x1, y2 - y1
    return (x1 - 0.1 * w, y1 - 0.1 * h, x2 + 0.1 * w, y2 + 0.1 * h)
