"""Camera-motion-aware tracking: the motion estimate, and tracks carried through it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from veil.detections import Detections
from veil.plan.motion import CameraMotion, accumulate, motion_size, warp_box
from veil.plan.record import MediaInfo
from veil.plan.track import TrackSettings, link_tracks, track_regions
from veil.plan.video import build_video_plan
from veil.settings import MaskSettings, ScanSettings
from verify_media import write_video

W, H, FACE = 320, 180, 24


def _scene(seed: int = 3) -> np.ndarray:
    """A wide textured still (smooth blobs, so that it survives H.264 and downscaling)."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.random((180, 1400, 3)).astype(np.float32)
    return (np.clip(cv2.GaussianBlur(noise, (0, 0), 4) * 4 - 1.5, 0, 1) * 255).astype(np.uint8)


def _pan(n: int, fast: range, speed: float) -> np.ndarray:
    """Camera x position per frame: slow drift, ``speed`` px/frame during ``fast``."""
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = x[t - 1] + (speed if t in fast else 1.0)
    return x


FACE_X = 700.0  # where the face is on the still


def _frames(xs: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of the panning camera and the face's box in each (a bright square painted
    on the still moves with the scene)."""
    still = _scene()
    still[70:70 + FACE, int(FACE_X):int(FACE_X) + FACE] = (250, 200, 160)
    frames, boxes = [], []
    for x in xs:
        x0 = int(round(x))
        frames.append(still[:, x0:x0 + W].copy())
        fx = FACE_X - x0
        boxes.append(np.array([fx, 70, fx + FACE, 70 + FACE], np.float32))
    return frames, boxes


def _covered(boxes: np.ndarray, face: np.ndarray) -> bool:
    """The visible part of ``face`` lies inside one of ``boxes``."""
    f = np.array([max(face[0], 0), max(face[1], 0), min(face[2], W), min(face[3], H)])
    if f[2] - f[0] < 4:
        return True  # (nearly) out of the picture: nothing to mask
    return any(b[0] <= f[0] + 0.5 and b[1] <= f[1] + 0.5 and b[2] >= f[2] - 0.5
               and b[3] >= f[3] - 0.5 for b in boxes)


def test_the_estimate_follows_slow_and_whip_motion_and_is_repeatable() -> None:
    xs = _pan(14, range(5, 10), 45.0)
    frames, _ = _frames(xs)
    runs = []
    for _ in range(2):
        est = CameraMotion()
        for t, f in enumerate(frames):
            est.update(t, f)
        runs.append(est.motion)
    assert runs[0][0] is None
    for t in range(1, len(frames)):
        m = runs[0][t]
        assert m is not None
        assert m[0, 2] == pytest.approx(-(xs[t] - xs[t - 1]), abs=1.0)  # the scene moves left
        assert m[1, 2] == pytest.approx(0.0, abs=1.0)
        np.testing.assert_array_equal(m, runs[1][t])   # deterministic


def test_a_blank_picture_has_no_trusted_motion() -> None:
    est = CameraMotion()
    grey = np.full((H, W, 3), 128, np.uint8)
    est.update(0, grey)
    assert est.update(1, grey) is None
    assert est.update(2, None) is None        # a frame that could not be read
    assert motion_size(None, (W, H)) == float("inf")


def test_accumulated_motion_runs_both_ways() -> None:
    step = np.array([[1.0, 0.0, -10.0], [0.0, 1.0, 2.0]])
    cam = [None, step, step, step]
    fwd = accumulate(cam, 0, 3)
    assert fwd is not None
    np.testing.assert_allclose(fwd[:, 2], [-30.0, 6.0])
    back = accumulate(cam, 3, 1)
    assert back is not None
    np.testing.assert_allclose(back[:, 2], [20.0, -4.0])
    assert accumulate([None, None, step], 0, 2) is None   # unknown on the way
    np.testing.assert_allclose(warp_box(np.array([0, 0, 10, 10]), step), [-10, 2, 0, 12])


def _whip_detections(boxes: list[np.ndarray], missing: set[int]) -> list[Detections]:
    return [Detections.empty() if t in missing else Detections([b], [0.9])
            for t, b in enumerate(boxes)]


def test_a_face_lost_for_a_whole_whip_pan_stays_masked_along_the_camera() -> None:
    # 14 frames of a whip pan at 22 px a frame: the detector sees nothing (smear), more
    # than max_gap (10). Before camera motion: two tracks, the first one's extension
    # held still while the face slid away, so the face leaked in the middle of the pan.
    n, fast = 40, range(12, 26)
    xs = _pan(n, fast, 22.0)
    step = [None] + [np.array([[1.0, 0.0, -(xs[t] - xs[t - 1])], [0.0, 1.0, 0.0]])
                     for t in range(1, n)]
    _, face = _frames(xs - xs[0] + 300)  # the face starts near the right border
    dets = _whip_detections(face, set(fast))
    media = MediaInfo(name="c.mp4", sha256="0", kind="video", width=W, height=H,
                      frame_count=n)
    plan = build_video_plan(dets, media, scan=ScanSettings(), mask=MaskSettings(),
                            camera=step)
    leaked = [t for t in range(n) if not _covered(plan.frame(t).active_boxes(), face[t])]
    assert leaked == []
    before = build_video_plan(dets, media, scan=ScanSettings(), mask=MaskSettings())
    assert any(not _covered(before.frame(t).active_boxes(), face[t]) for t in fast)


def test_extension_follows_the_camera_and_stops_where_the_face_leaves() -> None:
    # A face seen until frame 9; the camera then pans fast and the face leaves the
    # picture on the left. It is masked where it is, and no further.
    n = 30
    xs = _pan(n, range(10, 30), 20.0)
    step = [None] + [np.array([[1.0, 0.0, -(xs[t] - xs[t - 1])], [0.0, 1.0, 0.0]])
                     for t in range(1, n)]
    _, face = _frames(xs - xs[0] + 450)
    dets = _whip_detections(face, set(range(10, n)))
    s = TrackSettings(confirm_score=0.25)
    regions = track_regions(link_tracks(dets, (), s, step, (W, H)), n, (), s, step, (W, H))
    frames = {r.frame: r.box for r in regions}
    for t in range(n):
        visible = face[t][2] > 0
        if visible:
            assert t in frames and _covered(frames[t][None], face[t]), t
    last = max(frames)
    assert face[last][2] > -FACE and last < n - 1   # stopped once the box left


def test_a_video_job_keeps_a_face_masked_through_a_whip_pan(tmp_path: Path) -> None:
    from veil.jobs.video import plan_video

    n, fast = 36, range(12, 26)
    xs = _pan(n, fast, 25.0)
    frames, face = _frames(xs)
    clip = write_video(tmp_path / "pan.mp4", frames, fps=25)

    class Scripted:
        """A detector that loses the face during the whip pan (as a smeared face is)."""

        settings = ScanSettings()

        def __init__(self) -> None:
            self.calls = 0

        def scan(self, rgb: np.ndarray) -> Detections:
            t, self.calls = self.calls, self.calls + 1
            return Detections.empty() if t in fast else Detections([face[t]], [0.9])

    plan, _, _ = plan_video(clip, scan=ScanSettings(), mask=MaskSettings(),
                            scanner=Scripted(), adapt_scan=False)  # type: ignore[arg-type]
    leaked = [t for t in range(n) if not _covered(plan.frame(t).active_boxes(), face[t])]
    assert leaked == []
    assert plan.track is not None and plan.track.camera_motion


def test_track_settings_of_earlier_plans_read_without_camera_motion() -> None:
    old = {k: v for k, v in TrackSettings().to_dict().items()
           if k not in ("camera_motion", "own_velocity", "camera_widen", "coast_fast",
                        "coast_max")}
    assert TrackSettings.from_dict(old).camera_motion is False
    assert TrackSettings.from_dict(TrackSettings().to_dict()) == TrackSettings()


def test_a_video_plan_with_camera_motion_matches_the_published_schema() -> None:
    import json

    jsonschema = pytest.importorskip("jsonschema", reason="the dev extra installs jsonschema")
    from conftest import REPO

    schema = json.loads((REPO / "docs" / "plan-schema.json").read_text(encoding="utf-8"))
    media = MediaInfo(name="c.mp4", sha256="0" * 64, kind="video", width=W, height=H,
                      frame_count=3, fps=25.0)
    step = np.array([[1.0, 0.0, -5.0], [0.0, 1.0, 0.0]])
    dets = [Detections([[10, 10, 40, 40]], [0.9])] * 3
    plan = build_video_plan(dets, media, scan=ScanSettings(), mask=MaskSettings(),
                            camera=[None, step, step])
    record = plan.to_dict()
    assert record["track"]["camera_motion"] is True
    assert not list(jsonschema.Draft202012Validator(schema).iter_errors(record))
