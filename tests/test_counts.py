"""Faces, not regions: what the summary and --json count (issue 9, item 9)."""

from __future__ import annotations

from pathlib import Path

from veil.cli.output import summary_line
from veil.jobs.batch import Collected, batch_summary
from veil.jobs.result import FileResult, finish_counts, plan_counts
from veil.plan.record import MediaInfo, Plan, Region


def _plan(kind: str = "image", frames: int = 1) -> Plan:
    media = MediaInfo(name="x", sha256="0" * 64, kind=kind,  # type: ignore[arg-type]
                      width=640, height=480, frame_count=frames, fps=25.0)
    return Plan(media=media)


def test_nested_and_duplicate_boxes_are_one_face() -> None:
    plan = _plan()
    plan.add_region(0, Region((100, 100, 200, 220)))   # a face
    plan.add_region(0, Region((120, 130, 150, 160)))   # its eye, found by a zoomed pass
    plan.add_region(0, Region((104, 102, 204, 224)))   # the same face again, mirrored pass
    plan.add_region(0, Region((400, 100, 460, 170)))   # a second face
    plan.add_region(0, Region((10, 10, 60, 60), released=True))  # released: not masked
    assert plan_counts(plan) == (2, 4)


def test_video_faces_are_tracks_not_face_frames() -> None:
    plan = _plan("video", frames=100)
    for i in range(100):
        plan.add_region(i, Region((10 + i, 10, 60 + i, 70), track_id=1))
        if i >= 50:
            plan.add_region(i, Region((300, 10, 350, 70), track_id=2))
    # a face added by verification over frames 20-24, outside any track: one face
    for i in range(20, 25):
        plan.add_region(i, Region((500, 300, 560, 380), provenance="detected"))
    assert plan_counts(plan) == (3, 100 + 50 + 5)


def test_summary_counts_faces_and_says_regions(tmp_path: Path) -> None:
    plan = _plan("video", frames=282)
    for i in range(282):
        plan.add_region(i, Region((10, 10, 60, 70), track_id=7))
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"x" * 652_000)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"y" * 700_000)
    # the video job reports the regions it drew per frame
    result = finish_counts(FileResult(source=src, output=out, kind="video", faces=282,
                                      frames=282, plan=plan))
    assert (result.faces, result.regions) == (1, 282)
    assert (result.input_bytes, result.output_bytes) == (652_000, 700_000)
    summary = batch_summary([result], Collected(), 10.0)
    line = summary_line(summary, tmp_path)
    assert "1 face masked (282 regions over 282 video frames)" in line
    assert "652 KB in, 700 KB out" in line
    assert summary.to_dict()["faces"] == 1 and summary.to_dict()["regions"] == 282


def test_summary_says_where_the_regions_of_a_mixed_folder_are(tmp_path: Path) -> None:
    """A folder of a picture and a video said "216 regions over 183 video frames" although
    18 of the regions were in the picture; one large photo was "0.01 images/s"."""
    video = _plan("video", frames=10)
    for i in range(10):
        video.add_region(i, Region((10, 10, 60, 70), track_id=1))
    photo = _plan()
    for box in ((100, 100, 200, 220), (400, 100, 460, 170)):
        photo.add_region(0, Region(box))
    results = [finish_counts(FileResult(source=tmp_path / "c.mp4", kind="video", frames=10,
                                        plan=video)),
               finish_counts(FileResult(source=tmp_path / "p.jpg", kind="image", plan=photo))]
    line = summary_line(batch_summary(results, Collected(), 10.0), tmp_path)
    assert "12 regions in 1 picture and 10 video frames" in line, line
    slow = summary_line(batch_summary(results[1:], Collected(), 131.2), tmp_path)
    assert "131.2 s (131.2 s per image)" in slow and "images/s" not in slow, slow


def test_report_counts_faces_as_the_summary_does(tmp_path: Path) -> None:
    """The report's faces_masked is the summary's count (it counted a picture's regions
    and each loose video region apart: 10 faces in the report, 7 on the terminal)."""
    from veil.report.json_report import ReportEntry, plan_account

    photo = _plan()
    for box in ((100, 100, 200, 220), (120, 130, 150, 160), (104, 102, 204, 224),
                (400, 100, 460, 170)):
        photo.add_region(0, Region(box))
    video = _plan("video", frames=30)
    for i in range(30):
        video.add_region(i, Region((10, 10, 60, 70), track_id=1))
    for i in range(20, 25):  # added by verification, outside any track: one face
        video.add_region(i, Region((500, 300, 560, 380), provenance="detected"))
    for plan in (photo, video):
        entry = ReportEntry.for_files(tmp_path / "in", None, plan=plan)
        assert entry.faces_masked == plan_counts(plan)[0] == plan_account(plan)["faces_masked"]
        assert entry.faces_masked == 2


def test_faint_tracks_are_masked_but_not_counted_as_faces(tmp_path: Path) -> None:
    """One woman talking in a room: one track at the threshold and tracks that never
    reach it (plants, a chair). The summary said 24 faces; it is 1 face and 2 faint
    tracks, all masked."""
    from veil.report.html_report import account_line
    from veil.report.json_report import ReportEntry, summarize

    plan = _plan("video", frames=40)
    for i in range(40):
        plan.add_region(i, Region((100, 100, 200, 220), score=0.95, track_id=1))
        plan.add_region(i, Region((400, 50, 560, 300), score=0.08, track_id=2))
        if i < 10:
            plan.add_region(i, Region((10, 300, 80, 380), score=0.12, track_id=3))
    # an interpolated stretch of the face's track still belongs to a face
    plan.add_region(40 - 1, Region((100, 100, 200, 220), provenance="interpolated",
                                   track_id=1))
    assert plan_counts(plan)[0] == 1
    result = finish_counts(FileResult(source=tmp_path / "c.mp4", output=None, kind="video",
                                      faces=0, frames=40, plan=plan))
    assert (result.faces, result.faint, result.regions) == (1, 2, 91)
    line = summary_line(batch_summary([result], Collected(), 1.0), tmp_path)
    assert "1 face masked (and 2 faint tracks as a precaution; 91 regions over 40" in line, line
    entry = ReportEntry.for_files(tmp_path / "c.mp4", None, plan=plan)
    assert entry.to_dict()["faint_tracks"] == 2 and entry.faces_masked == 1
    assert "2 faint tracks masked as a precaution" in account_line(summarize([entry]))
