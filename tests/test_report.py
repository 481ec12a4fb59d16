"""report.json schema, report.html self-containment, and no original face pixels in it."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from veil.jobs.check_pair import pair_files, verify_file, verify_paths
from veil.report.json_report import REPORT_FORMAT, ReportEntry, write_report
from veil.settings import MaskSettings
from verify_media import FACE_BOX, image_plan, write_masked

FILE_KEYS = {"input", "output", "kind", "input_sha256", "output_sha256", "status", "passed",
             "faces_by_provenance", "verification", "timings", "error", "repair",
             "faces_masked", "faint_tracks", "released", "deleted", "released_regions",
             "deleted_regions",
             "notes"}
VERIFICATION_KEYS = {"passed", "reasons", "checks", "kind", "with_plan", "frames_checked",
                     "frames_total", "residual_faces", "reid", "metadata", "fidelity", "seconds"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    original = write_masked(d / "original.png", None)
    masked = write_masked(d / "masked.png", MaskSettings())
    unmasked = write_masked(d / "unmasked.png", None)
    entries = [
        verify_file(original, masked, image_plan()),
        verify_file(original, unmasked, image_plan()),
        verify_file(original, d / "missing.png"),
        ReportEntry.for_files(original, masked, plan=image_plan()),  # --no-verify
    ]
    json_path, html_path = write_report(entries, d / "out", settings={"method": "blur"},
                                        tool_version="9.9.9")
    return {"dir": d, "entries": entries, "json": json_path, "html": html_path,
            "original": original, "masked": masked, "unmasked": unmasked}


def test_statuses(report):
    assert [e.status for e in report["entries"]] == ["pass", "fail", "error", "unverified"]


def test_json_schema(report):
    data = json.loads(report["json"].read_text(encoding="utf-8"))
    assert data["format"] == REPORT_FORMAT
    assert data["tool"] == {"name": "veil", "version": "9.9.9"}
    assert data["settings"] == {"method": "blur"}
    assert isinstance(data["created"], str)
    assert set(data["reid_calibration"]) == {"threshold", "different_pairs",
                                             "false_match_rate_at_threshold", "date"}
    assert data["summary"] == {"verdict": "fail", "files": 4, "pass": 1, "fail": 1,
                               "error": 1, "unverified": 1, "faces_masked": 3,
                               "faint_tracks": 0, "released": 0, "deleted": 0,
                               "files_with_identifying_metadata": 0}
    for f in data["files"]:
        assert set(f) == FILE_KEYS
        assert set(f["faces_by_provenance"]) == {"detected", "interpolated", "extended",
                                                 "manual", "deleted"}
        assert f["status"] in {"pass", "fail", "error", "unverified"}
        assert f["passed"] == (f["status"] == "pass")
    ok, bad, err, unverified = data["files"]
    assert re.fullmatch(r"[0-9a-f]{64}", ok["input_sha256"])
    assert re.fullmatch(r"[0-9a-f]{64}", ok["output_sha256"])
    assert ok["faces_by_provenance"]["detected"] == 1
    assert set(ok["verification"]) == VERIFICATION_KEYS
    assert set(ok["verification"]["checks"]) == {"residual", "reid", "metadata"}
    assert set(ok["verification"]["reid"]) == {"threshold", "min_face_side",
                                               "reference_margin", "faces"}
    assert set(ok["verification"]["metadata"]) == {"before", "left", "flagged",
                                                   "structural"}
    face = ok["verification"]["reid"]["faces"][0]
    assert set(face) == {"frame", "box", "distance", "solid_reference", "reidentifiable"}
    assert face["solid_reference"] is None  # over the threshold: no reference needed
    assert ok["repair"] is None
    bad_face = bad["verification"]["reid"]["faces"][0]
    assert bad_face["reidentifiable"] and bad_face["solid_reference"] > bad_face["distance"]
    res = bad["verification"]["residual_faces"][0]
    assert set(res) == {"frame", "box", "detector", "score", "masked_share"}
    assert bad["verification"]["reasons"]
    assert err["error"] and err["verification"] is None and err["output_sha256"] is None
    assert unverified["verification"] is None and unverified["error"] is None


def test_html_is_self_contained(report):
    text = report["html"].read_text(encoding="utf-8")
    assert "http" not in text.lower()
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "@import" not in text and "url(" not in text
    srcs = re.findall(r"""src\s*=\s*['"]([^'"]*)""", text, flags=re.I)
    assert srcs and all(s.startswith("data:image/") for s in srcs)
    assert "Do not publish yet: 2 of 4 files failed" in text and "original.png" in text


def test_report_files_are_readable_and_complete(report):
    assert report["json"].stat().st_mode & 0o044  # not left as a private temp file
    assert not list(report["json"].parent.glob(".*partial*"))


def _thumbnails(html_text: str) -> list[np.ndarray]:
    out = []
    for uri in re.findall(r"src='data:image/jpeg;base64,([^']*)'", html_text):
        data = base64.b64decode(re.sub(r"\s", "", uri))
        out.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(float))
    return out


def _face_area(img: np.ndarray, scale: float) -> np.ndarray:
    x1, y1, x2, y2 = (int(round(v * scale)) for v in FACE_BOX)
    return img[y1 + 6:y2 - 6, x1 + 6:x2 - 6]


def test_no_original_face_pixels_in_html(report):
    thumbs = _thumbnails(report["html"].read_text(encoding="utf-8"))
    assert len(thumbs) == 2  # the two verified files
    passed, failed = thumbs
    scale = passed.shape[1] / 512

    def small(path):
        im = Image.open(path).convert("RGB").resize(passed.shape[1::-1], Image.BILINEAR)
        return np.asarray(im).astype(float)

    original = _face_area(small(report["original"]), scale)
    output = _face_area(small(report["masked"]), scale)
    shown = _face_area(passed, scale)
    # The thumbnail's face area is the masked output's, far from the original face.
    assert np.abs(shown - output).mean() < 12
    assert np.abs(shown - original).mean() > 2 * np.abs(shown - output).mean()
    # An output that still shows the face: the report covers it instead of repeating it.
    shown_bad = _face_area(failed, scale)
    assert np.abs(shown_bad - original).mean() > 30
    assert shown_bad.std() < 10


def test_verify_paths_pairs_folders_and_writes_report(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "a").mkdir(parents=True)
    (out / "a").mkdir(parents=True)
    write_masked(src / "a" / "x.png", None)
    write_masked(out / "a" / "x.jpg", MaskSettings())   # same stem, other format
    write_masked(src / "lonely.png", None)              # no output for it
    pairs = pair_files(src, out)
    assert [(p.name, q.name if q else None) for p, q in pairs] == [("x.png", "x.jpg"),
                                                                   ("lonely.png", None)]
    entries, paths = verify_paths(src, out, report_dir=tmp_path / "rep", tool_version="1",
                                  reid=False)
    assert [e.status for e in entries] == ["pass", "error"]
    assert paths is not None and all(p.is_file() for p in paths)
