"""The batch runner: where outputs go, what is refused before any work, and routing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import save
from veil.errors import UsageError
from veil.jobs.batch import (
    JobOptions,
    Task,
    batch_summary,
    collect_tasks,
    default_report_dir,
    media_kind,
    output_name,
    run_batch,
    side_folder,
)

PIXELS = np.full((16, 16, 3), 128, dtype=np.uint8)


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith((".jpg", ".png")):
            save(PIXELS, path)
        else:
            path.write_bytes(b"x")


def _rel(paths: list[Path], root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in paths)


def test_folder_mirrored_without_its_own_name(tmp_path: Path) -> None:
    _tree(tmp_path / "holiday", ["beach/1.jpg", "beach/deep/2.png", "top.jpg"])
    got = collect_tasks([tmp_path / "holiday"], tmp_path / "safe")
    assert _rel([t.output for t in got.tasks], tmp_path / "safe") == [
        "beach/1.jpg", "beach/deep/2.png", "top.jpg"]
    assert all(t.kind == "image" and t.plan_path is None for t in got.tasks)


def test_single_file_lands_at_its_name(tmp_path: Path) -> None:
    _tree(tmp_path / "a", ["b/photo.jpg"])
    got = collect_tasks([tmp_path / "a" / "b" / "photo.jpg"], tmp_path / "safe")
    assert [t.output for t in got.tasks] == [tmp_path / "safe" / "photo.jpg"]


def test_hidden_and_other_files_skipped_and_counted(tmp_path: Path) -> None:
    _tree(tmp_path / "in", ["ok.jpg", ".hidden.jpg", ".cache/x.jpg", "notes.txt", "raw.cr2"])
    got = collect_tasks([tmp_path / "in"], tmp_path / "out")
    assert [t.source.name for t in got.tasks] == ["ok.jpg"]
    assert got.skipped_hidden == 2  # a hidden file and a hidden folder
    assert got.skipped_other == 2


def test_explicit_non_media_and_missing_inputs_fail_one_by_one(tmp_path: Path) -> None:
    _tree(tmp_path, ["notes.txt", "ok.jpg"])
    got = collect_tasks([tmp_path / "notes.txt", tmp_path / "nope.jpg", tmp_path / "ok.jpg"],
                        tmp_path / "out")
    assert [t.source.name for t in got.tasks] == ["ok.jpg"]
    reasons = {r.source.name: r.error for r in got.failures}
    assert "not a supported" in reasons["notes.txt"]
    assert "no such file" in reasons["nope.jpg"]


def test_collisions_refused(tmp_path: Path) -> None:
    _tree(tmp_path, ["a/x.jpg", "b/x.jpg"])
    with pytest.raises(UsageError, match="both be written"):
        collect_tasks([tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg"], tmp_path / "out")
    with pytest.raises(UsageError, match="both be written"):
        collect_tasks([tmp_path / "a", tmp_path / "b"], tmp_path / "out")


def test_heic_and_jpeg_of_the_same_name_collide(tmp_path: Path) -> None:
    _tree(tmp_path / "in", ["x.jpg"])
    (tmp_path / "in" / "x.heic").write_bytes(b"not read before the check")
    with pytest.raises(UsageError, match="both be written"):
        collect_tasks([tmp_path / "in"], tmp_path / "out")


def test_same_file_twice_is_done_once(tmp_path: Path) -> None:
    _tree(tmp_path, ["in/x.jpg"])
    got = collect_tasks([tmp_path / "in" / "x.jpg", tmp_path / "in/../in/x.jpg"],
                        tmp_path / "out")
    assert len(got.tasks) == 1


@pytest.mark.parametrize("out", ["in", "in/sub", "in/new/deeper"])
def test_output_inside_input_folder_refused(tmp_path: Path, out: str) -> None:
    _tree(tmp_path / "in", ["sub/x.jpg"])
    with pytest.raises(UsageError, match="inside it"):
        collect_tasks([tmp_path / "in"], tmp_path / out)


def test_output_folder_holding_an_input_file_refused(tmp_path: Path) -> None:
    _tree(tmp_path, ["in/x.jpg"])
    with pytest.raises(UsageError, match="holds the input"):
        collect_tasks([tmp_path / "in" / "x.jpg"], tmp_path / "in")


def test_plan_dir_inside_input_refused(tmp_path: Path) -> None:
    _tree(tmp_path, ["in/x.jpg"])
    with pytest.raises(UsageError, match="plan folder"):
        collect_tasks([tmp_path / "in"], tmp_path / "out", plan_dir=tmp_path / "in" / "plans")


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    _tree(tmp_path, ["in/x.jpg", "out/x.jpg"])
    with pytest.raises(UsageError, match="already exists"):
        collect_tasks([tmp_path / "in"], tmp_path / "out")
    assert len(collect_tasks([tmp_path / "in"], tmp_path / "out", overwrite=True).tasks) == 1


def test_plan_paths_mirror_outputs(tmp_path: Path) -> None:
    _tree(tmp_path, ["in/sub/x.jpg"])
    got = collect_tasks([tmp_path / "in"], tmp_path / "out", plan_dir=tmp_path / "plans")
    assert got.tasks[0].plan_path == tmp_path / "plans" / "sub" / "x.jpg.veil.json"


def test_output_names() -> None:
    assert output_name(Path("a/IMG_1.HEIC"), "image") == "IMG_1.jpg"
    assert output_name(Path("a/x.PNG"), "image") == "x.PNG"
    assert output_name(Path("clip.mov"), "video") == "clip.mov"
    assert output_name(Path("clip.avi"), "video") == "clip.mp4"
    assert media_kind(Path("x.JPG")) == "image"
    assert media_kind(Path("x.mp4")) == "video"
    assert media_kind(Path("x.txt")) is None


def test_video_plan_goes_beside_the_output_folder_not_into_it(tmp_path: Path) -> None:
    # Plans name the original and hold its SHA-256: never in the folder to publish.
    _tree(tmp_path, ["in/sub/clip.mp4", "in/x.jpg"])
    got = collect_tasks([tmp_path / "in"], tmp_path / "out")
    plans = {t.source.name: t.plan_path for t in got.tasks}
    assert plans["clip.mp4"] == tmp_path / "out.veil" / "plans" / "sub" / "clip.mp4.veil.json"
    assert plans["x.jpg"] is None  # pictures keep a plan only with --plan-dir
    assert side_folder(tmp_path / "out") == tmp_path / "out.veil"
    assert side_folder(Path("safe/")) == Path("safe.veil")
    assert side_folder(Path(".")).name == Path.cwd().name + ".veil"
    assert default_report_dir(tmp_path / "out") == tmp_path / "out.veil" / "report"


@pytest.mark.parametrize("inputs", [["photos/sub"], ["photos/sub/x.jpg"],
                                    ["photos/sub/deeper"], ["other", "photos/sub/x.jpg"]])
def test_output_folder_holding_an_input_anywhere_below_refused(tmp_path: Path,
                                                               inputs: list[str]) -> None:
    _tree(tmp_path, ["photos/sub/x.jpg", "photos/sub/deeper/y.jpg", "other/z.jpg"])
    with pytest.raises(UsageError, match="holds the input"):
        collect_tasks([tmp_path / i for i in inputs], tmp_path / "photos")


def test_report_folder_inside_an_input_refused(tmp_path: Path) -> None:
    _tree(tmp_path, ["in/x.jpg"])
    with pytest.raises(UsageError, match="report folder"):
        collect_tasks([tmp_path / "in"], tmp_path / "out", report_dir=tmp_path / "in" / "r")
    # the default side folder of an output folder inside an input is refused too
    with pytest.raises(UsageError, match="inside it"):
        collect_tasks([tmp_path / "in"], tmp_path / "in" / "out")


def test_skipped_files_are_named_and_hidden_ones_can_be_included(tmp_path: Path) -> None:
    _tree(tmp_path / "in", [".hidden.jpg", ".cache/y.jpg", "notes.txt", "a.jpg"])
    got = collect_tasks([tmp_path / "in"], tmp_path / "out")
    assert [t.source.name for t in got.tasks] == ["a.jpg"]
    assert sorted((p.relative_to(tmp_path / "in").as_posix(), why) for p, why in got.skipped) \
        == [(".cache", "hidden"), (".hidden.jpg", "hidden"),
            ("notes.txt", "not an image or video")]
    assert (got.skipped_hidden, got.skipped_other) == (2, 1)
    got = collect_tasks([tmp_path / "in"], tmp_path / "out2", include_hidden=True)
    assert sorted(t.source.relative_to(tmp_path / "in").as_posix() for t in got.tasks) == \
        [".cache/y.jpg", ".hidden.jpg", "a.jpg"]
    assert [(p.name, why) for p, why in got.skipped] == [("notes.txt", "not an image or video")]


def test_bad_video_fails_alone_and_batch_goes_on(tmp_path: Path) -> None:
    # Not a real video: whether video support is installed or not, this file fails
    # with one line and nothing is written for it.
    _tree(tmp_path, ["in/clip.mp4"])
    (tmp_path / "in" / "clip.mp4").write_bytes(b"\x00" * 64)
    got = collect_tasks([tmp_path / "in"], tmp_path / "out")
    seen: list[str] = []
    results = [o.result for o in run_batch(got.tasks, JobOptions(),
                                           on_start=lambda t: seen.append(t.source.name))]
    assert seen == ["clip.mp4"]
    assert not results[0].ok and results[0].error and "\n" not in results[0].error
    assert not (tmp_path / "out" / "clip.mp4").exists()
    summary = batch_summary(results, got, 1.0)
    assert (summary.files, summary.done, summary.failed) == (1, 0, 1)


def test_unexpected_error_becomes_a_file_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import veil.jobs.pipeline as batch

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(batch, "anonymize_image_file", broken)
    monkeypatch.setattr(batch, "shared_scanner", lambda settings: None)
    tasks = [Task(tmp_path / f"{i}.jpg", tmp_path / "out" / f"{i}.jpg", "image") for i in (1, 2)]
    results = [o.result for o in run_batch(tasks, JobOptions())]
    assert [r.error for r in results] == ["internal error: RuntimeError: boom"] * 2


def test_output_reaches_its_final_name_only_once_verified(tmp_path: Path,
                                                          astronaut: np.ndarray,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from veil.jobs import repair
    from veil.jobs.pipeline import FAILED_MARK, STAGING_PREFIX, JobOptions, Task, run
    from veil.settings import MaskSettings

    src = save(astronaut, tmp_path / "in" / "a.png")
    good = run(Task(src, tmp_path / "ok" / "a.png", "image"), JobOptions(verify=True)).result
    assert good.ok and good.output == tmp_path / "ok" / "a.png" and good.output.exists()
    assert good.verification is not None and good.verification.passed
    # A mask far too weak to protect anyone: verification fails, repair cannot help (its
    # solid re-render is switched off here), and the file never appears under the name a
    # user would publish.
    monkeypatch.setattr(repair, "strengthen_recognisable", lambda *args: [])
    weak = JobOptions(mask=MaskSettings(method="blur", blur_ratio=0.03, noise=0), verify=True)
    bad = run(Task(src, tmp_path / "weak" / "a.png", "image"), weak).result
    assert bad.verification is not None and not bad.verification.passed
    assert not (tmp_path / "weak" / "a.png").exists()
    assert bad.output == tmp_path / "weak" / f"a{FAILED_MARK}.png" and bad.output.exists()
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(STAGING_PREFIX)]
    assert leftovers == []


def test_outputs_get_ordinary_file_permissions(tmp_path: Path, astronaut: np.ndarray) -> None:
    import os

    from veil.jobs.pipeline import JobOptions, Task, run

    src = save(astronaut, tmp_path / "a.png")
    done = run(Task(src, tmp_path / "out" / "a.png", "image"), JobOptions()).result
    assert done.output is not None
    umask = os.umask(0)
    os.umask(umask)
    assert done.output.stat().st_mode & 0o777 == 0o666 & ~umask
