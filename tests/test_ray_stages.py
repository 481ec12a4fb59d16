"""The Ray engine's stages (read → scan → plan → render → verify) and its remote
filesystems.

The stages are first checked in this process (no Ray needed): a photo taken through them
one after the other gives the local pipeline's output, plan and report, byte for byte.
Then on a local Ray instance (the ``ray`` extra): a failure in one stage is reported per
file and leaves nothing under a final name, and a batch read from and written to S3 (moto's
server on 127.0.0.1, no network) gives the local engine's outputs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import save
from veil.cli import main
from veil.jobs.photo_stages import run_stages
from veil.jobs.pipeline import JobOptions, Task, run
from veil.jobs.remote import Uri, is_uri, join, sibling

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="ray is not installed (pip install -e '.[ray]')")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _inputs(folder: Path, picture: np.ndarray) -> Path:
    save(picture, folder / "a.png")
    save(np.roll(picture, 7, axis=1), folder / "sub" / "b.jpg", quality=90)
    (folder / "bad.png").write_bytes(b"not a png")
    return folder


def test_uri_paths() -> None:
    q = "s3://b/out?endpoint_override=h:1&scheme=http"
    assert is_uri(q) and not is_uri("/tmp/x") and not is_uri("c:/x") and not is_uri("a/b")
    assert join(q, "sub/x.jpg") == "s3://b/out/sub/x.jpg?endpoint_override=h:1&scheme=http"
    assert sibling(q, ".veil") == "s3://b/out.veil?endpoint_override=h:1&scheme=http"
    assert Uri(join(q, "sub/x.jpg")).name == "x.jpg"
    assert Uri(join(q, "sub/x.jpg")).parent == join(q, "sub")


@pytest.mark.parametrize("verify", [True, False])
def test_stages_in_one_process_match_the_pipeline(tmp_path: Path, small_astronaut: np.ndarray,
                                                  verify: bool) -> None:
    src = _inputs(tmp_path / "in", small_astronaut)
    options = JobOptions(verify=verify)
    outcomes = {}
    for engine, go in (("local", run), ("stages", run_stages)):
        out = tmp_path / engine
        outcomes[engine] = [
            go(Task(src / rel, out / rel, "image", tmp_path / f"{engine}-plans" / f"{rel}.json"),
               options)
            for rel in ("a.png", "sub/b.jpg", "bad.png")]
    assert _files(tmp_path / "local") == _files(tmp_path / "stages")
    assert sorted(_files(tmp_path / "local")) == ["a.png", "sub/b.jpg"]
    assert _files(tmp_path / "local-plans") == _files(tmp_path / "stages-plans")
    for local, staged in zip(outcomes["local"], outcomes["stages"], strict=True):
        a, b = local.report_entry().to_dict(), staged.report_entry().to_dict()
        for entry in (a, b):
            entry.pop("timings")  # seconds
            entry.pop("output")
            if entry["verification"]:
                entry["verification"].pop("seconds")
        assert a == b
        assert (local.result.faces, local.result.regions) == \
            (staged.result.faces, staged.result.regions)
    assert outcomes["stages"][2].error == outcomes["local"][2].error


@pytest.mark.parametrize("go", [run, run_stages], ids=["pipeline", "stages"])
def test_a_failing_stage_leaves_nothing(tmp_path: Path, small_astronaut: np.ndarray,
                                        go: Any) -> None:
    """The render stage cannot save the plan (a file is where its folder must be): the
    file fails, and neither its output nor its staged output is left behind (the local
    pipeline left ``.veil-unverified.b.jpg``)."""
    src = _inputs(tmp_path / "in", small_astronaut)
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "sub").write_text("a file, not a folder")
    task = Task(src / "sub" / "b.jpg", tmp_path / "out" / "sub" / "b.jpg", "image",
                plans / "sub" / "b.jpg.json")
    outcome = go(task, JobOptions(verify=True))
    assert not outcome.ok and outcome.error
    assert not (tmp_path / "out").exists() or _files(tmp_path / "out") == {}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray instance for the module (started by the first batch); the S3
    credentials are in the environment before it starts, so its workers have them."""
    keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    before = {k: os.environ.get(k) for k in [*keys, "RAY_ADDRESS"]}
    os.environ.update(keys)
    os.environ.pop("RAY_ADDRESS", None)
    yield
    import ray

    ray.shutdown()
    for k, v in before.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stderr


