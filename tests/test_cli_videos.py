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
