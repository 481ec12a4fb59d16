"""A terminated job (SIGTERM) unwinds like Ctrl-C: no partial, staged or unverified file
is left in the output folder, and the exit code says it was terminated."""

from __future__ import annotations

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


def _terminate_when_writing(args: list[str], outdir: Path) -> tuple[int, float]:
    proc = subprocess.Popen([sys.executable, "-c", RUN_VEIL, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        code = proc.wait(timeout=60)
        return code, time.monotonic() - t0
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
    code, seconds = _terminate_when_writing([str(src), "-o", str(out),
                                             "--workers", str(workers)], out)
    assert code == TERMINATED_EXIT
    assert seconds < 30
    # A finished plan sidecar may stay (it is complete, and `veil render` can use it);
    # no picture: no partial file, no staged unverified output, no final output.
    left = [p.name for p in out.rglob("*") if p.is_file()]
    assert [n for n in left if not n.endswith(".veil.json")] == []
    assert src.joinpath("a.mp4").stat().st_size > 0  # the input is untouched
