"""The ``veil`` command end to end, on real face pictures built in ``tmp_path``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import face_box, read_rgb, save
from veil.cli import main


def run(*args: str | Path) -> tuple[int, str, str]:
    """Run ``veil ARGS`` in this process; return exit code, stdout, stderr."""
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _face_diff(a: np.ndarray, b: np.ndarray, size: int) -> float:
    x1, y1, x2, y2 = face_box(size)
    return float(np.abs(a[y1:y2, x1:x2].astype(int) - b[y1:y2, x1:x2].astype(int)).mean())


@pytest.fixture()
def holiday(tmp_path: Path, small_astronaut: np.ndarray) -> Path:
    """A folder with nested subfolders, a hidden file and a non-image file."""
    root = tmp_path / "holiday"
    save(small_astronaut, root / "top.png")
    save(small_astronaut, root / "beach" / "1.jpg", quality=95)
    save(small_astronaut, root / "beach" / "day2" / "2.webp", lossless=True)
    save(small_astronaut, root / ".secret.jpg")
    (root / "notes.txt").write_text("not a picture")
    return root


def test_folder_mirrored_and_faces_masked(holiday: Path, tmp_path: Path,
                                          small_astronaut: np.ndarray) -> None:
    code, _, err = run(holiday, "-o", tmp_path / "safe")
    assert code == 0, err
    # The output folder holds only the publishable copies: no report, no plan.
    outs = sorted(str(p.relative_to(tmp_path / "safe"))
                  for p in (tmp_path / "safe").rglob("*") if p.is_file())
    assert outs == ["beach/1.jpg", "beach/day2/2.webp", "top.png"]
    for rel in outs:
        assert _face_diff(read_rgb(tmp_path / "safe" / rel), small_astronaut, 256) > 15, rel
    report = tmp_path / "safe.veil" / "report" / "report.json"
    (summary,) = [ln for ln in err.splitlines() if "written to" in ln]
    assert "3 of 3 files written to" in summary and "(all verified)" in summary
    assert "3 faces masked" in summary and f"report: {report}" in summary
    assert "2 skipped (1 hidden, 1 not images or videos; named in the report)" in summary
    assert "--include-hidden" in summary and " in, " in summary and " out" in summary
    assert not list((tmp_path / "safe").rglob(".*"))  # no temporary files left
    doc = json.loads(report.read_text())
    assert sorted((Path(s["path"]).name, s["reason"]) for s in doc["skipped"]) == \
        [(".secret.jpg", "hidden"), ("notes.txt", "not an image or video")]
    # A second run into the same folder does not replace that report silently.
    more = save(small_astronaut, tmp_path / "more" / "m.png")
    code, _, err = run(more, "-o", tmp_path / "safe")
    assert code == 2 and "earlier run" in err and "--overwrite" in err
    assert not (tmp_path / "safe" / "m.png").exists()
    assert json.loads(report.read_text()) == doc


def test_hidden_files_included_on_request(holiday: Path, tmp_path: Path) -> None:
    code, out, err = run(holiday, "-o", tmp_path / "safe", "--include-hidden", "--json",
                         "--no-verify")
    assert code == 0, err
    assert (tmp_path / "safe" / ".secret.jpg").is_file()
    assert json.loads(out)["summary"]["skipped"] == [
        {"path": str(holiday / "notes.txt"), "reason": "not an image or video"}]


def test_single_file_and_explicit_protect(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "me.png")
    code, _, err = run(src, "-o", tmp_path / "out", "--quiet")
    assert code == 0 and err == ""
    assert (tmp_path / "out" / "me.png").is_file()
    code, _, _ = run("protect", src, "-o", tmp_path / "out2")
    assert code == 0 and (tmp_path / "out2" / "me.png").is_file()


def test_collision_is_usage_error_before_any_work(tmp_path: Path,
                                                  small_astronaut: np.ndarray) -> None:
    a = save(small_astronaut, tmp_path / "a" / "x.png")
    b = save(small_astronaut, tmp_path / "b" / "x.png")
    code, _, err = run(a, b, "-o", tmp_path / "out")
    assert code == 2 and "both be written" in err
    assert not (tmp_path / "out").exists()


def test_output_inside_input_refused(holiday: Path) -> None:
    for out in (holiday, holiday / "safe", holiday / "beach"):
        code, _, err = run(holiday, "-o", out)
        assert code == 2, out
        assert "inside it" in err
    assert not (holiday / "safe").exists()
    # an output folder holding an input folder (or file) anywhere below it: the same
    before = sorted(holiday.rglob("*"))
    for given in (holiday / "beach", holiday / "beach" / "day2" / "2.webp"):
        code, _, err = run(given, "-o", holiday)
        assert code == 2 and "holds the input" in err, err
    assert sorted(holiday.rglob("*")) == before and not (holiday.parent / "holiday.veil").exists()


def test_input_never_overwritten(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "x.png")
    before = src.read_bytes()
    for extra in ([], ["--overwrite"]):
        code, _, _ = run(src, "-o", tmp_path, *extra)
        assert code == 2
    assert src.read_bytes() == before


def test_existing_output_refused_unless_overwrite(tmp_path: Path,
                                                  small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    out = tmp_path / "out" / "x.png"
    out.parent.mkdir()
    out.write_bytes(b"old")
    code, _, err = run(src, "-o", tmp_path / "out")
    assert code == 2 and "--overwrite" in err and out.read_bytes() == b"old"
    code, _, _ = run(src, "-o", tmp_path / "out", "--overwrite")
    assert code == 0 and read_rgb(out).shape == (256, 256, 3)


def test_bad_files_fail_alone(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    root = tmp_path / "in"
    save(small_astronaut, root / "good.jpg")
    (root / "zero.jpg").write_bytes(b"")
    whole = save(small_astronaut, tmp_path / "whole.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    (root / "text.jpg").write_text("this is not a picture\n" * 20)
    (root / "noise.png").write_bytes(np.random.default_rng(0).bytes(2000))
    code, out, err = run(root, "-o", tmp_path / "out", "--json")
    assert code == 1
    bad = ["noise.png", "text.jpg", "truncated.jpg", "zero.jpg"]
    lines = [ln for ln in err.splitlines() if ln.startswith("veil: ")]
    for name in bad:
        assert sum(f"{name}: " in ln for ln in lines) == 1, (name, err)
        assert not (tmp_path / "out" / name).exists()
    assert (tmp_path / "out" / "good.jpg").is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.jpg"]
    doc = json.loads(out)
    assert doc["summary"]["failed"] == 4 and doc["summary"]["done"] == 1
    errors = {Path(f["input"]).name: f["error"] for f in doc["files"]}
    assert errors["good.jpg"] is None and all(errors[n] for n in bad)


def test_missing_input_fails_with_exit_1(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "x.png")
    code, _, err = run(src, tmp_path / "missing.jpg", "-o", tmp_path / "out")
    assert code == 1 and "missing.jpg: no such file" in err
    assert (tmp_path / "out" / "x.png").is_file()


def test_json_has_the_face(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    code, out, _ = run(src, "-o", tmp_path / "out", "--json", "-q")
    assert code == 0
    doc = json.loads(out)
    (entry,) = doc["files"]
    assert entry["output"].endswith("x.png") and entry["error"] is None
    assert entry["face_count"] == len(entry["faces"]) == 1
    x1, y1, x2, y2 = entry["faces"][0]["box"]
    fx1, fy1, fx2, fy2 = face_box(256)
    assert x1 <= fx1 + 8 and y1 <= fy1 + 8 and x2 >= fx2 - 8 and y2 >= fy2 - 8
    assert 0.3 <= entry["faces"][0]["score"] <= 1
    assert doc["settings"]["mask"]["method"] == "blur"


@pytest.mark.parametrize("method", ["solid", "pixelate", "blur"])
def test_each_method_changes_the_face_only(tmp_path: Path, small_astronaut: np.ndarray,
                                           method: str) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    code, _, _ = run(src, "-o", tmp_path / "out", "--method", method, "--shape", "box")
    assert code == 0
    out = read_rgb(tmp_path / "out" / "x.png")
    assert _face_diff(out, small_astronaut, 256) > 15
    changed = np.any(out != small_astronaut, axis=-1)
    assert not changed[:, :40].any() and not changed[:, 220:].any()  # PNG: rest untouched


def test_plan_dir_and_render(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    code, _, _ = run(src, "-o", tmp_path / "out", "--plan-dir", tmp_path / "plans")
    plan = tmp_path / "plans" / "x.png.veil.json"
    assert code == 0 and plan.is_file()
    code, _, err = run("render", plan, src, "-o", tmp_path / "again", "--method", "solid")
    assert code == 0, err
    out = read_rgb(tmp_path / "again" / "x.png")
    x1, y1, x2, y2 = face_box(256)
    assert (out[(y1 + y2) // 2, (x1 + x2) // 2] == 0).all()  # solid black in the middle
    other = save(small_astronaut[::-1].copy(), tmp_path / "other" / "x.png")
    code, _, err = run("render", plan, other, "-o", tmp_path / "third")
    assert code == 2 and "different file" in err  # a usage error, as documented
    assert not (tmp_path / "third").exists()


def test_render_verifies_and_repairs_an_edited_plan(tmp_path: Path,
                                                    small_astronaut: np.ndarray) -> None:
    from veil.plan.record import Plan

    src = save(small_astronaut, tmp_path / "in" / "x.png")
    code, _, _ = run(src, "-o", tmp_path / "out", "--plan-dir", tmp_path / "plans",
                     "--no-verify")
    plan_path = tmp_path / "plans" / "x.png.veil.json"
    plan = Plan.load(plan_path)
    plan.frames.clear()  # a reviewer deleted the face by mistake
    plan.save(plan_path)
    edited = plan_path.read_text()
    x1, y1, x2, y2 = face_box(256)
    centre = small_astronaut[(y1 + y2) // 2, (x1 + x2) // 2]

    code, _, err = run("render", plan_path, src, "-o", tmp_path / "loose", "--no-verify")
    assert code == 0, err
    loose = read_rgb(tmp_path / "loose" / "x.png")
    assert (loose[(y1 + y2) // 2, (x1 + x2) // 2] == centre).all()  # as asked: not checked

    code, _, err = run("render", plan_path, src, "-o", tmp_path / "checked")
    assert code == 0, err
    out = read_rgb(tmp_path / "checked" / "x.png")
    assert not (out[(y1 + y2) // 2, (x1 + x2) // 2] == centre).all()  # repaired
    report_path = tmp_path / "checked.veil" / "renders" / "x.png" / "report.json"
    report = json.loads(report_path.read_text())
    assert report["files"][0]["passed"] and report["files"][0]["repair"]["rounds"] == 1
    assert sorted(p.name for p in (tmp_path / "checked").iterdir()) == ["x.png"]
    assert plan_path.read_text() == edited  # the user's plan is left as it was


def test_verify_with_nothing_to_verify_fails(tmp_path: Path) -> None:
    code, _, err = run("verify", tmp_path, tmp_path)
    assert code == 1 and "no media files" in err


def test_workers_pool(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    for i in range(3):
        save(small_astronaut, tmp_path / "in" / f"{i}.png")
    (tmp_path / "in" / "bad.png").write_bytes(b"")
    code, out, _ = run(tmp_path / "in", "-o", tmp_path / "out", "--workers", "2", "--json")
    assert code == 1
    doc = json.loads(out)
    assert [Path(f["input"]).name for f in doc["files"]] == ["0.png", "1.png", "2.png", "bad.png"]
    assert [f["face_count"] for f in doc["files"]] == [1, 1, 1, 0]


def test_help_and_bad_options() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for text in ("INPUT... -o OUTDIR", "protect", "render", "verify", "--method",
                 "HEIC/HEIF, which is written as JPEG", "--keep-icc", "Exit codes"):
        assert text in out, text
    code, _, _ = run("x.jpg", "-o", "out", "--method", "smudge")
    assert code == 2
    code, _, _ = run("x.jpg")  # no -o
    assert code == 2


def test_python_m_veil_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "veil", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: veil INPUT... -o OUTDIR" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "veil", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("veil ")


def test_output_that_is_a_file_is_usage_error(tmp_path: Path,
                                              small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    (tmp_path / "out").write_text("a file")
    code, _, err = run(src, "-o", tmp_path / "out")
    assert code == 2 and "is a file" in err


def test_output_folder_that_cannot_be_made_is_usage_error_before_any_work(
        tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    (tmp_path / "afile").write_text("a file")
    code, _, err = run(src, "-o", tmp_path / "afile" / "out")
    assert code == 2 and "cannot create" in err and "Traceback" not in err
    assert not (tmp_path / "afile.veil").exists() and not (tmp_path / "afile" / "out.veil").exists()
    # the report folder too (named with --report), checked before the photo is scanned
    code, _, err = run(src, "-o", tmp_path / "out", "--report", tmp_path / "afile" / "rep")
    assert code == 2 and "--report" in err and "cannot create" in err
    assert not (tmp_path / "out" / "x.png").exists()


def test_side_folder_that_cannot_be_made_is_usage_error_even_without_verify(
        tmp_path: Path, small_astronaut: np.ndarray) -> None:
    """OUTDIR.veil holds the done records: without it a --no-verify run said nothing,
    and every later run was refused (an output veil has no record of making)."""
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    (tmp_path / "out.veil").write_text("in the way")
    code, _, err = run(src, "-o", tmp_path / "out", "--no-verify")
    assert code == 2 and "out.veil" in err and "resume" in err, err
    assert not (tmp_path / "out" / "x.png").exists()
    # the default report folder is named as such, not as an option never given
    (tmp_path / "b.veil").mkdir()
    (tmp_path / "b.veil" / "report").write_text("in the way")
    code, _, err = run(src, "-o", tmp_path / "b")
    assert code == 2 and "default folder; choose another with --report" in err, err
    assert "Invalid value" not in err


def test_every_input_missing_is_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "typo.jpg", tmp_path / "typo2.jpg", "-o", tmp_path / "out")
    assert code == 2 and "typo.jpg: no such file or folder (nor 1 more)" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.veil").exists()
    # one line, veil: <path>: <reason>, without click's usage banner (a new user's trial)
    assert err.strip().startswith("veil: ") and len(err.strip().splitlines()) == 1, err
    assert "Usage:" not in err


def test_summary_does_not_say_all_verified_beside_a_failure(
        tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    (tmp_path / "in" / "text.jpg").write_text("not a picture")
    code, _, err = run(tmp_path / "in", "-o", tmp_path / "out")
    (summary,) = [ln for ln in err.splitlines() if "written to" in ln]
    assert code == 1 and src.exists()
    assert "1 of 2 files written to" in summary and "(verified)" in summary
    assert "all verified" not in summary and "1 failed" in summary


def test_demo_builds_sample_and_masks_it(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from veil.demo import main as demo

    assert demo([str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "before: EXIF" in out and "after:  none" in out
    masked = sorted(p.relative_to(tmp_path / "demo" / "masked").as_posix()
                    for p in (tmp_path / "demo" / "masked").rglob("*")
                    if p.is_file() and "veil-report" not in p.parts)
    assert masked == ["group.jpg", "phone/sideways.jpg", "portrait.png"]
    plan = json.loads((tmp_path / "demo" / "plans" / "group.jpg.veil.json").read_text())
    assert len(plan["frames"]["0"]["regions"]) >= 6


def test_render_quiet_and_its_report_never_replaces_another(tmp_path: Path,
                                                            small_astronaut: np.ndarray) -> None:
    a = save(small_astronaut, tmp_path / "in" / "a.png")
    b = save(small_astronaut[:, ::-1].copy(), tmp_path / "in" / "b.png")
    code, _, err = run(a, b, "-o", tmp_path / "out", "--plan-dir", tmp_path / "plans")
    assert code == 0, err
    batch_report = tmp_path / "out.veil" / "report" / "report.json"
    before = batch_report.read_text()
    (tmp_path / "out" / "a.png").unlink()
    (tmp_path / "out" / "b.png").unlink()
    for name in ("a.png", "b.png"):
        code, _, err = run("render", tmp_path / "plans" / f"{name}.veil.json",
                           tmp_path / "in" / name, "-o", tmp_path / "out", "-q")
        assert code == 0 and err == ""  # -q: nothing to say when all went well
    renders = tmp_path / "out.veil" / "renders"
    for name in ("a.png", "b.png"):
        report = json.loads((renders / name / "report.json").read_text())
        assert [Path(f["input"]).name for f in report["files"]] == [name]
    assert batch_report.read_text() == before  # the batch's report is kept
    code, _, err = run("render", tmp_path / "plans" / "a.png.veil.json", a,
                       "-o", tmp_path / "out")
    assert code == 2 and "--overwrite" in err
    code, _, err = run("render", tmp_path / "plans" / "a.png.veil.json", a,
                       "-o", tmp_path / "out", "--overwrite")
    assert code == 0 and "1 face masked (1 region)" in err and "(verified)" in err
    assert f"report: {renders / 'a.png' / 'report.json'}" in err
