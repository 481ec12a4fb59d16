"""A plain ``pip install`` of veil (no extras) in a fresh virtual environment runs the
default command and ``veil verify`` on a picture with a face.

This is what a new user does, and it once crashed (verification needed dlib, which was an
extra). pip uses whatever package indexes and wheel cache this machine is configured with;
installing takes a minute or two, hence ``slow``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, save

pytestmark = pytest.mark.slow

# What a source distribution of veil holds: enough to build and install it.
_SOURCES = ("pyproject.toml", "README.md", "src")
_PIP_TIMEOUT_S = 1800
_RUN_TIMEOUT_S = 600


def _clean_env() -> dict[str, str]:
    """This process's environment, without anything that would point the new venv's
    Python at this checkout or at the test venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _tail(proc: subprocess.CompletedProcess[str], lines: int = 30) -> str:
    text = (proc.stdout or "") + (proc.stderr or "")
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``pip install <a copy of this checkout>``, no extras; its bin/."""
    root = tmp_path_factory.mktemp("plain-install")
    source = root / "veil-source"  # a copy: building in the checkout would leave build/ there
    source.mkdir()
    for name in _SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(path, source / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_clean_env(),
                   timeout=_RUN_TIMEOUT_S)
    bin_dir = venv / "bin"
    proc = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
                           str(source)], capture_output=True, text=True, env=_clean_env(),
                          cwd=root, timeout=_PIP_TIMEOUT_S)
    assert proc.returncode == 0, f"pip install of veil without extras failed:\n{_tail(proc)}"
    return bin_dir


def _veil(bin_dir: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "veil"), *map(str, args)], capture_output=True,
                          text=True, env=_clean_env(), cwd=cwd, timeout=_RUN_TIMEOUT_S)


def test_plain_install_runs_default_command_and_verify(plain_install: Path, tmp_path: Path,
                                                       astronaut: np.ndarray) -> None:
    # The installed veil is the copy in the new venv, not this checkout.
    where = subprocess.run([str(plain_install / "python"), "-c",
                            "import veil, sys; print(veil.__file__)"], capture_output=True,
                           text=True, env=_clean_env(), cwd=tmp_path, check=True)
    assert str(plain_install.parent) in where.stdout, where.stdout
    assert str(REPO / "src") not in where.stdout

    save(astronaut, tmp_path / "pictures" / "astronaut.jpg", quality=92)
    proc = _veil(plain_install, "pictures/astronaut.jpg", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, _tail(proc)
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "out" / "astronaut.jpg").is_file()
    reports = [p for p in tmp_path.rglob("report.json") if "pictures" not in p.parts]
    assert len(reports) == 1, reports
    report = json.loads(reports[0].read_text())
    assert report["summary"]["verdict"] == "pass"
    (entry,) = report["files"]
    assert entry["status"] == "pass"
    assert entry["faces_by_provenance"]["detected"] >= 1  # the face was masked...
    # ...and re-identified with dlib's models (the check that once crashed a plain install)
    assert entry["verification"]["checks"]["reid"] == "pass"
    assert len(entry["verification"]["reid"]["faces"]) >= 1
    assert report["settings"]["device"] == "cpu"  # plain onnxruntime: the CPU

    proc = _veil(plain_install, "verify", "pictures/astronaut.jpg", "out/astronaut.jpg",
                 "--report", "verify-report", cwd=tmp_path)
    assert proc.returncode == 0, _tail(proc)
    assert (tmp_path / "verify-report" / "report.json").is_file()

    # A plain install has onnxruntime's CPU build: asking for CUDA is a usage error.
    proc = _veil(plain_install, "pictures/astronaut.jpg", "-o", "out-cuda", "--device", "cuda",
                 cwd=tmp_path)
    assert proc.returncode == 2, _tail(proc)
    assert "onnxruntime-gpu" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out-cuda").exists()
