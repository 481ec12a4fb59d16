"""One pipeline behind every shell: the command line, the Python API, `veil render` and
the runners give the same bytes and the same verdicts for the same input and settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

import veil
from conftest import save
from veil.cli import main
from veil.jobs.pipeline import JobOptions, Task, run
from veil.jobs.runners import PoolRunner, SerialRunner, run_all
from veil.plan.record import Plan


def _cli(*args: object) -> tuple[int, dict]:
    got = CliRunner().invoke(main, [str(a) for a in args])
    doc = json.loads(got.stdout) if "--json" in args else {}
    return got.exit_code, doc


def test_cli_api_and_render_give_the_same_bytes_and_verdict(tmp_path: Path,
                                                            astronaut: np.ndarray) -> None:
    src = save(astronaut, tmp_path / "in" / "a.png")
    code, doc = _cli(src, "-o", tmp_path / "cli", "--plan-dir", tmp_path / "plans",
                     "--method", "pixelate", "--json")
    assert code == 0, doc
    cli_file = doc["files"][0]
    assert cli_file["verification"]["passed"]
    api = veil.anonymize_file(src, tmp_path / "api" / "a.png", method="pixelate")
    assert api.ok and api.verification is not None
    plan_path = tmp_path / "plans" / "a.png.veil.json"
    code, _ = _cli("render", plan_path, src, "-o", tmp_path / "render", "-q")
    assert code == 0
    again = veil.render_plan(plan_path, src, tmp_path / "api-render" / "a.png")
    outputs = [tmp_path / d / "a.png" for d in ("cli", "api", "render", "api-render")]
    assert len({p.read_bytes() for p in outputs}) == 1  # byte-identical
    assert api.verification.to_dict()["passed"] == cli_file["verification"]["passed"]
    assert api.verification.checks == cli_file["verification"]["checks"]
    assert again.verification is not None and again.verification.checks == api.verification.checks
    assert (api.faces, again.faces) == (cli_file["face_count"], cli_file["face_count"])


def test_the_api_verifies_by_default(tmp_path: Path, astronaut: np.ndarray) -> None:
    src = save(astronaut, tmp_path / "a.png")
    checked = veil.anonymize_file(src, tmp_path / "out" / "a.png")
    assert checked.ok and checked.verification is not None
    assert checked.verification.passed and checked.verification.checks["residual"] == "pass"
    assert checked.output == tmp_path / "out" / "a.png"
    plain = veil.anonymize_file(src, tmp_path / "plain" / "a.png", verify=False)
    assert plain.ok and plain.verification is None
    assert plain.output.read_bytes() == checked.output.read_bytes()


def test_render_plan_takes_a_plan_object_and_refuses_another_file(tmp_path: Path,
                                                                  astronaut: np.ndarray
                                                                  ) -> None:
    src = save(astronaut, tmp_path / "a.png")
    made = veil.anonymize_file(src, tmp_path / "out" / "a.png", verify=False,
                               plan_path=tmp_path / "a.veil.json")
    plan = Plan.load(made.plan_path)
    same = veil.render_plan(plan, src, tmp_path / "again" / "a.png", verify=False)
    assert same.ok and same.output.read_bytes() == made.output.read_bytes()
    other = save(astronaut[::-1].copy(), tmp_path / "b.png")
    refused = veil.render_plan(plan, other, tmp_path / "b-out" / "b.png")
    assert not refused.ok and refused.error and not (tmp_path / "b-out" / "b.png").exists()


def test_serial_and_pool_runners_give_the_same_outputs(tmp_path: Path,
                                                        astronaut: np.ndarray) -> None:
    srcs = [save(astronaut, tmp_path / "in" / "a.png"),
            save(np.ascontiguousarray(astronaut[:, ::-1]), tmp_path / "in" / "b.png")]
    got = {}
    for name, runner in (("serial", SerialRunner()), ("pool", PoolRunner(2))):
        tasks = [Task(s, tmp_path / name / s.name, "image") for s in srcs]
        outcomes = run_all(runner, tasks, JobOptions(verify=True))
        assert [o.task.source for o in outcomes] == srcs  # in the order of the tasks
        assert all(o.ok and o.verification is not None and o.verification.passed
                   for o in outcomes)
        got[name] = ([o.output.read_bytes() for o in outcomes],
                     [o.verification.checks for o in outcomes],
                     [o.report_entry().to_dict()["faces_masked"] for o in outcomes])
    assert got["serial"] == got["pool"]


def test_notes_reach_stderr_and_the_report(tmp_path: Path, astronaut: np.ndarray) -> None:
    small = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    src = tmp_path / "in" / "burst.heic"
    src.parent.mkdir()
    ims = [Image.fromarray(small), Image.fromarray(small[::-1].copy())]
    ims[0].save(src, save_all=True, append_images=ims[1:], quality=90)
    got = CliRunner().invoke(main, [str(src), "-o", str(tmp_path / "out"), "-q"])
    note = "only its primary image was kept"
    lines = [ln for ln in got.stderr.splitlines() if note in ln]
    assert lines and lines[0].startswith(f"veil: {src}: "), got.stderr
    report = json.loads((tmp_path / "out.veil" / "report" / "report.json").read_text())
    assert any(note in n for n in report["files"][0]["notes"])
    outcome = run(Task(src, tmp_path / "again" / "burst.jpg", "image"), JobOptions())
    assert any(note in n for n in outcome.notes)
    assert any(note in n for n in outcome.report_entry().notes)


def test_plans_record_the_track_settings_and_older_plans_still_load() -> None:
    from veil.detections import Detections
    from veil.errors import UsageError
    from veil.plan.record import MediaInfo
    from veil.plan.video import build_video_plan
    from veil.settings import MaskSettings, ScanSettings, TrackSettings

    media = MediaInfo("v.mp4", "0" * 64, "video", 64, 64, frame_count=3, fps=10.0)
    boxes = [Detections(np.array([[10, 10, 30, 30]], np.float32), np.array([0.9], np.float32))
             for _ in range(3)]
    track = TrackSettings(extend_after=2)
    plan = build_video_plan(boxes, media, scan=ScanSettings(), mask=MaskSettings(),
                            track=track)
    data = plan.to_dict()
    assert data["track"]["extend_after"] == 2
    assert data["track"]["confirm_score"] == ScanSettings().threshold  # filled in
    assert Plan.from_dict(data).track == plan.track
    old = {k: v for k, v in data.items() if k != "track"}
    assert Plan.from_dict(old).track is None  # plans of earlier versions load
    bad = {**data, "track": {**data["track"], "max_gaps": 3}}
    try:
        Plan.from_dict(bad)
    except UsageError as exc:
        assert "max_gaps" in str(exc)
    else:
        raise AssertionError("an unknown track setting must be refused")
