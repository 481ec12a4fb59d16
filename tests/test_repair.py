"""Self-repair: a face the plan missed is found by verification, added and masked."""

from __future__ import annotations

import numpy as np
from PIL import Image

from veil.jobs.image import render_image_plan
from veil.jobs.repair import RepairOptions, add_residual_faces, verify_and_repair
from veil.jobs.result import FileResult
from veil.plan.record import MediaInfo, Plan, Region
from veil.plan.still import image_media_info
from veil.settings import MaskSettings
from veil.verify.check import ResidualFace
from verify_media import FACE_BOX, astronaut


def _missed(tmp_path):
    """The astronaut, and veil's output of a plan that forgot her face."""
    src = tmp_path / "a.png"
    Image.fromarray(astronaut()).save(src)
    plan = Plan(image_media_info(src, 512, 512), mask=MaskSettings())
    out = tmp_path / "out" / "a.png"
    out.parent.mkdir()
    done = render_image_plan(src, plan, out)
    assert done.ok, done.error
    return FileResult(source=src, output=out, plan=plan, plan_path=tmp_path / "a.veil.json")


def _near_face(box) -> bool:
    return abs(box[0] - FACE_BOX[0]) < 25 and abs(box[1] - FACE_BOX[1]) < 25


def test_missed_face_is_repaired(tmp_path):
    result = _missed(tmp_path)
    before = np.asarray(Image.open(result.output)).copy()
    fixed, entry = verify_and_repair(result)
    ver = fixed.verification
    assert ver is not None and ver.passed, ver
    rep = ver.repair
    assert rep["rounds"] >= 1 and rep["repaired"] and rep["remaining"] == []
    assert any(_near_face(a["box"]) for a in rep["added"])
    assert any(r.provenance == "detected" and _near_face(r.box)
               for r in fixed.plan.frame(0).regions)
    assert "verify" in fixed.plan.frame(0).note
    after = np.asarray(Image.open(result.output))
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    assert np.abs(after[y1:y2, x1:x2].astype(int) - before[y1:y2, x1:x2]).mean() > 10
    assert Plan.load(result.plan_path).region_count() == fixed.plan.region_count()
    assert entry.status == "pass" and entry.to_dict()["repair"]["repaired"]


def test_without_rounds_the_failure_is_kept_and_named(tmp_path):
    result = _missed(tmp_path)
    fixed, entry = verify_and_repair(result, RepairOptions(rounds=0))
    ver = fixed.verification
    assert not ver.passed and ver.checks["residual"] == "fail"
    assert ver.repair["rounds"] == 0 and ver.repair["remaining"]
    assert fixed.output.is_file()  # the output is kept, the failure reported
    assert entry is not None and entry.status == "fail"


def test_video_repair_spans_to_the_next_sample():
    plan = Plan(MediaInfo("v.mp4", "0" * 64, "video", 200, 100, frame_count=50, fps=10.0))
    plan.add_region(10, Region((0, 0, 5, 5)))
    plan.mask_whole_frame(12, "bad frame")
    added = add_residual_faces(plan, [ResidualFace(10, (50, 20, 70, 40), "centerface")],
                               (400, 200), 1)
    assert added[0]["frames"] == [5, 15]
    assert added[0]["box"] == [25.0, 10.0, 35.0, 20.0]  # output pixels -> plan pixels
    assert all(any(r.box[0] <= 25 for r in plan.frame(i).regions) for i in range(5, 16)
               if i != 12)
    assert not plan.frame(12).regions  # a frame masked whole needs nothing more
    assert plan.frame(10).regions[-1].box == (25.0, 10.0, 35.0, 20.0)
    assert not plan.frame(4).regions and not plan.frame(16).regions


def test_video_gap_is_repaired(tmp_path):
    """A track with a gap: the face left visible in frame 5 is found, added, re-rendered.
    (160 px frames: the face is under 40 px, so no re-id is measured and the test is quick.)"""
    from veil.jobs.video import file_sha256, render_video_plan
    from verify_media import write_video

    small = np.asarray(Image.fromarray(astronaut()).resize((160, 160)))
    src = write_video(tmp_path / "clip.mp4", [small] * 10)
    box = tuple(v * 160 / 512 for v in FACE_BOX)
    plan = Plan(MediaInfo("clip.mp4", file_sha256(src), "video", 160, 160, frame_count=10,
                          fps=10.0), mask=MaskSettings())
    for i in range(10):
        if i != 5:
            plan.add_region(i, Region(box, track_id=1))
    out = tmp_path / "out.mp4"
    done = render_video_plan(src, plan, out)
    assert done.ok, done.error
    result = FileResult(source=src, output=out, kind="video", plan=plan,
                        plan_path=tmp_path / "out.mp4.veil.json")
    fixed, _ = verify_and_repair(result)
    ver = fixed.verification
    assert ver.repair["rounds"] >= 1 and ver.repair["added"][0]["frame"] == 5
    assert ver.checks["residual"] == "pass", ver.reasons
    assert len(Plan.load(result.plan_path).frame(5).regions) >= 1
