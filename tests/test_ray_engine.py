"""``--engine ray`` on a local Ray instance: the same outputs as the local engine, byte for
byte, and the same report. Needs the ``ray`` extra (``pip install -e '.[ray]'``)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import save
from veil.cli import main

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="ray is not installed (pip install -e '.[ray]')")


@pytest.fixture()
def local_ray() -> Iterator[None]:
    yield
    import ray

    ray.shutdown()


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def test_ray_engine_matches_local(tmp_path: Path, small_astronaut: np.ndarray,
                                  local_ray: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    src = tmp_path / "in"
    for i in range(3):
        save(np.roll(small_astronaut, 5 * i, axis=1), src / f"{i}.png")
    (src / "bad.png").write_bytes(b"not a png")
    code, _, err = run(src, "-o", tmp_path / "local", "--workers", "1")
    assert code == 1, err
    code, _, err = run(src, "-o", tmp_path / "ray", "--engine", "ray", "--workers", "2")
    assert code == 1, err
    local, on_ray = _outputs(tmp_path / "local"), _outputs(tmp_path / "ray")
    assert sorted(local) == ["0.png", "1.png", "2.png"] and on_ray == local
    reports = [json.loads((tmp_path / f"{name}.veil" / "report" / "report.json").read_text())
               for name in ("local", "ray")]
    for doc in reports:
        assert doc["summary"]["pass"] == 3 and doc["summary"]["error"] == 1
    assert [f["output_sha256"] for f in reports[0]["files"]] == \
        [f["output_sha256"] for f in reports[1]["files"]]
    failures = json.loads((tmp_path / "ray.veil" / "report" / "failures.json").read_text())
    assert [Path(f["input"]).name for f in failures["failures"]] == ["bad.png"]
    # Resumable on Ray too: nothing left to do.
    code, _, err = run(src, "-o", tmp_path / "ray", "--engine", "ray", "--workers", "2")
    assert code == 1 and "3 of 4 files are already done" in err
