"""The review session without a browser: plans found or made, edits saved at once, video
frames on demand, and a render that is the one of `veil render`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import save
from test_video_pipeline import make_clip, picture
from veil.cli import main
from veil.detections import Detections
from veil.jobs.batch import JobOptions
from veil.jobs.result import FileResult
from veil.plan.record import Plan
from veil.plan.schema import check_plan
from veil.review.frames import FrameSource
from veil.review.state import EditError, Session, default_plan_dir, default_report_dir
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings

SOLID = MaskSettings(method="solid")


class NoScan:
    """A detector that must not be called."""

    name = "no-scan"

    def detect(self, frame: np.ndarray) -> Detections:
        raise AssertionError("the file was scanned although it has a plan")


class Square:
    """Finds the green square of ``test_video_pipeline.picture``."""

    name = "square"

    def detect(self, frame: np.ndarray) -> Detections:
        g = (frame[:, :, 1] > 180) & (frame[:, :, 0] < 80) & (frame[:, :, 2] < 80)
        ys, xs = np.nonzero(g)
        if len(xs) < 20:
            return Detections.empty()
        return Detections([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], [0.95])


def square_clip_session(tmp_path: Path) -> Session:
    """A review session on one 12-frame clip of ``test_video_pipeline.picture`` (in
    ``tmp_path/in``, outputs in ``tmp_path/out``), scanned by :class:`Square`, solid fill."""
    (tmp_path / "in").mkdir()
    clip = make_clip(tmp_path / "in" / "sq.mp4", n=12, audio=None, tags=False)
    return Session([clip], tmp_path / "out", mask=SOLID,
                   scanner=Scanner(ScanSettings.fast(target_pixels=1), detector=Square()))


@pytest.fixture()
def photo(small_astronaut, tmp_path):
    return save(small_astronaut, tmp_path / "in" / "a.png")


def test_a_file_without_plan_is_scanned_once_and_its_plan_saved(photo, tmp_path):
    session = Session([photo], tmp_path / "out", mask=SOLID)
    item = session.items[0]
    # the command line's folders: plans and report in OUTDIR.veil, beside OUTDIR
    assert session.plan_dir == default_plan_dir(tmp_path / "out") == (
        tmp_path / "out.veil" / "plans")
    assert session.report_dir == default_report_dir(tmp_path / "out") == (
        tmp_path / "out.veil" / "report")
    assert item.plan_path == tmp_path / "out.veil" / "plans" / "a.png.veil.json"
    assert not item.plan_path.exists()
    plan = session.ensure_plan(item)
    assert item.state == "scanned" and len(plan.frame(0).regions) == 1
    assert Plan.load(item.plan_path).to_dict() == plan.to_dict()
    # a new session uses the saved plan as it is: no scan
    again = Session([photo], tmp_path / "out", scanner=Scanner(ScanSettings(),
                                                                detector=NoScan()))
    assert again.ensure_plan(again.items[0]).to_dict() == plan.to_dict()


def test_every_edit_is_in_the_plan_file_at_once(photo, tmp_path):
    session = Session([photo], tmp_path / "out", mask=SOLID)
    item = session.items[0]
    session.ensure_plan(item)
    session.add_region(item, 0, [10, 10, 40, 40])
    assert [r.provenance for r in Plan.load(item.plan_path).frame(0).regions] == [
        "detected", "manual"]
    drawn = Plan.load(item.plan_path).frame(0).regions[1]
    assert drawn.edited_at and drawn.reason is None and not drawn.released
    session.change_region(item, 0, 1, box=[12, 14, 50, 60])
    assert Plan.load(item.plan_path).frame(0).regions[1].box == (12, 14, 50, 60)
    session.change_region(item, 0, 0, released=True, reason="  agreed,\n on camera ")
    kept = Plan.load(item.plan_path).frame(0).regions[0]
    assert kept.released and kept.reason == "agreed, on camera" and kept.edited_at
    assert kept.provenance == "detected"
    session.delete_region(item, 0, 1)
    # a region deleted by hand stays in the plan as a record, and is not masked
    saved = Plan.load(item.plan_path)
    assert [r.provenance for r in saved.frame(0).regions] == ["detected", "deleted"]
    assert saved.frame(0).regions[1].edited_at and saved.frame(0).active_regions() == []
    with pytest.raises(EditError, match="was deleted"):
        session.delete_region(item, 0, 1)
    session.change_region(item, 0, 0, released=False)
    back = Plan.load(item.plan_path).frame(0).regions[0]
    assert not back.released and back.reason is None
    check_plan(json.loads(item.plan_path.read_text()))
    assert item.state == "edited"
    # nothing but the plan is written: no side file, no temporary file left
    assert sorted(p.name for p in item.plan_path.parent.iterdir()) == ["a.png.veil.json"]
    # a new session reads the edits back from the plan alone
    again = Session([photo], tmp_path / "out")
    again.ensure_plan(again.items[0])
    assert again.items[0].state == "edited"


def test_an_edit_the_plan_check_refuses_is_not_saved(photo, tmp_path, monkeypatch):
    session = Session([photo], tmp_path / "out", mask=SOLID)
    item = session.items[0]
    session.ensure_plan(item)
    text = item.plan_path.read_text()
    import veil.review.state as state

    monkeypatch.setattr(state, "_now", lambda: "yesterday")  # not an ISO 8601 time
    with pytest.raises(EditError, match="edited_at"):
        session.add_region(item, 0, [10, 10, 40, 40])
    assert item.plan_path.read_text() == text
    assert len(item.plan.frame(0).regions) == 1  # the plan in memory is the saved one


def test_bad_edits_are_refused_and_change_nothing(photo, tmp_path):
    session = Session([photo], tmp_path / "out")
    item = session.items[0]
    session.ensure_plan(item)
    text = item.plan_path.read_text()
    for box in ([50, 60, 10, 10], [0, 0, 1e309, 5], [-50, -50, -10, -10], "x"):
        with pytest.raises(EditError):
            session.add_region(item, 0, box)
    with pytest.raises(EditError, match="no frame 1"):
        session.add_region(item, 1, [1, 1, 20, 20])
    with pytest.raises(EditError, match="no region 4"):
        session.change_region(item, 0, 4, released=True)
    with pytest.raises(EditError, match="only a video"):
        session.follow(item, 0, [1, 1, 20, 20])
    assert item.plan_path.read_text() == text


def test_a_plan_for_another_file_is_not_used(photo, tmp_path, small_astronaut):
    session = Session([photo], tmp_path / "out")
    session.ensure_plan(session.items[0])
    save(small_astronaut[::-1], photo)  # the file changed since its plan was made
    again = Session([photo], tmp_path / "out")
    with pytest.raises(EditError, match="different file"):
        again.ensure_plan(again.items[0])
    assert again.items[0].state == "error"


@pytest.mark.parametrize("mask", [SOLID, MaskSettings()], ids=["solid", "default-blur"])
def test_render_is_byte_identical_to_veil_render(photo, tmp_path, mask):
    assert MaskSettings().method == "blur"  # the default: its noise is seeded, so repeatable
    session = Session([photo], tmp_path / "out", mask=mask,
                      options=JobOptions(mask=mask, verify=False))
    item = session.items[0]
    session.ensure_plan(item)
    session.add_region(item, 0, [10, 10, 60, 50])
    session.change_region(item, 0, 0, released=True, reason="agreed")
    session.add_region(item, 0, [70, 70, 90, 95])
    session.delete_region(item, 0, 2)
    result = session.render(item)
    assert result.ok and item.state == "rendered"
    cli = CliRunner().invoke(main, ["render", str(item.plan_path), str(photo), "-o",
                                    str(tmp_path / "cli"), "--no-verify"])
    assert cli.exit_code == 0, cli.output
    assert (tmp_path / "out" / "a.png").read_bytes() == (tmp_path / "cli" / "a.png").read_bytes()


def test_a_run_after_a_review_render_says_why_it_stops(photo, tmp_path):
    """After a render from the review page, `veil IN -o OUT` refused the output as one
    "veil has no record of making": it did make it, and a run would undo the review."""
    session = Session([photo], tmp_path / "out", mask=SOLID,
                      options=JobOptions(mask=SOLID, verify=False))
    item = session.items[0]
    session.ensure_plan(item)
    session.add_region(item, 0, [10, 10, 60, 50])
    assert session.render(item).ok
    reviewed = (tmp_path / "out" / "a.png").read_bytes()
    result = CliRunner().invoke(main, [str(photo), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "render from the review page" in result.stderr, result.stderr
    assert "review's corrections" in result.stderr and "--overwrite" in result.stderr
    assert (tmp_path / "out" / "a.png").read_bytes() == reviewed


def test_video_tracks_released_and_deleted_whole(tmp_path):
    session = square_clip_session(tmp_path)
    item = session.items[0]
    plan = session.ensure_plan(item)
    tracks = {r.track_id for fp in plan.frames.values() for r in fp.regions}
    assert len(tracks) == 1
    track = tracks.pop()
    session.change_track(item, track, released=True, reason="the speaker", from_frame=6)
    saved = Plan.load(item.plan_path)
    released = sorted(f for f, fp in saved.frames.items() for r in fp.regions if r.released)
    assert released and released[0] == 6
    assert all(not r.released for f, fp in saved.frames.items() if f < 6 for r in fp.regions)
    assert {r.reason for fp in saved.frames.values() for r in fp.regions if r.released} == {
        "the speaker"}
    session.delete_track(item, track)
    saved = Plan.load(item.plan_path)
    assert saved.region_count() == 12 and saved.counts_by_provenance(masked_only=True) == (
        dict.fromkeys(saved.counts_by_provenance(), 0))
    assert {r.provenance for fp in saved.frames.values() for r in fp.regions} == {"deleted"}
    with pytest.raises(EditError, match="no track"):
        session.delete_track(item, track)


def _track_frames(path, ignore_deleted=True):
    out: dict[int, list[int]] = {}
    for f, fp in sorted(Plan.load(path).frames.items()):
        for r in fp.regions:
            if r.track_id is not None and not (ignore_deleted and r.provenance == "deleted"):
                out.setdefault(r.track_id, []).append(f)
    return out


def test_video_tracks_cut_split_and_merged(tmp_path):
    session = square_clip_session(tmp_path)
    item = session.items[0]
    session.ensure_plan(item)
    [(track, frames)] = _track_frames(item.plan_path).items()
    assert frames == list(range(12))
    # split at frame 5: two tracks, 0-4 and 5-11
    new = session.split_track(item, track, 5)
    assert _track_frames(item.plan_path) == {track: list(range(5)), new: list(range(5, 12))}
    with pytest.raises(EditError, match="both sides"):
        session.split_track(item, new, 5)
    # merge them back into one (the lower number)
    assert session.merge_tracks(item, new, track) == min(track, new)
    assert _track_frames(item.plan_path) == {min(track, new): list(range(12))}
    with pytest.raises(EditError, match="two different tracks"):
        session.merge_tracks(item, track, track)
    # cut at frame 8: the track ends there; the rest stays as deleted regions
    session.cut_track(item, track, 8)
    assert _track_frames(item.plan_path) == {track: list(range(9))}
    saved = Plan.load(item.plan_path)
    cut = [r for f, fp in saved.frames.items() if f > 8 for r in fp.regions]
    assert {(r.provenance, r.reason) for r in cut} == {("deleted", "cut")}
    with pytest.raises(EditError, match="nothing to cut"):
        session.cut_track(item, track, 8)
    # two tracks that share frames are not merged
    other = session.split_track(item, track, 4)
    session.add_region(item, 2, [1, 1, 10, 10])
    plan = session.ensure_plan(item)
    plan.frames[2].regions[-1].track_id = other  # a region of the other track in frame 2
    with pytest.raises(EditError, match="both have a region in frame 2"):
        session.merge_tracks(item, track, other)


def test_video_frames_on_demand_match_a_straight_decode(tmp_path):
    (tmp_path / "in").mkdir()
    clip = make_clip(tmp_path / "in" / "sq.mp4", n=40, audio=None, tags=False)
    import av

    with av.open(str(clip)) as c:
        straight = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    source = FrameSource(clip, cache_frames=4)
    for i in [0, 5, 39, 2, 20, 19, 38, 1, 30, 12]:  # forwards, backwards, jumps
        assert np.array_equal(source.frame(i), straight[i]), i
    with pytest.raises(Exception, match="no frame 40"):
        source.frame(40)
    assert np.array_equal(source.frame(3), straight[3])
    source.close()
    assert np.abs(straight[7].astype(int) - picture(7).astype(int)).mean() < 8


def test_veil_review_prints_the_url_first_and_serves_it(photo, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "veil", "review", str(photo), "-o",
                             str(tmp_path / "out"), "--no-browser"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url
        with urllib.request.urlopen(url, timeout=60) as res:
            assert res.status == 200 and b"veil review" in res.read()
        base, token = url.split("/?token=")
        req = urllib.request.Request(base + "/api/files", headers={"X-Veil-Token": token})
        with urllib.request.urlopen(req, timeout=60) as res:
            assert b'"a.png"' in res.read()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read()


def test_veil_review_refuses_an_output_inside_the_input(photo):
    res = CliRunner().invoke(main, ["review", str(photo.parent), "-o",
                                    str(photo.parent / "out"), "--no-browser"])
    assert res.exit_code == 2 and "inside" in res.output


def test_veil_review_picks_up_the_plans_of_an_earlier_run(photo, tmp_path):
    out = tmp_path / "out"
    first = CliRunner().invoke(main, [str(photo.parent), "-o", str(out), "--plan-dir",
                                      str(out.parent / "out.veil" / "plans")])
    assert first.exit_code == 0, first.output
    plan = out.parent / "out.veil" / "plans" / "a.png.veil.json"
    assert plan.is_file()
    session = Session([photo.parent], out, scanner=Scanner(ScanSettings(), detector=NoScan()))
    item = session.items[0]
    assert item.plan_path == plan
    assert session.ensure_plan(item).to_dict() == Plan.load(plan).to_dict()  # not scanned
    assert item.state == "scanned"
    # the earlier run's report is its only record: the session's report goes elsewhere
    earlier = out.parent / "out.veil" / "report" / "report.json"
    text = earlier.read_text()
    assert session.report_dir.parent == out.parent / "out.veil" / "reviews"
    session.options = JobOptions(verify=False)
    assert session.render(item).ok and (session.report_dir / "report.json").is_file()
    assert earlier.read_text() == text


def test_an_output_folder_alone_is_refused_with_the_reason(photo, tmp_path):
    out = tmp_path / "out"
    assert CliRunner().invoke(main, [str(photo.parent), "-o", str(out), "--plan-dir",
                                     str(tmp_path / "out.veil" / "plans")]).exit_code == 0
    res = CliRunner().invoke(main, ["review", str(out), "-o", str(tmp_path / "again"),
                                    "--no-browser"])
    assert res.exit_code == 2
    assert "is an output folder of veil" in res.output and "give the originals" in res.output


def test_the_file_list_sends_only_what_changed(photo, small_astronaut, tmp_path):
    from reviewtools import served

    for i in range(3):
        save(small_astronaut, tmp_path / "in" / f"b{i}.png")
    session = Session([photo.parent], tmp_path / "out", mask=SOLID)
    with served(session) as server:
        def get(path):
            req = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}",
                                         headers={"X-Veil-Token": server.token})
            with urllib.request.urlopen(req, timeout=60) as res:
                return json.loads(res.read())

        first = get("/api/files")
        assert [f["name"] for f in first["files"]] == ["a.png", "b0.png", "b1.png", "b2.png"]
        quiet = get(f"/api/files?since={first['version']}")
        assert quiet["files"] == [] and quiet["count"] == 4
        session.ensure_plan(session.items[2])
        changed = get(f"/api/files?since={quiet['version']}")
        assert [f["name"] for f in changed["files"]] == ["b1.png"]
        assert changed["files"][0]["state"] == "scanned"
        # a file not scanned yet is not waited for: the page gets "pending" at once
        info = get("/api/files/3")
        assert info["pending"] is True
        # ... and it is scanned next, in the background (the scan may already have taken it
        # from the queue by now, so wait for the result rather than look at the queue)
        deadline = time.monotonic() + 120
        while info.get("pending") and time.monotonic() < deadline:
            time.sleep(0.1)
            info = get("/api/files/3")
        assert not info.get("pending")


class Gated:
    """A detector that, once the gate is shut, waits for it (a follow in progress)."""

    name = "gated"

    def __init__(self, inner, gate, entered) -> None:
        self.inner, self.gate, self.entered = inner, gate, entered

    def detect(self, frame: np.ndarray) -> Detections:
        if not self.gate.is_set():
            self.entered.set()
            assert self.gate.wait(120), "the test never opened the gate"
        return self.inner.detect(frame)


def test_a_follow_in_progress_does_not_block_other_requests(photo, tmp_path):
    import threading

    from reviewtools import served

    make_clip(tmp_path / "in" / "sq.mp4", n=12, audio=None, tags=False)
    gate, entered = threading.Event(), threading.Event()
    gate.set()
    scanner = Scanner(ScanSettings.fast(target_pixels=1),
                      detector=Gated(Square(), gate, entered))
    session = Session([photo.parent], tmp_path / "out", mask=SOLID, scanner=scanner)
    by_kind = {it.kind: it for it in session.items}
    for it in session.items:
        session.ensure_plan(it)
    video, still = by_kind["video"], by_kind["image"]
    with served(session) as server:
        def call(method, path, body=None):
            data = None if body is None else json.dumps(body).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=data,
                                         method=method, headers={
                                             "X-Veil-Token": server.token,
                                             "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as res:
                return res.status, res.read()

        gate.clear()
        followed: list = []
        worker = threading.Thread(target=lambda: followed.append(call(
            "POST", f"/api/files/{video.id}/follow", {"frame": 4, "box": [10, 10, 40, 40]})))
        worker.start()
        assert entered.wait(60), "the follow did not start"
        try:  # the follow waits in the detector: the other requests are answered meanwhile
            assert call("GET", f"/api/files/{still.id}")[0] == 200
            assert call("GET", f"/api/files/{still.id}/original.jpg")[0] == 200
            assert call("GET", f"/api/files/{video.id}/frames/7/original.jpg")[0] == 200
            assert call("GET", "/api/files")[0] == 200
            assert not followed, "the follow should still be waiting"
        finally:
            gate.set()
        worker.join(120)
    assert followed and followed[0][0] == 200


def test_refused_inputs_are_listed_as_file_results(photo, tmp_path):
    missing = tmp_path / "in" / "gone.png"
    session = Session([photo, missing], tmp_path / "out", mask=SOLID)
    assert [i.source for i in session.items] == [photo]
    assert len(session.refused) == 1
    refused = session.refused[0]
    assert isinstance(refused, FileResult)
    assert refused.source == missing and refused.error == "no such file or folder"
