"""Shared fixtures: real face pictures built at test time, and the shared data folder.

The core tests need nothing but what they generate: the astronaut photograph that
scikit-image ships (public domain, NASA) has one clear face. Tests that need the
evaluation data in ``../shared/data`` ask for the ``shared_data`` fixture, which skips
when that folder is absent (a fresh clone elsewhere has none).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# The astronaut's face in the 512x512 photograph (x1, y1, x2, y2), measured by eye with
# some slack: eyes, nose and mouth lie well inside it.
ASTRONAUT_FACE_512 = (185, 75, 265, 175)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """The 512x512 RGB astronaut photograph (one face)."""
    from skimage.data import astronaut as load

    return np.ascontiguousarray(load())


@pytest.fixture(scope="session")
def small_astronaut(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut at 256x256 (face about 45 px wide): fast to scan."""
    return np.asarray(Image.fromarray(astronaut).resize((256, 256), Image.Resampling.LANCZOS))


def face_box(size: int) -> tuple[int, int, int, int]:
    """The astronaut's face box in the photograph resized to ``size`` x ``size``."""
    f = size / 512
    x1, y1, x2, y2 = ASTRONAUT_FACE_512
    return int(x1 * f), int(y1 * f), int(x2 * f), int(y2 * f)


def save(pixels: np.ndarray, path: Path, **kwargs: object) -> Path:
    """Save an RGB array with Pillow (format from the suffix), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kwargs)
    return path


def read_rgb(path: Path) -> np.ndarray:
    """Pixels of an image file as an RGB array (no orientation handling)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture()
def shared_data() -> Path:
    """``../shared/data`` beside the repository; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared evaluation data not found at {SHARED_DATA} (../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def faceless_s18(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """``videos/source_s18.mp4`` through the video job with a detector that finds nothing,
    so every frame is copied unmasked: ``(clip, FileResult)``, made once for the tests that
    judge how faithfully and compactly veil copies a real clip."""
    from veil.detections import Detections
    from veil.jobs.video import anonymize_video
    from veil.scan.scanner import Scanner
    from veil.settings import MaskSettings, ScanSettings

    clip = SHARED_DATA / "videos" / "source_s18.mp4"
    if not clip.exists():
        pytest.skip("../shared/data/videos is absent")

    class Nothing:
        name = "nothing"

        def detect(self, frame: np.ndarray) -> Detections:
            return Detections.empty()

    out = tmp_path_factory.mktemp("faceless_s18") / "out.mp4"
    res = anonymize_video(clip, out, scan=ScanSettings(),
                          mask=MaskSettings(method="solid", shape="box", margin=0.0),
                          scanner=Scanner(ScanSettings(), detector=Nothing()))
    return clip, res
