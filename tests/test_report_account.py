"""The report accounts for every face (issue 9, items 6, 7 and 14): faces released on
purpose and regions deleted by hand have their own section, a face the user's plan does
not hold is masked and said so, and report.html leads with a plain verdict, keeps long
paths inside the page and tells identifying metadata from structural fields."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import face_box, read_rgb, save
from veil.cli import main
from veil.plan.record import MediaInfo, Plan, Region
from veil.plan.still import image_media_info
from veil.report.html_report import render_html
from veil.report.json_report import (
    ReportEntry,
    build_report,
    frame_ranges,
    region_groups,
)
from veil.verify.check import Verification


def _veil(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stderr


def test_frame_ranges_collapse() -> None:
    assert frame_ranges([9, 3, 4, 5, 5, 11, 12]) == [[3, 5], [9, 9], [11, 12]]
    assert frame_ranges([]) == []


def test_released_track_is_one_face_with_its_frames() -> None:
    plan = Plan(MediaInfo("v.mp4", "c" * 64, "video", 320, 240, frame_count=20, fps=10.0))
    for f in (3, 4, 5, 9):
        plan.add_region(f, Region((10 + f, 20, 50 + f, 70), track_id=7, released=True,
                                  reason="interviewee consented" if f == 4 else None))
        plan.add_region(f, Region((200, 20, 240, 70), track_id=8))
    plan.add_region(6, Region((100, 100, 120, 120), provenance="deleted",
                              edited_at="2026-11-30T10:00:00+00:00", reason="a poster"))
    entry = ReportEntry.for_files(Path("v.mp4"), None, plan=plan)
    assert entry.account() == {"faces_masked": 1, "faint_tracks": 0, "released": 1,
                               "deleted": 1}
    assert entry.released == [{"box": [13, 20, 59, 70], "frames": [[3, 5], [9, 9]],
                               "track": 7, "reason": "interviewee consented",
                               "edited_at": None}]
    assert entry.deleted[0]["frames"] == [[6, 6]] and entry.deleted[0]["reason"] == "a poster"
    d = entry.to_dict()
    assert d["faces_by_provenance"]["detected"] == 4  # masked regions only
    assert d["released_regions"] == entry.released and d["deleted_regions"] == entry.deleted
    assert len(region_groups(plan, lambda r: r.masked)) == 1


def test_released_face_is_in_the_report_and_the_verdict(tmp_path: Path,
                                                        small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    plan = Plan(image_media_info(src, 256, 256))
    plan.add_region(0, Region(face_box(256), released=True, provenance="manual",
                              reason="she agreed to be shown"))
    path = tmp_path / "x.veil.json"
    plan.save(path)
    code, err = _veil("render", path, src, "-o", tmp_path / "out")
    assert code == 0, err
    x1, y1, x2, y2 = face_box(256)
    out = read_rgb(tmp_path / "out" / "x.png")
    assert np.array_equal(out[y1:y2, x1:x2], small_astronaut[y1:y2, x1:x2])  # left visible
    report = json.loads((_render_report(tmp_path) / "report.json").read_text())
    entry = report["files"][0]
    assert entry["passed"] and entry["released"] == 1 and entry["faces_masked"] == 0
    assert entry["released_regions"][0]["reason"] == "she agreed to be shown"
    assert entry["released_regions"][0]["box"] == list(face_box(256))
    assert report["summary"]["released"] == 1
    page = (_render_report(tmp_path) / "report.html").read_text()
    assert ("safe to publish: every face we found is masked, except 1 face left visible "
            "on purpose") in page
    assert "0 faces masked, 1 left visible on purpose." in page
    assert "Left visible on purpose" in page and "she agreed to be shown" in page


def test_face_missing_from_an_edited_plan_is_masked_and_said(tmp_path: Path,
                                                             small_astronaut: np.ndarray
                                                             ) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    path = tmp_path / "x.veil.json"
    Plan(image_media_info(src, 256, 256)).save(path)  # the face was removed from the plan
    code, err = _veil("render", path, src, "-o", tmp_path / "out")
    assert code == 0, err
    lines = [line for line in err.splitlines() if "does not hold" in line]
    assert len(lines) == 1 and '"released": true' in lines[0]
    assert lines[0].startswith("veil: ") and str(src) in lines[0]
    report = json.loads((_render_report(tmp_path) / "report.json").read_text())
    notes = report["files"][0]["notes"]
    assert len(notes) == 1 and "masked it" in notes[0]
    page = (_render_report(tmp_path) / "report.html").read_text()
    assert "does not hold" in page


def test_a_fresh_scan_has_no_such_warning(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    code, err = _veil(src, "-o", tmp_path / "out")
    assert code == 0, err
    assert "does not hold" not in err


def _entry(name: str, left: list[str], flagged: list[str], passed: bool) -> ReportEntry:
    v = Verification(kind="video", passed=passed, metadata_left=left,
                     metadata_flagged=flagged, checks={"residual": "pass", "reid": "pass",
                     "metadata": "fail" if flagged else "pass"},
                     reasons=[] if passed else ["metadata left in the output: " +
                                                ", ".join(flagged)])
    return ReportEntry(input=Path(name), output=Path("out") / name, kind="video",
                       verification=v)


def _report(entries: list[ReportEntry]) -> dict:
    return build_report(entries, settings={}, tool_version="0")


STRUCTURAL = ["container:major_brand", "container:minor_version",
              "container:compatible_brands", "video:handler_name"]


def test_html_tells_identifying_from_structural_metadata() -> None:
    page = render_html(_report([_entry("a.mp4", STRUCTURAL, [], True)]), [None])
    row = page.split("<tr><td><span")[1].split("</tr>")[0]
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
    assert cells[-3:-1] == ["0", "4"]  # identifying left: 0, structural: 4
    card = page.split("<section")[1]
    assert "Identifying metadata left: none" in card
    assert "Structural fields kept" in card and "container:major_brand" in card


def test_html_leads_with_a_plain_verdict() -> None:
    ok = [_entry(f"{i}.mp4", STRUCTURAL, [], True) for i in range(12)]
    page = render_html(_report(ok), [None] * 12)
    lead = page.split("class='verdict")[1].split("</div>")[0]
    assert ("All 12 files are safe to publish: every face we found is masked and no "
            "identifying metadata is left.") in lead
    bad = [*ok[:11], _entry("gps.mp4", ["container:location"], ["container:location"],
                            False)]
    page = render_html(_report(bad), [None] * 12)
    lead = page.split("class='verdict")[1].split("</div>")[0]
    assert "Do not publish yet: 1 of 12 files failed" in lead
    assert "1 file still holds identifying metadata" in lead and "render it again" in lead
    assert "The 11 files that passed are safe to publish." in lead
    assert page.index("class='verdict") < page.index("<table")  # engineering detail below


def test_a_file_that_could_not_be_read_gets_no_advice_about_masks() -> None:
    """A text file named .jpg has no output, plan or face: the verdict says it could not be
    processed and how to retry, not how to re-render a failed output."""
    ok = _entry("a.mp4", STRUCTURAL, [], True)
    unreadable = ReportEntry(input=Path("notes.jpg"), error="not an image file")
    page = render_html(_report([ok, unreadable]), [None, None])
    lead = page.split("class='verdict")[1].split("</div>")[0]
    assert "Do not publish yet: 1 of 2 files could not be processed." in lead
    assert "--retry-failed" in lead and "The 1 file that passed is safe to publish." in lead
    for wrong in ("render it again", "verification-failed", "failed the check"):
        assert wrong not in lead
    assert "1 error," in page and "1 errors" not in page


def test_long_paths_stay_inside_1280_px(tmp_path: Path) -> None:
    """Laid out by a real browser (Debian's chromium, headless): the page is no wider than
    a 1280 px window. A probe script is added to a copy of the page (the report itself
    has none) to read the laid-out width."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    deep = ("/".join(["a-rather-long-folder-name-from-a-camera-card"] * 8)
            + "/clip_without_any_breaks_in_its_name_at_all_0000000000000001.mp4")
    page = render_html(_report([_entry(deep, STRUCTURAL, [], True),
                                _entry("b.mp4", STRUCTURAL, [], True)]), [None, None])
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", "<script>document.title='W'+"
                                  "document.documentElement.scrollWidth</script></body>"))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--window-size=1280,900", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r"<title>W(\d+)</title>", dom)
    assert found, dom[-500:]
    assert int(found.group(1)) <= 1280


def test_unplanned_note_wording() -> None:
    from veil.jobs.repair import unplanned_note

    one = [{"frame": 0, "box": [10.0, 20.0, 50.0, 70.0]}]
    assert unplanned_note(one, "image").startswith(
        "verification found 1 visible face that the plan does not hold (at x 10-50, y 20-70) "
        "and masked it;")
    video = [{"frame": f, "box": [10.0, 20.0, 50.0, 70.0]} for f in (12, 17, 22)]
    text = unplanned_note(video, "video")
    assert text.startswith("verification found a face visible in 3 checked frames, first in "
                           "frame 12 at x 10-50, y 20-70")
    assert text.endswith('mark its region "released": true in the plan')


def _render_report(tmp_path: Path) -> Path:
    """The folder of the one render report written beside ``out`` (``out.veil/renders/*``)."""
    (folder,) = (tmp_path / "out.veil" / "renders").iterdir()
    return folder
