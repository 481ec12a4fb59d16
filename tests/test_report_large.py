"""report.html of a big batch: above a number of files its thumbnails are files in a
folder beside it (referred to by relative path), so that the page stays small; up to
that number they are embedded (one self-contained file). report.json is the same."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from veil.report.html_report import INLINE_THUMBNAILS_MAX, THUMBNAIL_FOLDER
from veil.report.json_report import ReportEntry, write_report
from veil.settings import MaskSettings
from verify_media import image_plan, write_masked


@pytest.fixture(scope="module")
def entries(tmp_path_factory: pytest.TempPathFactory) -> list[ReportEntry]:
    from veil.jobs.check_pair import verify_file

    d = tmp_path_factory.mktemp("large")
    original = write_masked(d / "original.png", None)
    masked = write_masked(d / "masked.png", MaskSettings())
    return [verify_file(original, masked, image_plan()),
            ReportEntry.for_files(original, masked, plan=image_plan()),  # no thumbnail
            verify_file(original, masked, image_plan())]


def _json(path: Path) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.pop("created")
    return doc


def test_small_batch_embeds_its_thumbnails(tmp_path: Path, entries: list[ReportEntry]) -> None:
    assert len(entries) <= INLINE_THUMBNAILS_MAX
    _, html_path = write_report(entries, tmp_path, settings={}, tool_version="1")
    page = html_path.read_text(encoding="utf-8")
    assert page.count("src='data:image/jpeg;base64,") == 2
    assert THUMBNAIL_FOLDER not in page
    assert not (tmp_path / THUMBNAIL_FOLDER).exists()


def test_big_batch_writes_thumbnails_beside_the_page(tmp_path: Path,
                                                     entries: list[ReportEntry]) -> None:
    small = tmp_path / "small"
    small.mkdir()
    write_report(entries, small, settings={}, tool_version="1")
    big = tmp_path / "big"
    big.mkdir()
    json_path, html_path = write_report(entries, big, settings={}, tool_version="1",
                                        inline_max=2)
    page = html_path.read_text(encoding="utf-8")
    assert "data:image" not in page
    srcs = re.findall(r"<img [^>]*src='([^']+)'", page)
    assert srcs == [f"{THUMBNAIL_FOLDER}/000000.jpg", f"{THUMBNAIL_FOLDER}/000002.jpg"]
    folder = big / THUMBNAIL_FOLDER
    assert sorted(p.name for p in folder.iterdir()) == ["000000.jpg", "000002.jpg"]
    for i, name in ((0, "000000.jpg"), (2, "000002.jpg")):
        data = (folder / name).read_bytes()
        assert data == entries[i].verification.thumbnail()
        with Image.open(folder / name) as im:
            assert im.format == "JPEG"
    assert "http" not in page.lower()
    # The page is much smaller than the self-contained one; the JSON is the same.
    assert html_path.stat().st_size < (small / "report.html").stat().st_size - 10_000
    assert _json(json_path) == _json(small / "report.json")
    # No staging folder is left behind.
    assert sorted(p.name for p in big.iterdir()) == [THUMBNAIL_FOLDER, "report.html",
                                                     "report.json"]


def test_a_later_report_replaces_the_thumbnail_folder(tmp_path: Path,
                                                       entries: list[ReportEntry]) -> None:
    write_report(entries, tmp_path, settings={}, tool_version="1", inline_max=0)
    folder = tmp_path / THUMBNAIL_FOLDER
    (folder / "999999.jpg").write_bytes(b"stale")
    write_report(entries[:1], tmp_path, settings={}, tool_version="1", inline_max=0)
    assert sorted(p.name for p in folder.iterdir()) == ["000000.jpg"]
    # back under the threshold: the page is self-contained again, the folder goes
    write_report(entries, tmp_path, settings={}, tool_version="1")
    assert not folder.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json"]
