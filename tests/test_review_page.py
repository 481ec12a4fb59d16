"""The review page end to end, in a real browser (Debian's chromium, driven by playwright):
open a photo, see its regions, add, move, resize and delete regions, keep a face visible,
render and verify from the page, and check the output's pixels against the saved plan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import read_rgb, save
from reviewtools import browser_page, drag, need_browser, screenshot, served
from veil.jobs.batch import JobOptions
from veil.plan.record import Plan
from veil.render.masks import expand_boxes
from veil.review.state import Session
from veil.settings import MaskSettings

SOLID = MaskSettings(method="solid")
pytestmark = pytest.mark.slow


@pytest.fixture()
def two_faces(small_astronaut, tmp_path):
    """A 512x256 PNG holding the astronaut twice (two faces about 45 px wide)."""
    pixels = np.concatenate([small_astronaut, small_astronaut[:, ::-1]], axis=1)
    return save(np.ascontiguousarray(pixels), tmp_path / "in" / "pair.png")


def _regions(page):
    return page.eval_on_selector_all(
        "#overlay .region:not(.drawing)",
        "els => els.map(e => ({prov: e.dataset.provenance, released: e.dataset.released,"
        " index: Number(e.dataset.index)}))")


def _wait_regions(page, n):
    page.wait_for_function(
        f"document.querySelectorAll('#overlay .region:not(.drawing)').length === {n}",
        timeout=20000)


def _wait_edits(page, n):
    page.wait_for_function(f"document.body.dataset.edits === '{n}'", timeout=60000)


def test_photo_review_end_to_end(two_faces, tmp_path):
    need_browser()
    out = tmp_path / "out"
    session = Session([two_faces.parent], out, mask=SOLID,
                      options=JobOptions(mask=SOLID, verify=True))
    item = session.items[0]
    W, H = 512, 256
    with served(session) as server, browser_page() as page:
        page.goto(server.url)
        # the token leaves the address bar at once
        page.wait_for_function("document.body.dataset.loaded === '0:0:original'")
        assert "token" not in page.url
        _wait_regions(page, 2)
        regions = _regions(page)
        assert [r["prov"] for r in regions] == ["detected", "detected"]

        # add a region on the background (a patch the detector did not find)
        drag(page, W, H, (20, 180), (70, 230))
        _wait_edits(page, 1)
        _wait_regions(page, 3)
        assert sorted(r["prov"] for r in _regions(page)) == ["detected", "detected", "manual"]

        # add one more, then select it and delete it with the keyboard
        drag(page, W, H, (300, 190), (340, 240))
        _wait_edits(page, 2)
        _wait_regions(page, 4)
        page.locator("#overlay .region[data-index='3']").click()
        page.keyboard.press("Delete")
        _wait_edits(page, 3)
        _wait_regions(page, 3)

        # move the manual region by its body, then resize it by its corner
        manual = page.locator("#overlay .region[data-provenance='manual']")
        manual.click()
        drag(page, W, H, (45, 205), (55, 210))                # +10, +5
        _wait_edits(page, 4)
        plan_box = lambda: [r.box for r in Plan.load(item.plan_path).frame(0).regions  # noqa: E731
                            if r.provenance == "manual"][0]
        _wait_for(lambda: abs(plan_box()[0] - 30) < 1.5, "the moved box was not saved")
        assert abs(plan_box()[1] - 185) < 1.5
        drag(page, W, H, (80, 235), (90, 240))                # bottom-right corner: +10, +5
        _wait_edits(page, 5)
        _wait_for(lambda: abs(plan_box()[2] - 90) < 1.5, "the resized box was not saved")
        assert abs(plan_box()[3] - 240) < 1.5 and abs(plan_box()[0] - 30) < 1.5

        # keep the right-hand face visible, with a reason
        saved = Plan.load(item.plan_path).frame(0).regions
        right = max((i for i, r in enumerate(saved) if r.provenance == "detected"),
                    key=lambda i: saved[i].box[0])
        page.fill("#reason", "consented on 12 May")
        page.locator(f"#overlay .region[data-index='{right}']").click()
        page.keyboard.press("k")
        _wait_edits(page, 6)
        page.wait_for_function("document.querySelectorAll('.region.released').length === 1")
        assert "consented on 12 May" in page.inner_text(".region.released .label")
        screenshot(page, "review-photo-edited.png")

        # the masked preview hides the regions' outlines and shows the masked picture
        page.keyboard.press("m")
        page.wait_for_function("document.body.dataset.loaded === '0:0:preview'")
        assert page.locator("#overlay .region").count() == 0
        screenshot(page, "review-photo-preview.png")
        page.keyboard.press("m")
        page.wait_for_function("document.body.dataset.loaded === '0:0:original'")

        # render and verify from the page
        page.keyboard.press("r")
        page.wait_for_selector("#files li[data-state='verified']", timeout=240000)
        assert "verified" in page.inner_text("#files li .verdict")
        assert not page.evaluate("document.getElementById('open-report').disabled")
        assert page.errors == []  # type: ignore[attr-defined]

    # every edit is in the plan on disk, with who did what as provenance, and the output
    # follows the plan
    plan = Plan.load(item.plan_path)
    regions = plan.frame(0).regions
    assert sorted((r.provenance, r.released) for r in regions) == [
        ("deleted", False), ("detected", False), ("detected", True), ("manual", False)]
    kept = [r for r in regions if r.released][0]
    assert kept.reason == "consented on 12 May" and kept.edited_at
    assert all(r.edited_at for r in regions if r.provenance in ("manual", "deleted"))
    assert not (item.plan_path.parent / (item.plan_path.name + ".review.json")).exists()
    report = json.loads((session.report_dir / "report.json").read_text())
    assert [f["status"] for f in report["files"]] == ["pass"]

    original, output = read_rgb(two_faces), read_rgb(out / "pair.png")
    active = np.asarray([r.box for r in regions if r.masked], np.float32)
    grown = expand_boxes(active, plan.mask.margin, 1.0)
    covered = np.zeros((H, W), bool)
    for x1, y1, x2, y2 in grown:
        top, left = max(0, int(y1) - 1), max(0, int(x1) - 1)
        covered[top:int(np.ceil(y2)) + 1, left:int(np.ceil(x2)) + 1] = True
    changed = np.any(original != output, axis=-1)
    assert not changed[~covered].any(), "pixels changed outside the plan's regions"
    for x1, y1, x2, y2 in active.astype(int):
        assert changed[y1 + 2:y2 - 2, x1 + 2:x2 - 2].mean() > 0.9, "a region was not masked"
    released = [r.box for r in regions if r.released][0]
    x1, y1, x2, y2 = (int(v) for v in released)
    assert not changed[y1:y2, x1:x2].any(), "the face kept visible was masked"


def _wait_for(check, message, seconds=10.0):
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if check():
                return
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.1)
    raise AssertionError(message)
