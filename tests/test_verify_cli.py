"""`veil verify` and verification after `veil INPUT -o OUTDIR`: exit codes, failure lines,
the report."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from veil.cli import main
from veil.jobs.check_pair import verify_paths
from veil.settings import MaskSettings
from verify_media import astronaut, write_masked


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_job_verifies_and_writes_the_default_report(tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(astronaut()).save(tmp_path / "in" / "a.png")
    code, _, err = run(tmp_path / "in", "-o", tmp_path / "out")
    assert code == 0, err
    data = json.loads((tmp_path / "out.veil" / "report" / "report.json").read_text())
    assert data["summary"]["verdict"] == "pass"
    (entry,) = data["files"]
    assert entry["status"] == "pass" and entry["verification"]["checks"]["residual"] == "pass"
    assert entry["repair"] is not None and entry["repair"]["remaining"] == []
    assert (tmp_path / "out.veil" / "report" / "report.html").is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


def test_no_verify_writes_no_report(tmp_path):
    Image.fromarray(astronaut()).save(tmp_path / "a.png")
    code, _, err = run(tmp_path / "a.png", "-o", tmp_path / "out", "--no-verify")
    assert code == 0, err
    assert not (tmp_path / "out" / "veil-report").exists()
    # No report; only the done record that lets a re-run resume (jobs.resume).
    assert [p.relative_to(tmp_path / "out.veil").as_posix()
            for p in (tmp_path / "out.veil").rglob("*") if p.is_file()] == ["done/a.png.json"]


def test_verify_command_pass_and_fail(tmp_path):
    src, good, bad = tmp_path / "src", tmp_path / "good", tmp_path / "bad"
    for d in (src, good, bad):
        d.mkdir()
    write_masked(src / "a.png", None)
    write_masked(good / "a.jpg", MaskSettings())           # paired by stem
    write_masked(bad / "a.png", None)                      # some tool forgot the face
    code, _, err = run("verify", src, good, "--report", tmp_path / "rep")
    assert code == 0, err
    assert (tmp_path / "rep" / "report.json").is_file()
    code, _, err = run("verify", src / "a.png", bad / "a.png")
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("veil: ") and "a.png" in ln]
    assert len(lines) == 1 and "residual" in lines[0] and "x " in lines[0], err


def test_verify_command_missing_output_and_usage(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_masked(src / "a.png", None)
    (tmp_path / "empty").mkdir()
    code, _, err = run("verify", src, tmp_path / "empty")
    assert code == 1 and "no output file" in err
    code, _, _ = run("verify", src, tmp_path / "nowhere")
    assert code == 2


def test_verify_finds_the_plan_in_the_folder_beside_the_outputs(tmp_path):
    from veil.cli.verify_cmd import sidecar_plan

    (tmp_path / "in" / "sub").mkdir(parents=True)
    src = tmp_path / "in" / "sub" / "a.png"
    Image.fromarray(astronaut()).save(src)
    code, _, err = run(tmp_path / "in", "-o", tmp_path / "out", "--no-verify",
                       "--plan-dir", tmp_path / "out.veil" / "plans")
    assert code == 0, err
    out = tmp_path / "out" / "sub" / "a.png"
    plan = sidecar_plan(src, out, tmp_path / "out")
    assert plan is not None and plan.media.name == "a.png"
    assert sidecar_plan(src, out) is None  # looked up from the wrong root: not found
    code, _, err = run("verify", tmp_path / "in", tmp_path / "out", "--report", tmp_path / "r")
    assert code == 0, err
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["files"][0]["verification"]["with_plan"] is True


def _other_picture(path, size=(512, 512)):
    """A different picture with the astronaut's face unmasked in it (a crowd scene
    stands in for the trial's 'safe' copy of another photo)."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    face = astronaut()[40:200, 160:290]
    img[100:260, 200:330] = face
    Image.fromarray(img).save(path)
    return path


def test_verify_fails_an_unmasked_copy_of_another_picture(tmp_path):
    """Paired by mistake with an unrelated, unmasked picture, the output used to pass:
    every pixel differed, so everything counted as masked."""
    src = write_masked(tmp_path / "a.png", None)
    other = _other_picture(tmp_path / "other.png")
    code, _, err = run("verify", src, other)
    assert code == 1 and "pairing" in err and "not a masked copy" in err, err
    wide = _other_picture(tmp_path / "wide.png", size=(640, 480))
    code, _, err = run("verify", src, wide)
    assert code == 1 and "640x480" in err and "512x512" in err, err
    # a real masked copy, judged without a plan, passes the pairing check
    good = write_masked(tmp_path / "good.png", MaskSettings())
    entries, _ = verify_paths(src, good)
    assert entries[0].verification.checks["pairing"] == "pass"
    assert entries[0].status == "pass"


def test_verify_names_outputs_that_no_original_matches(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (out / "sub").mkdir(parents=True)
    write_masked(src / "a.png", None)
    write_masked(out / "a.png", MaskSettings())
    write_masked(out / "sub" / "stray.png", MaskSettings())   # from another folder
    (out / "rep").mkdir()
    (out / "rep" / "report.json").write_text("{}")
    write_masked(out / "rep" / "thumb.png", MaskSettings())   # a report's, not an output
    code, _, err = run("verify", src, out)
    assert code == 1, err
    assert "stray.png: no original found" in err and "thumb.png" not in err, err
    assert "1 of 2 outputs passed" in err


def test_verify_passes_a_job_output_whose_original_has_a_colour_profile(tmp_path):
    """A new user's `veil verify in/ out/` failed veil's own output of a photo with Apple's
    Generic RGB profile (gamma 1.8): the job writes its colours converted to sRGB, and
    verify compared them with the original's unconverted levels (92% of pixels 'changed')."""
    import imagefactory as factory

    generic = ((0.630, 0.340), (0.295, 0.605), (0.155, 0.077))  # Trinitron-like primaries
    icc = factory.matrix_icc(generic, 1.8, "Test Generic RGB")
    (tmp_path / "in").mkdir()
    Image.fromarray(astronaut()).save(tmp_path / "in" / "g.jpg", quality=95, icc_profile=icc)
    code, _, err = run(tmp_path / "in", "-o", tmp_path / "out", "--no-verify")
    assert code == 0, err
    code, _, err = run("verify", tmp_path / "in", tmp_path / "out")
    assert code == 0, err
    # kept profile (--keep-icc): the output's levels are the original's; still a pair
    code, _, err = run(tmp_path / "in", "-o", tmp_path / "kept", "--no-verify", "--keep-icc")
    assert code == 0, err
    code, _, err = run("verify", tmp_path / "in", tmp_path / "kept")
    assert code == 0, err
