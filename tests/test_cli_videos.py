"""A folder of videos through the ``veil`` command, without a terminal (cron, CI, a pipe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from veil.cli import main
from verify_media import astronaut, write_video


def _clip(path: Path, frames: int = 6) -> Path:
    face = np.asarray(Image.fromarray(astronaut()).resize((128, 128)))[16:112]
    return write_video(path, [np.roll(face, 2 * i, axis=1) for i in range(frames)], fps=6)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        _clip(root / name)
    return root


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("quiet", [False, True])
def test_folder_of_videos_without_a_terminal(clips: Path, tmp_path: Path, workers: str,
                                             quiet: bool) -> None:
    # CliRunner's stderr is not a terminal: no bar is drawn, the progress calls still come.
    args = [str(clips), "-o", str(tmp_path / "out"), "--workers", workers]
    result = CliRunner().invoke(main, args + (["-q"] if quiet else []),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "internal error" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4", "b.mp4", "c.mp4"]


def test_each_phase_has_its_label_and_total(clips: Path, tmp_path: Path) -> None:
    from veil.cli.output import BatchDisplay
    from veil.jobs.batch import JobOptions, collect_tasks, run_batch

    got = collect_tasks([clips / "a.mp4", clips / "b.mp4"], tmp_path / "out")
    seen: list[tuple[str, int, int | None]] = []
    display = BatchDisplay(len(got.tasks))

    def record(label: str, done: int, total: int | None) -> None:
        seen.append((label, done, total))
        display.phase(label, done, total)
        (bar,) = [t for t in display.progress.tasks if t.description.strip() == label]
        assert (bar.completed, bar.total) == (done, total)  # this phase's own count

    with display:
        results = run_batch(got.tasks, JobOptions(verify=True), on_done=display.done,
                            phase_progress=record)
    assert all(r.ok for r in results), [r.result.error for r in results]
    labels = list(dict.fromkeys(label for label, _, _ in seen))
    assert labels[:3] == ["scanning frames", "rendering frames", "verifying frames"]
    for label in labels[:3]:
        counts = [(d, t) for lb, d, t in seen if lb == label]
        assert {t for _, t in counts} == {6}  # 6 frames, not 12 for both passes
        assert max(d for d, _ in counts) == 6


def test_json_counts_faces_and_regions_of_videos(clips: Path, tmp_path: Path) -> None:
    import json

    result = CliRunner().invoke(main, [str(clips / "a.mp4"), "-o", str(tmp_path / "out"),
                                       "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    (entry,) = json.loads(result.stdout)["files"]
    assert entry["face_count"] == 1 and entry["region_count"] == 6, entry
    assert "1 face masked (6 regions over 6 video frames)" in result.stderr
    plans = tmp_path / "out.veil" / "plans"
    assert (plans / "a.mp4.veil.json").is_file() and f"plans: {plans}" in result.stderr
