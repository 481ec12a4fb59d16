"""A terminated job (SIGTERM) unwinds like Ctrl-C: no partial, staged or unverified file
is left in the output folder, and the exit code says it was terminated."""

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
from PIL import Image

from veil.jobs.interrupt import TERMINATED_EXIT
from verify_media import astronaut, write_video

RUN_VEIL = "import sys; from veil.cli import main; sys.argv[0] = 'veil'; main()"


def _clip(path: Path, frames: int = 240) -> Path:
    face = np.asarray(Image.fromarray(astronaut()).resize((320, 320)))[40:280]
    return write_video(path, [np.roll(face, i, axis=1) for i in range(frames)], fps=24)


def _env() -> dict[str, str]:
    """The environment of a veil run under test: a crash prints its Python stack (it would
    otherwise be a bare exit status -11 in the failure)."""
    return {**os.environ, "PYTHONFAULTHANDLER": "1"}


def _terminate_when_writing(args: list[str], outdir: Path) -> tuple[int, float, str]:
    proc = subprocess.Popen([sys.executable, "-c", RUN_VEIL, *args], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if outdir.exists() and any(p.is_file() for p in outdir.rglob("*")):
                break  # the job has started writing
            time.sleep(0.05)
        if proc.poll() is not None:
            pytest.fail("veil finished before it could be terminated; make the clip longer")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        return proc.returncode, time.monotonic() - t0, err
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_leaves_no_partial_or_unverified_output(tmp_path, workers):
    src = tmp_path / "in"
    src.mkdir()
    _clip(src / "a.mp4")
    if workers > 1:
        _clip(src / "b.mp4", frames=200)
    out = tmp_path / "out"
    code, seconds, err = _terminate_when_writing([str(src), "-o", str(out),
                                                  "--workers", str(workers)], out)
    assert code == TERMINATED_EXIT, err
    assert seconds < 30
    # A finished plan sidecar may stay (it is complete, and `veil render` can use it);
    # no picture: no partial file, no staged unverified output, no final output.
    left = [p.name for p in out.rglob("*") if p.is_file()]
    assert [n for n in left if not n.endswith(".veil.json")] == []
    assert src.joinpath("a.mp4").stat().st_size > 0  # the input is untouched


# Ctrl-C as a terminal sends it: SIGINT raises KeyboardInterrupt (also when the test
# runner itself was started with SIGINT ignored, as background jobs are).
RUN_VEIL_INT = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                "from veil.cli import main; sys.argv[0] = 'veil'; main()")


def _stop_while_rendering(tmp_path: Path, sig: signal.Signals) -> tuple[int, str, Path]:
    """veil on a folder of a picture (finishes first) and a video; ``sig`` once the
    video's plan is saved and it is being rendered. Returns code, stderr, output root."""
    src = tmp_path / "in"
    if not src.exists():
        src.mkdir()
        Image.fromarray(astronaut()).resize((256, 256)).save(src / "a.png")
        _clip(src / "b.mp4", frames=360)
    root = tmp_path / sig.name
    out = root / "out"
    plan = root / "out.veil" / "plans" / "b.mp4.veil.json"
    proc = subprocess.Popen([sys.executable, "-c", RUN_VEIL_INT, str(src), "-o", str(out)],
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None and not plan.exists():
            time.sleep(0.02)
        if proc.poll() is not None:
            pytest.fail("veil finished before it could be stopped; make the clip longer")
        assert (out / "a.png").is_file()  # the picture was finished and verified
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        return proc.returncode, err, root
    finally:
        if proc.poll() is None:
            proc.kill()


def _left(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_ctrl_c_and_sigterm_stop_alike_and_report_the_finished_files(tmp_path: Path) -> None:
    from veil.jobs.interrupt import INTERRUPTED_EXIT

    left = {}
    for sig, code_wanted, word in ((signal.SIGINT, INTERRUPTED_EXIT, "interrupted"),
                                   (signal.SIGTERM, TERMINATED_EXIT, "terminated")):
        code, err, root = _stop_while_rendering(tmp_path, sig)
        assert code == code_wanted, err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1, err  # one line, not click's "Aborted!"
        assert lines[0].startswith(f"veil: {word}: 1 of 2 files finished")
        assert "nothing partial was left" in lines[0] and "report" in lines[0]
        left[sig.name] = _left(root)
        report = json.loads((root / "out.veil" / "report" / "report.json").read_text())
        assert [Path(f["input"]).name for f in report["files"]] == ["a.png"]
        assert report["files"][0]["status"] == "pass"
    # The same files stay either way: the finished picture (and its done record, for a
    # re-run to resume), the video's complete plan (for `veil render`) and the report; no
    # partial or staged video.
    assert left["SIGINT"] == left["SIGTERM"] == [
        "out.veil/done/a.png.jpg", "out.veil/done/a.png.json",
        "out.veil/plans/b.mp4.veil.json",
        "out.veil/report/failures.json", "out.veil/report/report.html",
        "out.veil/report/report.json", "out/a.png"]
