"""The video leak benchmark counts a clip on which a tool fails as leaked, not dropped."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from benchmarks.video_leak import Run, score_clip, score_run
from benchmarks.videogen import GtImage
from benchmarks.videogen_b import make_clip


def _clip(tmp_path: Path) -> Path:
    img = np.full((240, 360, 3), 90, np.uint8)
    img[80:140, 150:200] = (200, 160, 140)
    cv2.imwrite(str(tmp_path / "still.png"), img)
    gt = GtImage("synthetic", np.array([[150.0, 80.0, 50.0, 60.0]]), np.zeros(1, bool))
    clip = tmp_path / "clip.mp4"
    make_clip(tmp_path / "still.png", gt, clip, seed=1, frames=5, size=(160, 90))
    return clip


def test_a_failed_or_missing_output_leaks_every_face_frame(tmp_path: Path) -> None:
    clip = _clip(tmp_path)
    out = tmp_path / "out.mp4"
    for run, make_output in ((Run(1.0, 0.0, 1, "boom"), True), (Run(1.0, 0.0, 0), False)):
        out.unlink(missing_ok=True)
        if make_output:  # a tool that exits non-zero may still leave a file behind
            shutil.copy(clip, out)
        score, failed = score_run(clip, out, run)
        assert failed
        assert score.totals.counted > 0
        assert score.totals.leaked == score.totals.counted
        assert score.leaked_faces == score.faces == 1
        assert score.frames == 5


def test_a_successful_run_is_scored_on_its_output(tmp_path: Path) -> None:
    clip = _clip(tmp_path)
    out = tmp_path / "out.mp4"
    shutil.copy(clip, out)  # an output that masks nothing: leaks like a failure
    score, failed = score_run(clip, out, Run(1.0, 0.0, 0))
    assert not failed and score.totals.leaked == score.totals.counted > 0
    assert score.missing_frames == 0
    # Counted face-frames are the same whether the tool ran or failed.
    assert score_clip(clip, None, Path(str(clip) + ".gt.json")).totals.counted == \
        score.totals.counted
