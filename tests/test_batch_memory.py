"""What a batch keeps of each finished file until its report (issue 14: memory flat
however many files): the plan goes, the report entry stays the same."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import numpy as np
import pytest

from conftest import save
from veil.jobs.pipeline import JobOptions, Task
from veil.jobs.runners import SerialRunner, lighten, run_all


def _tasks(tmp_path: Path, astronaut: np.ndarray, name: str) -> list[Task]:
    srcs = [save(astronaut, tmp_path / "in" / "a.png"),
            save(np.ascontiguousarray(astronaut[:, ::-1]), tmp_path / "in" / "b.png")]
    return [Task(s, tmp_path / name / s.name, "image") for s in srcs]


@pytest.mark.parametrize("verify", [True, False])
def test_lighten_drops_the_plan_and_keeps_the_report_entry(tmp_path: Path,
                                                           astronaut: np.ndarray,
                                                           verify: bool) -> None:
    outcomes = run_all(SerialRunner(), _tasks(tmp_path, astronaut, "out"),
                       JobOptions(verify=verify))
    assert all(o.ok and o.result.plan is not None for o in outcomes)
    for full in outcomes:
        light = lighten(copy.deepcopy(full))
        assert light.result.plan is None
        # unverified: the entry is made from the plan, so it must be made before it goes
        assert light.entry is not None
        assert light.report_entry().to_dict() == full.report_entry().to_dict()
        assert light.report_entry().faces_masked >= 1  # the astronaut's face
        assert (light.result.faces, light.result.regions) == (full.result.faces,
                                                               full.result.regions)
        if verify:
            assert light.verification is not None and light.verification.passed
            thumb = light.report_entry().verification.thumbnail_jpeg  # type: ignore[union-attr]
            assert thumb and thumb == full.report_entry().verification.thumbnail_jpeg  # type: ignore[union-attr]
        assert len(pickle.dumps(light)) < len(pickle.dumps(full))


def test_run_all_keeps_no_plans_when_asked(tmp_path: Path, astronaut: np.ndarray) -> None:
    seen: list[bool] = []
    outcomes = run_all(SerialRunner(), _tasks(tmp_path, astronaut, "out"),
                       JobOptions(verify=True), keep_plans=False,
                       on_done=lambda task, o: seen.append(o.result.plan is not None))
    assert seen == [True, True]  # on_done (the resume record, the display) still sees it
    assert [o.result.plan for o in outcomes] == [None, None]
    assert all(o.entry is not None and o.entry.faces_masked >= 1 for o in outcomes)
    kept = run_all(SerialRunner(), _tasks(tmp_path, astronaut, "kept"), JobOptions(verify=True))
    assert all(o.result.plan is not None for o in kept)  # the default keeps them (the API)


def test_a_batch_spools_its_outcomes_and_its_report_shows_them(tmp_path: Path,
                                                                astronaut: np.ndarray) -> None:
    """With ``keep_plans=False`` each finished file's outcome (report entry, verification,
    thumbnail: about 16 KB for a photo) waits in a temporary file, and the report is the
    same as when the batch held them."""
    from veil.jobs.report import write_run_report
    from veil.jobs.runners import SpooledOutcomes

    light = run_all(SerialRunner(), _tasks(tmp_path, astronaut, "out"), JobOptions(verify=True),
                    keep_plans=False)
    held = run_all(SerialRunner(), _tasks(tmp_path, astronaut, "out2"), JobOptions(verify=True))
    assert isinstance(light, SpooledOutcomes) and isinstance(held, list)
    for o, h in zip(light, held, strict=True):
        v = o.report_entry().verification
        assert v is not None and v.thumbnail()
        assert v.thumbnail() == h.report_entry().verification.thumbnail()  # type: ignore[union-attr]
        light_entry = o.report_entry().to_dict()
        held_entry = h.report_entry().to_dict()
        for e in (light_entry, held_entry):
            e.pop("output")
            e.pop("timings")
            e["verification"].pop("seconds")
        assert light_entry == held_entry
    pages = []
    for name, outcomes in (("light", light), ("held", held)):
        json_path = write_run_report(outcomes, tmp_path / name, tool_version="test")
        pages.append(json_path.with_name("report.html").read_text("utf-8"))
    assert pages[0].count("data:image/jpeg;base64,") == 2
    # the same thumbnails (the pages differ only in paths and times)
    thumbs = [sorted(p.split("data:image/jpeg;base64,")[1:]) for p in pages]
    assert [t.split("'")[0] for t in thumbs[0]] == [t.split("'")[0] for t in thumbs[1]]


def test_a_batch_holds_no_finished_outcome_in_memory(tmp_path: Path,
                                                     astronaut: np.ndarray) -> None:
    """Once a file's outcome is spooled, the batch's process keeps no object of it
    (no outcome, result, entry or verification): only where it is in the spool. What
    it holds per file is then a few dozen bytes however many files the batch has."""
    import gc

    from veil.jobs.pipeline import Outcome
    from veil.jobs.result import FileResult
    from veil.report.json_report import ReportEntry
    from veil.verify.check import Verification

    def alive() -> int:
        gc.collect()
        return sum(isinstance(o, Outcome | FileResult | ReportEntry | Verification)
                   for o in gc.get_objects())

    before = alive()
    tasks = _tasks(tmp_path, astronaut, "out")
    outcomes = run_all(SerialRunner(), tasks, JobOptions(verify=True), keep_plans=False)
    assert alive() == before
    assert [o.ok for o in outcomes] == [True, True]  # read back on demand...
    first = outcomes[0]
    assert first is not outcomes[0]  # ...as a new object, not one held
    del first
    assert alive() == before
