"""Resumable batches (a re-run skips what is done and current), kill -9 and resume,
failures.json and --retry-failed, and the local runners (parallel = serial, bounded queue)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import save
from veil.cli import main
from veil.jobs.pipeline import JobOptions, Outcome, Task
from veil.jobs.result import FileResult
from veil.jobs.resume import done_folder
from veil.jobs.runners import PoolRunner, threads_per_worker

RUN_VEIL = "import sys; from veil.cli import main; sys.argv[0] = 'veil'; main()"


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _folder(root: Path, pixels: np.ndarray, n: int) -> Path:
    for i in range(n):
        # each picture its own bytes: shifted a little
        save(np.roll(pixels, i, axis=1), root / f"{i:02d}.png")
    return root


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def _records(done: Path) -> set[str]:
    """The outputs with a done record (not the records' temporary files)."""
    return {p.name.removesuffix(".json") for p in done.glob("*.json")
            if not p.name.startswith(".")}


def _report(out: Path) -> dict:
    return json.loads((out.parent / (out.name + ".veil") / "report" / "report.json").read_text())


def test_rerun_skips_done_files_and_redoes_changed(tmp_path: Path,
                                                   small_astronaut: np.ndarray) -> None:
    src = _folder(tmp_path / "in", small_astronaut, 3)
    out = tmp_path / "out"
    code, _, err = run(src, "-o", out, "--workers", "1")
    assert code == 0, err
    first = _outputs(out)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    # Same command again: nothing to do, nothing rewritten, the report still covers all.
    code, _, err = run(src, "-o", out, "--workers", "1")
    assert code == 0, err
    assert "3 of 3 files are already done" in err and "0 to do" in err
    assert "0 of 3 files written" in err and "and 3 already done by an earlier run" in err
    assert "images/s" not in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == stamps
    doc = _report(out)
    assert [Path(f["input"]).name for f in doc["files"]] == ["00.png", "01.png", "02.png"]
    assert doc["summary"]["verdict"] == "pass" and doc["summary"]["pass"] == 3
    # the resumed report still shows each output's thumbnail, and says who made it
    html = (out.parent / "out.veil" / "report" / "report.html").read_text()
    assert html.count("<img alt='output thumbnail") == 3
    assert all("earlier run" in " ".join(f["notes"]) for f in doc["files"])
    # A changed input is redone (only that one).
    save(np.roll(small_astronaut, 7, axis=0), src / "01.png")
    code, _, err = run(src, "-o", out, "--workers", "1")
    assert code == 0, err
    assert "2 of 3 files are already done" in err and "1 to do" in err
    again = _outputs(out)
    assert again["00.png"] == first["00.png"] and again["01.png"] != first["01.png"]
    assert len(_report(out)["files"]) == 3
    # A changed setting redoes every file.
    code, _, err = run(src, "-o", out, "--workers", "1", "--method", "pixelate")
    assert code == 0, err
    assert "already done" not in err
    changed = _outputs(out)
    assert all(changed[k] != again[k] for k in changed)
    # --overwrite redoes everything too.
    code, _, err = run(src, "-o", out, "--workers", "1", "--method", "pixelate", "--overwrite")
    assert code == 0 and "already done" not in err
    assert _outputs(out) == changed  # deterministic


def test_existing_output_without_record_still_refused(tmp_path: Path,
                                                      small_astronaut: np.ndarray) -> None:
    src = _folder(tmp_path / "in", small_astronaut, 1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "00.png").write_bytes(b"someone else's file")
    code, _, err = run(src, "-o", tmp_path / "out")
    assert code == 2 and "already exists" in err and "--overwrite" in err
    assert (tmp_path / "out" / "00.png").read_bytes() == b"someone else's file"


def test_an_output_changed_after_veil_wrote_it_is_not_replaced_silently(
        tmp_path: Path, small_astronaut: np.ndarray) -> None:
    """A re-run replaced a hand-edited output without a word (a new user's trial)."""
    src = _folder(tmp_path / "in", small_astronaut, 2)
    out = tmp_path / "out"
    code, _, err = run(src, "-o", out, "--workers", "1", "--no-verify")
    assert code == 0, err
    with (out / "01.png").open("ab") as f:
        f.write(b"x")
    edited = (out / "01.png").read_bytes()
    code, _, err = run(src, "-o", out, "--workers", "1", "--no-verify")
    assert code == 2 and "01.png was changed after veil wrote it" in err, err
    assert "--overwrite" in err and (out / "01.png").read_bytes() == edited
    code, _, err = run(src, "-o", out, "--workers", "1", "--no-verify", "--overwrite")
    assert code == 0, err
    assert (out / "01.png").read_bytes() != edited


def _marked(mark: str) -> list[int]:
    """Processes whose environment holds ``mark`` (Linux /proc)."""
    found = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if mark.encode() in env.read_bytes():
                found.append(int(env.parent.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("workers", ["1", "2"])
def test_kill_9_then_resume(tmp_path: Path, small_astronaut: np.ndarray, workers: str) -> None:
    src = _folder(tmp_path / "in", small_astronaut, 6)
    out = tmp_path / "out"
    done = done_folder(out)
    mark = f"VEIL_TEST_RUN={tmp_path.name}"
    proc = subprocess.Popen([sys.executable, "-c", RUN_VEIL, str(src), "-o", str(out),
                             "--workers", workers],
                            env={**os.environ, "VEIL_TEST_RUN": tmp_path.name},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if done.is_dir() and len(_records(done)) >= 2:
                break
            time.sleep(0.02)
        if proc.poll() is not None:
            pytest.fail("veil finished before it could be killed; add files")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Its pool workers go with it (they would publish files the batch never records).
    deadline = time.monotonic() + 60
    while _marked(mark) and time.monotonic() < deadline and sys.platform.startswith("linux"):
        time.sleep(0.1)
    orphans = _marked(mark)
    for pid in orphans:  # do not leave them running if this fails
        os.kill(pid, signal.SIGKILL)
    assert not orphans, "worker processes outlived the killed batch"
    finished = _records(done)
    # Under a final name there are only complete, verified outputs (each has its record,
    # or was published just before the kill and is redone).
    finals = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert finished <= finals and len(finals - finished) <= int(workers)
    assert 2 <= len(finished) < 6
    code, _, err = run(src, "-o", out, "--workers", "1")
    assert code == 0, err
    assert f"{len(finished)} of 6 files are already done" in err
    assert f"{6 - len(finished)} to do" in err
    assert sorted(p.name for p in out.iterdir()) == [f"{i:02d}.png" for i in range(6)]
    doc = _report(out)
    assert doc["summary"]["files"] == 6 and doc["summary"]["pass"] == 6
    # The same bytes as an uninterrupted run.
    code, _, err = run(src, "-o", tmp_path / "whole", "--workers", "1")
    assert code == 0, err
    assert _outputs(out) == _outputs(tmp_path / "whole")


def test_failures_list_and_retry(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = _folder(tmp_path / "in", small_astronaut, 2)
    (src / "bad.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    code, _, err = run(src, "-o", out, "--workers", "1")
    assert code == 1
    report_dir = tmp_path / "out.veil" / "report"
    doc = json.loads((report_dir / "failures.json").read_text())
    assert [(Path(f["input"]).name, f["status"]) for f in doc["failures"]] == [("bad.png", "error")]
    assert doc["failures"][0]["reason"]
    # Fixed, then retried: only that file is processed.
    save(small_astronaut, src / "bad.png")
    code, _, err = run("--retry-failed", report_dir, "--workers", "1")
    assert code == 0, err
    assert "2 of 3 files are already done" in err and "1 to do" in err
    assert (out / "bad.png").is_file()
    assert json.loads((report_dir / "failures.json").read_text())["failures"] == []
    assert _report(out)["summary"]["pass"] == 3
    code, _, err = run("--retry-failed", report_dir)  # nothing failed any more
    assert code == 0 and "nothing to retry" in err and "resuming" not in err
    code, _, err = run("--retry-failed", report_dir, "-o", out)
    assert code == 2 and "no INPUT or -o" in err
    code, _, err = run("--retry-failed", tmp_path / "in")
    assert code == 2 and "failures.json" in err


def test_parallel_and_serial_outputs_identical(tmp_path: Path,
                                               small_astronaut: np.ndarray) -> None:
    src = _folder(tmp_path / "in", small_astronaut, 3)
    code, _, err = run(src, "-o", tmp_path / "serial", "--workers", "1")
    assert code == 0, err
    code, _, err = run(src, "-o", tmp_path / "pool", "--workers", "2")
    assert code == 0, err
    serial, pool = _outputs(tmp_path / "serial"), _outputs(tmp_path / "pool")
    assert len(serial) == 3 and serial == pool
    assert "3 of 3 files written" in err
    assert _report(tmp_path / "pool")["summary"]["pass"] == 3


def test_pool_queue_is_bounded(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = _folder(tmp_path / "in", small_astronaut, 5)
    tasks = [Task(p, tmp_path / "out" / p.name, "image") for p in sorted(src.iterdir())]
    started: list[Task] = []
    seen_at_first = None
    for _task, outcome in PoolRunner(2, queue=2).run(tasks, JobOptions(),
                                                     on_start=started.append):
        assert outcome.ok, outcome.error
        if seen_at_first is None:
            seen_at_first = len(started)
    assert seen_at_first == 2 and len(started) == 5


def test_pool_workers_report_each_files_phases(tmp_path: Path,
                                               small_astronaut: np.ndarray) -> None:
    """With two workers (the default on any multi-core machine) no file's phase was shown:
    a new user watched one line sit for 84 s on a video."""
    from veil.cli.output import BatchDisplay

    src = _folder(tmp_path / "in", small_astronaut, 2)
    tasks = [Task(p, tmp_path / "out" / p.name, "image") for p in sorted(src.iterdir())]
    seen: list[tuple[str, str, int, int | None]] = []
    runner = PoolRunner(2, file_progress=lambda *item: seen.append(item))
    for _task, outcome in runner.run(tasks, JobOptions(verify=True)):
        assert outcome.ok, outcome.error
    assert {name for name, *_ in seen} == {str(t.source) for t in tasks}
    assert {"scanning and masking", "verifying"} <= {label for _, label, *_ in seen}, seen
    # the display keeps a line per running file, gone when the file is done
    display = BatchDisplay(2)
    display.file_phase(str(tasks[0].source), "scanning and masking", 0, 1)
    display.file_phase(str(tasks[1].source), "verifying", 1, 3)
    assert [t.description for t in display.progress.tasks][1:] == [
        "  00.png: scanning and masking", "  01.png: verifying"]
    display.done(tasks[0], Outcome(tasks[0], FileResult(source=tasks[0].source)))
    display.file_phase(str(tasks[0].source), "verifying", 1, 2)  # late: ignored
    assert [t.description for t in display.progress.tasks][1:] == ["  01.png: verifying"]


def test_threads_divide_the_cores() -> None:
    assert threads_per_worker(2, cores=2) == 1
    assert threads_per_worker(2, cores=8) == 4
    assert threads_per_worker(4, cores=2) == 1
    assert threads_per_worker(1, cores=6) == 6
