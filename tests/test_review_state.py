"""The review session without a browser: plans found or made, edits saved at once, video
frames on demand, and a render that is the one of `veil render`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import save
from test_video_pipeline import make_clip, picture
from veil.cli import main
from veil.detections import Detections
from veil.jobs.batch import JobOptions
from veil.plan.record import Plan
from veil.review.frames import FrameSource
from veil.review.state import EditError, Session, default_plan_dir, read_edit_log
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


@pytest.fixture()
def photo(small_astronaut, tmp_path):
    return save(small_astronaut, tmp_path / "in" / "a.png")


def test_a_file_without_plan_is_scanned_once_and_its_plan_saved(photo, tmp_path):
    session = Session([photo], tmp_path / "out", mask=SOLID)
    item = session.items[0]
    assert session.plan_dir == default_plan_dir(tmp_path / "out") == tmp_path / "out-plans"
    assert item.plan_path == tmp_path / "out-plans" / "a.png.veil.json"
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
    session.change_region(item, 0, 1, box=[12, 14, 50, 60])
    assert Plan.load(item.plan_path).frame(0).regions[1].box == (12, 14, 50, 60)
    session.change_region(item, 0, 0, released=True, reason="  agreed,\n on camera ")
    assert Plan.load(item.plan_path).frame(0).regions[0].released
    session.delete_region(item, 0, 1)
    assert len(Plan.load(item.plan_path).frame(0).regions) == 1
    log = read_edit_log(item.log_path)
    assert [e["action"] for e in log] == ["add", "move", "release", "delete"]
    assert log[2]["reason"] == "agreed, on camera"
    assert log[3]["provenance"] == "manual" and all("at" in e for e in log)
    assert item.state == "edited"
    # no temporary file is left beside the plan
    assert sorted(p.name for p in item.plan_path.parent.iterdir()) == [
        "a.png.veil.json", "a.png.veil.json.review.json"]


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
    assert not item.log_path.exists()


def test_a_plan_for_another_file_is_not_used(photo, tmp_path, small_astronaut):
    session = Session([photo], tmp_path / "out")
    session.ensure_plan(session.items[0])
    save(small_astronaut[::-1], photo)  # the file changed since its plan was made
    again = Session([photo], tmp_path / "out")
    with pytest.raises(EditError, match="different file"):
        again.ensure_plan(again.items[0])
    assert again.items[0].state == "error"


def test_render_is_byte_identical_to_veil_render(photo, tmp_path):
    session = Session([photo], tmp_path / "out", mask=SOLID,
                      options=JobOptions(mask=SOLID, verify=False))
    item = session.items[0]
    session.ensure_plan(item)
    session.add_region(item, 0, [10, 10, 60, 50])
    result = session.render(item)
    assert result.ok and item.state == "rendered"
    cli = CliRunner().invoke(main, ["render", str(item.plan_path), str(photo), "-o",
                                    str(tmp_path / "cli"), "--no-verify"])
    assert cli.exit_code == 0, cli.output
    assert (tmp_path / "out" / "a.png").read_bytes() == (tmp_path / "cli" / "a.png").read_bytes()


def test_video_tracks_released_and_deleted_whole(tmp_path):
    (tmp_path / "in").mkdir()
    clip = make_clip(tmp_path / "in" / "sq.mp4", n=12, audio=None, tags=False)
    session = Session([clip], tmp_path / "out", mask=SOLID,
                      scanner=Scanner(ScanSettings.fast(target_pixels=1), detector=Square()))
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
    session.delete_track(item, track)
    assert Plan.load(item.plan_path).region_count() == 0
    with pytest.raises(EditError, match="no track"):
        session.delete_track(item, track)
    assert [e["action"] for e in read_edit_log(item.log_path)] == ["release", "delete"]


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
