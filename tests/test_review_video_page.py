"""The review page with a video, in a real browser: the player shows the plan's regions on
the current frame, the timeline its tracks; a track is deleted, a face drawn on one frame
becomes a track that follows it, and the render from the page masks it in every frame."""

from __future__ import annotations

import av
import pytest

from reviewtools import browser_page, drag, need_browser, screenshot, served
from test_review_follow import H, W, covered, drawn_at, face_clip
from veil.jobs.batch import JobOptions
from veil.plan.record import Plan
from veil.review.state import Session
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings

N = 20
SOLID = MaskSettings(method="solid")
pytestmark = pytest.mark.slow


def _wait_edits(page, n):
    page.wait_for_function(f"document.body.dataset.edits === '{n}'", timeout=120000)


def _loaded(page, frame):
    page.wait_for_function(f"document.body.dataset.loaded === '0:{frame}:original'",
                           timeout=60000)


def test_video_review_end_to_end(astronaut, tmp_path):
    need_browser()
    (tmp_path / "in").mkdir()
    clip = face_clip(tmp_path / "in" / "face.mp4", astronaut, n=N)
    scanner = Scanner(ScanSettings())
    session = Session([clip.parent], tmp_path / "out", mask=SOLID, scanner=scanner,
                      options=JobOptions(mask=SOLID, verify=True))
    item = session.items[0]
    plan = session.ensure_plan(item)
    detected = {f: [r.box for r in fp.regions] for f, fp in plan.frames.items()}
    assert len(detected) == N
    with served(session) as server, browser_page() as page:
        page.goto(server.url)
        _loaded(page, 0)
        assert page.locator("#timeline .track").count() == 1
        assert page.locator("#overlay .region").count() == 1
        page.keyboard.press("ArrowRight")
        _loaded(page, 1)
        assert page.inner_text("#frame-label") == f"frame 1 / {N - 1}"
        assert page.locator("#overlay .region").count() == 1

        # keep the track visible from this frame on, with a reason
        page.fill("#reason", "the speaker, who agreed")
        page.check("#from-here")
        page.locator("#timeline .track button", has_text="Keep visible").click()
        _wait_edits(page, 1)
        kept = Plan.load(item.plan_path)
        released = sorted(f for f, fp in kept.frames.items() for r in fp.regions if r.released)
        assert released == list(range(1, N))
        assert "the speaker, who agreed" in page.inner_text(".region.released .label")
        page.uncheck("#from-here")

        # delete the whole track from the timeline
        page.locator("#timeline .track .delete-track").click()
        _wait_edits(page, 2)
        assert page.locator("#timeline .track").count() == 0
        assert page.locator("#overlay .region").count() == 0

        # draw the face on frame 3: it becomes a manual track that follows the face
        # backwards to frame 0 and forwards to the clip's end
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        _loaded(page, 3)
        box = drawn_at(detected[3][0])
        drag(page, W, H, (box[0], box[1]), (box[2], box[3]))
        _wait_edits(page, 3)
        assert page.locator("#timeline .track").count() == 1
        assert page.locator("#timeline .run.prov-manual").count() >= 1
        assert page.locator("#overlay .region[data-provenance='manual']").count() == 1
        assert page.inner_text("#timeline .track .meta").startswith(f"#1 · frames 0–{N - 1}")
        for _ in range(3):
            page.keyboard.press("ArrowLeft")
        _loaded(page, 0)
        assert page.locator("#overlay .region[data-provenance='manual']").count() == 1

        # split the track in two at frame 10, then merge the two back into one
        page.locator("#seek").fill("10")
        page.locator("#seek").dispatch_event("change")
        _loaded(page, 10)
        page.locator("#timeline .track .split-track").click()
        _wait_edits(page, 4)
        metas = page.locator("#timeline .track .meta").all_inner_texts()
        assert [m.split(" · ")[1] for m in metas] == ["frames 0–9", f"frames 10–{N - 1}"]
        page.wait_for_function("[...document.querySelectorAll('#timeline .track img')]"
                               ".every((i) => i.complete && i.naturalWidth > 0)", timeout=30000)
        screenshot(page, "review-video-followed.png")
        assert page.evaluate("document.getElementById('merge').disabled")
        for pick in page.locator("#timeline .track .merge-pick input").all():
            pick.check()
        page.locator("#merge").click()
        _wait_edits(page, 5)
        assert page.locator("#timeline .track").count() == 1
        assert page.inner_text("#timeline .track .meta").split(" · ")[1] == f"frames 0–{N - 1}"

        # cut the track at frame 15 with the keyboard: it ends there
        page.locator("#seek").fill("15")
        page.locator("#seek").dispatch_event("change")
        _loaded(page, 15)
        page.locator("#overlay .region[data-provenance='manual']").click()
        page.keyboard.press("c")
        _wait_edits(page, 6)
        assert page.inner_text("#timeline .track .meta").split(" · ")[1] == "frames 0–15"
        page.keyboard.press("ArrowRight")
        _loaded(page, 16)
        assert page.locator("#overlay .region").count() == 0
        assert page.locator("#overlay .region-deleted").count() == 2  # records, not masks

        page.locator("#render").click()
        # verified, or verified after a self-repair: the verifier masks a face it finds
        # after the cut (only a face kept visible is left visible)
        page.wait_for_selector("#files li[data-state='verified'], #files li[data-state='failed']",
                               timeout=300000)
        assert page.errors == []  # type: ignore[attr-defined]

    saved = Plan.load(item.plan_path)
    manual = {f: r.box for f, fp in saved.frames.items() for r in fp.regions
              if r.provenance == "manual"}
    assert sorted(manual) == list(range(16))
    assert {r.provenance for fp in saved.frames.values() for r in fp.regions} == {
        "manual", "deleted"}
    assert {r.track_id for fp in saved.frames.values() for r in fp.regions
            if r.provenance == "manual"} == {1}
    for f in range(16):  # the followed box holds the face the detector found
        assert covered(manual[f], detected[f][0]) >= 0.9, f

    with av.open(str(tmp_path / "out" / "face.mp4")) as c:
        frames = [fr.to_ndarray(format="rgb24") for fr in c.decode(video=0)]
    assert len(frames) == N
    for f, rgb in enumerate(frames):
        x1, y1, x2, y2 = (int(v) for v in detected[f][0])
        inside = rgb[y1 + 4:y2 - 4, x1 + 4:x2 - 4].astype(float)
        if f <= 15:
            assert inside.std(axis=(0, 1)).max() < 12, f"frame {f}: the face is not masked"
