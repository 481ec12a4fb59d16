"""``--device cpu|cuda|auto``: where the face detector runs, and the error when CUDA is missing.

No GPU is available where these tests run, so the CUDA path itself is not exercised here;
onnxruntime's provider list is replaced to test how each device is resolved.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from click.testing import CliRunner

from conftest import save
from veil.cli import main
from veil.plan.record import Plan
from veil.scan import centerface
from veil.scan.centerface import CenterFace, DeviceUnavailable, resolve_device
from veil.settings import ScanSettings
from veil.verify.residual import strong_settings

CPU_ONLY = ["CPUExecutionProvider"]
WITH_CUDA = ["CUDAExecutionProvider", "CPUExecutionProvider"]


@pytest.fixture()
def cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime as a plain install has it: no CUDA provider."""
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: list(CPU_ONLY))


def test_resolve_device_without_cuda(cpu_only: None) -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == "cpu"
    with pytest.raises(DeviceUnavailable, match="onnxruntime-gpu"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("gpu")


def test_resolve_device_with_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: list(WITH_CUDA))
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("cpu") == "cpu"
    assert centerface.session_providers("cuda") == WITH_CUDA
    assert centerface.session_providers("cpu") == CPU_ONLY


def test_detector_records_the_device_it_runs_on(small_astronaut: np.ndarray) -> None:
    cpu = CenterFace(device="cpu")
    assert cpu.device == "cpu"
    auto = CenterFace(device="auto")
    assert auto.device == ("cuda" if centerface.cuda_available() else "cpu")
    if auto.device == "cpu":  # the same session setup: the very same scores
        a, b = cpu.detect(small_astronaut), auto.detect(small_astronaut)
        assert len(a) >= 1
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_array_equal(a.boxes, b.boxes)


def test_environment_variable_no_longer_chooses_the_provider(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The undocumented VEIL_ORT_PROVIDER is gone; --device is the documented way.
    monkeypatch.setenv("VEIL_ORT_PROVIDER", "NoSuchExecutionProvider")
    assert CenterFace(device="cpu").device == "cpu"


def test_scan_settings_device_is_validated_and_kept_out_of_plans() -> None:
    with pytest.raises(ValueError, match="unknown device"):
        ScanSettings(device="gpu")
    s = ScanSettings(device="cpu")
    assert ScanSettings.from_dict(s.to_dict()) == s
    assert "device" not in s.plan_dict()
    assert ScanSettings.from_dict(s.plan_dict()).device == "auto"
    assert strong_settings(s).device == "cpu"  # verification scans on the same device


def test_cli_cuda_unavailable_is_a_usage_error(tmp_path: Path, cpu_only: None,
                                                small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "me.jpg")
    result = CliRunner().invoke(main, [str(src), "-o", str(tmp_path / "out"), "--device",
                                       "cuda"], catch_exceptions=False)
    assert result.exit_code == 2
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1 and "--device" in error_lines[0]
    assert "onnxruntime-gpu" in error_lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider'")
def test_cli_cuda_that_cannot_start_is_a_usage_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_astronaut: np.ndarray) -> None:
    # onnxruntime lists CUDA but cannot start it (here: a CPU-only build that claims it;
    # for real: a CUDA or cuDNN that does not match): onnxruntime falls back to the CPU,
    # which --device cuda must not do silently.
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: list(WITH_CUDA))
    with pytest.raises(DeviceUnavailable, match="could not start"):
        CenterFace(device="cuda")
    src = save(small_astronaut, tmp_path / "in" / "me.jpg")
    result = CliRunner().invoke(main, [str(src), "-o", str(tmp_path / "out"), "--device",
                                       "cuda", "--json"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "could not start" in result.stderr and result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_cli_device_choice_does_not_change_output(tmp_path: Path,
                                                  small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "me.jpg")
    runs = {}
    for device in ("cpu", "auto"):
        out, plans = tmp_path / f"out-{device}", tmp_path / f"plans-{device}"
        result = CliRunner().invoke(main, [str(src), "-o", str(out), "--plan-dir", str(plans),
                                           "--device", device, "--json", "-q"],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["settings"]["scan"]["device"] == device  # as asked
        used = doc["settings"]["device"]  # as resolved on this machine
        assert used == ("cuda" if device == "auto" and centerface.cuda_available() else "cpu")
        reports = list(tmp_path.glob(f"out-{device}/**/report.json"))
        if reports:  # wherever the report folder is, it names the device used
            assert json.loads(reports[0].read_text())["settings"]["device"] == used
        plan_file = next(plans.rglob("*.veil.json"))
        assert "device" not in json.loads(plan_file.read_text())["scan"]
        assert Plan.load(plan_file).scan.device == "auto"
        assert (out / "me.jpg").is_file()
        runs[device] = (doc["files"][0]["faces"], plan_file.read_bytes())
    assert runs["cpu"][0], "the astronaut's face was found"
    if not centerface.cuda_available():  # both ran on the CPU: the very same faces and plan
        assert runs["cpu"] == runs["auto"]
