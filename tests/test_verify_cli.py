"""`veil verify` and verification after `veil INPUT -o OUTDIR`: exit codes, failure lines,
the report."""

from __future__ import annotations

import json

from click.testing import CliRunner
from PIL import Image

from veil.cli import main
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
    assert not (tmp_path / "out.veil").exists()


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
