"""The review server stays light on long videos and large folders: what walks a whole plan
(a video's track list, a file's counts) is worked out once per change of the file, not
for every frame the page shows or every poll of the file list."""

from __future__ import annotations

import json
import urllib.request

from conftest import save
from reviewtools import served
from test_review_state import SOLID, Square, square_clip_session
from test_video_pipeline import make_clip
from veil.review import server as server_module
from veil.review.state import Item, Session
from veil.scan.scanner import Scanner
from veil.settings import ScanSettings


def _client(server):
    def call(method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=data,
                                     method=method,
                                     headers={"X-Veil-Token": server.token,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as res:
            return json.loads(res.read())
    return call


def test_stepping_through_a_video_walks_its_plan_once(tmp_path, monkeypatch):
    session = square_clip_session(tmp_path)
    session.ensure_plan(session.items[0])
    walks = []
    real = server_module._tracks_of
    monkeypatch.setattr(server_module, "_tracks_of", lambda item: walks.append(1) or real(item))
    with served(session) as server:
        call = _client(server)
        infos = [call("GET", f"/api/files/0?frame={f}") for f in range(12)]
        assert all(len(i["tracks"]) == 1 for i in infos)
        assert len(walks) == 1  # one walk for the twelve frames shown
        track = infos[0]["tracks"][0]["track"]
        # an edit changes the file: the next request walks the plan again and sees it
        call("POST", f"/api/files/0/tracks/{track}/split", {"frame": 6})
        after = call("GET", "/api/files/0?frame=7")
        assert len(walks) == 2
        assert [(t["first"], t["last"]) for t in after["tracks"]] == [(0, 5), (6, 11)]
        call("GET", "/api/files/0?frame=8")
        assert len(walks) == 2
        # the page that holds the latest track list is not sent it again with each frame
        held = call("GET", f"/api/files/0?frame=9&have={after['version']}")
        assert "tracks" not in held and held["regions"]
        stale = call("GET", f"/api/files/0?frame=9&have={infos[0]['version']}")
        assert len(stale["tracks"]) == 2


def test_counts_are_worked_out_once_per_change(small_astronaut, tmp_path, monkeypatch):
    for i in range(3):
        save(small_astronaut, tmp_path / "in" / f"p{i}.png")
    session = Session([tmp_path / "in"], tmp_path / "out", mask=SOLID)
    for item in session.items:
        session.ensure_plan(item)
    walks: list[int] = []
    real = Item._counts
    monkeypatch.setattr(Item, "_counts", lambda self: walks.append(self.id) or real(self))
    with served(session) as server:
        call = _client(server)
        first = call("GET", "/api/files")
        for _ in range(3):
            call("GET", "/api/files")
            call("GET", "/api/files/1")
        assert sorted(walks) == [0, 1, 2]
        before = first["files"][1]["counts"]["manual"]
        call("POST", "/api/files/1/regions", {"frame": 0, "box": [1, 1, 20, 20]})
        listed = call("GET", "/api/files")["files"][1]["counts"]
        assert listed["manual"] == before + 1
        assert sorted(walks) == [0, 1, 1, 2]


def test_only_the_last_videos_shown_keep_their_frames_in_memory(tmp_path):
    import numpy as np

    (tmp_path / "in").mkdir()
    for k in range(4):
        make_clip(tmp_path / "in" / f"v{k}.mp4", n=8, audio=None, tags=False)
    session = Session([tmp_path / "in"], tmp_path / "out", mask=SOLID,
                      scanner=Scanner(ScanSettings.fast(target_pixels=1), detector=Square()))
    first = session.original_pixels(session.items[0], 3).copy()
    for item in session.items:
        session.original_pixels(item, 3)
    holding = [it.id for it in session.items if it.frames is not None and it.frames._cached]
    assert holding == [2, 3]  # the two shown last; the others' decoders and caches closed
    # a closed one still answers (it opens again), with the same pixels
    assert np.array_equal(session.original_pixels(session.items[0], 3), first)
    holding = [it.id for it in session.items if it.frames is not None and it.frames._cached]
    assert holding == [0, 3]


def test_stepping_frames_moves_the_playhead_without_redrawing_the_timeline(tmp_path):
    import pytest

    from reviewtools import browser_page, need_browser

    need_browser()
    session = square_clip_session(tmp_path)
    session.ensure_plan(session.items[0])
    with served(session) as server, browser_page() as page:
        page.goto(server.url)
        page.wait_for_function("document.body.dataset.loaded === '0:0:original'")
        page.evaluate("document.querySelector('#timeline .track').dataset.probe = 'kept'")
        for f in (1, 2, 3):
            page.keyboard.press("ArrowRight")
            page.wait_for_function(f"document.body.dataset.loaded === '0:{f}:original'")
        # the same row (not a new one), its playhead moved to frame 3 of 12
        assert page.locator("#timeline .track[data-probe='kept']").count() == 1
        left = page.eval_on_selector("#timeline .playhead", "e => parseFloat(e.style.left)")
        assert left == pytest.approx(100 * 3 / 12)
        # an edit makes a new version of the file: the timeline is drawn again
        page.check("#from-here")
        page.locator("#timeline .track .split-track").click()
        page.wait_for_function("document.querySelectorAll('#timeline .track').length === 2")
        assert page.locator("#timeline .track[data-probe='kept']").count() == 0


def test_an_edit_turns_the_plan_into_json_once_and_saves_it_as_plan_save_does(
        tmp_path, monkeypatch):
    from veil.plan.record import Plan

    session = square_clip_session(tmp_path)
    item = session.items[0]
    session.ensure_plan(item)
    calls = []
    real = Plan.to_dict
    monkeypatch.setattr(Plan, "to_dict", lambda self: calls.append(1) or real(self))
    session.add_region(item, 4, [1, 1, 20, 20])
    assert len(calls) == 1
    monkeypatch.undo()
    saved = item.plan_path.read_bytes()
    Plan.load(item.plan_path).save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == saved


def test_track_thumbnails_are_asked_for_only_when_their_row_is_in_view(tmp_path):
    from reviewtools import browser_page, need_browser

    need_browser()
    session = square_clip_session(tmp_path)
    item = session.items[0]
    session.ensure_plan(item)
    track = item.plan.frame(0).regions[0].track_id
    for f in range(11, 0, -1):  # twelve tracks of one frame each
        session.split_track(item, track, f)
    with served(session) as server, browser_page(height=500) as page:
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/thumb.jpg" in r.url else None)
        page.goto(server.url)
        page.wait_for_function("document.body.dataset.loaded === '0:0:original'")
        assert page.locator("#timeline .track").count() == 12
        page.wait_for_function("document.querySelector('#timeline .track img').src !== ''")
        assert 0 < len(asked) < 12  # the rows in view (and just below), not all twelve
        last = page.locator("#timeline .track img").last
        assert last.get_attribute("src") is None
        last.scroll_into_view_if_needed()
        page.wait_for_function(
            "[...document.querySelectorAll('#timeline .track img')].pop().src !== ''")
        assert len(asked) <= 12 and len(set(asked)) == len(asked)