@needs_ray
def test_ray_stage_failure_is_reported_per_file(tmp_path: Path, small_astronaut: np.ndarray,
                                                local_ray: None) -> None:
    src = _inputs(tmp_path / "in", small_astronaut)
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "sub").write_text("a file, not a folder")
    code, err = cli(src, "-o", tmp_path / "out", "--engine", "ray", "--workers", "2",
                    "--plan-dir", plans)
    assert code == 1, err
    assert _files(tmp_path / "out") == {"a.png": (tmp_path / "out" / "a.png").read_bytes()}
    failures = json.loads((tmp_path / "out.veil" / "report" / "failures.json").read_text())
    failed = {Path(f["input"]).name: f["reason"] for f in failures["failures"]}
    assert sorted(failed) == ["b.jpg", "bad.png"], failed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def s3(local_ray: None) -> Iterator[str]:
    """A bucket on moto's S3 server (127.0.0.1); yields the query that points pyarrow at it."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        pytest.skip("moto's server is not installed (pip install 'moto[server]')")
    from moto.server import ThreadedMotoServer
    from pyarrow.fs import S3FileSystem

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http",
                     region="us-east-1", allow_bucket_creation=True).create_dir("bucket")
        yield f"?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    finally:
        server.stop()


@needs_ray
def test_ray_reads_and_writes_s3(tmp_path: Path, small_astronaut: np.ndarray,
                                 s3: str) -> None:
    from veil.jobs import remote as rfs
    from verify_media import write_video

    src = _inputs(tmp_path / "in", small_astronaut)
    # A video goes through in one piece (the scan stage runs its whole pipeline).
    write_video(src / "clip.mp4", [np.roll(small_astronaut, 2 * i, axis=1) for i in range(6)],
                fps=6)
    for rel, data in _files(src).items():
        rfs.write_bytes(f"s3://bucket/in/{rel}{s3}", data)
    code, err = cli(src, "-o", tmp_path / "local", "--workers", "1")
    assert code == 1, err
    out = f"s3://bucket/out{s3}"
    code, err = cli(f"s3://bucket/in{s3}", "-o", out, "--engine", "ray", "--workers", "2")
    assert code == 1, err
    local = _files(tmp_path / "local")
    assert sorted(rfs.list_files(out)) == sorted(local)
    assert {rel: rfs.read_bytes(join(out, rel)) for rel in local} == local
    report = f"s3://bucket/out.veil/report{s3}"
    assert sorted(rfs.list_files(report)) == ["failures.json", "report.html", "report.json"]
    doc = json.loads(rfs.read_bytes(join(report, "report.json")))
    assert doc["summary"]["pass"] == 3 and doc["summary"]["error"] == 1
    assert {f["input"].split("?")[0] for f in doc["files"]} == {
        "s3://bucket/in/a.png", "s3://bucket/in/sub/b.jpg", "s3://bucket/in/bad.png",
        "s3://bucket/in/clip.mp4"}
    plans = f"s3://bucket/out.veil/plans{s3}"
    assert rfs.list_files(plans) == ["clip.mp4.veil.json"]
    assert rfs.read_bytes(join(plans, "clip.mp4.veil.json")) == \
        (tmp_path / "local.veil" / "plans" / "clip.mp4.veil.json").read_bytes()
    failures = json.loads(rfs.read_bytes(join(report, "failures.json")))
    assert [f["input"].split("?")[0] for f in failures["failures"]] == ["s3://bucket/in/bad.png"]
    everything = rfs.list_files("s3://bucket" + s3)
    assert not [k for k in everything if rfs.PARTIAL_PREFIX in k or ".veil-unverified" in k]
    # Each published file has a done record beside OUTDIR (never in it).
    assert rfs.list_files(f"s3://bucket/out.veil/done{s3}") == [
        "a.png.json", "clip.mp4.json", "sub/b.jpg.json"]


def _cli_out(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@needs_ray
def test_ray_s3_batch_resumes_retries_and_prints_json(tmp_path: Path,
                                                      small_astronaut: np.ndarray,
                                                      s3: str) -> None:
    """A remote batch behaves like a local folder: a re-run skips the files whose output
    and plan are current, a changed input is redone, --retry-failed takes the report's
    URI, --json prints the batch's document; an output veil has no record of is refused.
    (Its own folder in the bucket: moto's state outlives a server in this process.)"""
    from veil.jobs import remote as rfs

    src = _inputs(tmp_path / "in", small_astronaut)
    for rel, data in _files(src).items():
        rfs.write_bytes(f"s3://bucket/r/in/{rel}{s3}", data)
    inp, out = f"s3://bucket/r/in{s3}", f"s3://bucket/r/out{s3}"
    report = f"s3://bucket/r/out.veil/report{s3}"
    code, err = cli(inp, "-o", out, "--engine", "ray", "--workers", "2")
    assert code == 1, err
    first = {rel: rfs.read_bytes(join(out, rel)) for rel in rfs.list_files(out)}
    assert sorted(first) == ["a.png", "sub/b.jpg"]
    # A killed run's temporary upload is removed; nothing done is redone.
    rfs.write_bytes(join(out, rfs.PARTIAL_PREFIX + "1234abcd.c.png"), b"partial")
    code, out_json, err = _cli_out(inp, "-o", out, "--engine", "ray", "--json")
    assert code == 1, err
    # (bad.png failed: it is done again, as in a local batch)
    assert "resuming: 2 of 3 files are already done" in err and "1 to do" in err
    doc = json.loads(out_json)
    assert doc["summary"]["resumed"] == 2 and doc["summary"]["files"] == 3
    assert doc["summary"]["failed"] == 1
    assert sorted(f["input"].split("?")[0] for f in doc["files"]) == [
        "s3://bucket/r/in/a.png", "s3://bucket/r/in/bad.png", "s3://bucket/r/in/sub/b.jpg"]
    assert sorted(rfs.list_files(out)) == ["a.png", "sub/b.jpg"]
    assert {rel: rfs.read_bytes(join(out, rel)) for rel in first} == first
    rep = json.loads(rfs.read_bytes(join(report, "report.json")))
    assert rep["summary"]["pass"] == 2 and rep["summary"]["error"] == 1
    # A changed input is redone, the others skipped (--json lists the new one's faces).
    changed = np.roll(small_astronaut, 31, axis=0)
    save(changed, tmp_path / "changed.png")
    rfs.write_bytes(f"s3://bucket/r/in/a.png{s3}", (tmp_path / "changed.png").read_bytes())
    code, out_json, err = _cli_out(inp, "-o", out, "--engine", "ray", "--json")
    assert code == 1, err
    assert "resuming: 1 of 3 files are already done" in err and "2 to do" in err
    doc = json.loads(out_json)
    assert doc["summary"]["resumed"] == 1
    new_a = [f for f in doc["files"] if f["input"].startswith("s3://bucket/r/in/a.png")][0]
    assert new_a["faces"] and new_a["error"] is None
    assert rfs.read_bytes(join(out, "a.png")) != first["a.png"]
    assert rfs.read_bytes(join(out, "sub/b.jpg")) == first["sub/b.jpg"]
    # The failed file, fixed, retried from the report's URI: only it is processed.
    rfs.write_bytes(f"s3://bucket/r/in/bad.png{s3}", (tmp_path / "changed.png").read_bytes())
    code, err = cli("--retry-failed", report)
    assert code == 0, err
    assert "resuming: 2 of 3 files are already done" in err and "1 to do" in err
    rep = json.loads(rfs.read_bytes(join(report, "report.json")))
    assert rep["summary"]["pass"] == 3 and rep["summary"]["files"] == 3
    assert json.loads(rfs.read_bytes(join(report, "failures.json")))["failures"] == []
    assert sorted(rfs.list_files(out)) == ["a.png", "bad.png", "sub/b.jpg"]
    everything = rfs.list_files("s3://bucket/r" + s3)
    assert not [k for k in everything if rfs.PARTIAL_PREFIX in k or ".veil-unverified" in k]
    # Fail closed: an output veil has no record of is not replaced without --overwrite.
    other = f"s3://bucket/r/other{s3}"
    rfs.write_bytes(join(other, "a.png"), b"someone else's file")
    code, err = cli(inp, "-o", other, "--engine", "ray")
    assert code == 2 and "already exists" in err and "no record" in err
    assert rfs.read_bytes(join(other, "a.png")) == b"someone else's file"


def test_uris_need_the_ray_engine(tmp_path: Path) -> None:
    code, err = cli("s3://bucket/in", "-o", tmp_path / "out")
    assert code == 2 and "need --engine ray" in err
    assert not (tmp_path / "out").exists()
