"""``veil INPUT... -o OUTDIR`` (``veil protect``): mask every face in files and folders.

Collect the tasks, run them (:func:`veil.jobs.runners.run_all`, each task through
:func:`veil.jobs.pipeline.run`), write the report (:func:`veil.jobs.report.write_run_report`),
print what the user must read."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from veil import __version__
from veil.cli.group import DEFAULT_COMMAND, main
from veil.cli.output import (
    BatchDisplay,
    LineError,
    batch_json,
    interrupted_line,
    print_after_run,
)
from veil.errors import UsageError, VeilError
from veil.jobs.batch import (
    BatchInterrupted,
    JobOptions,
    Outcome,
    Task,
    batch_summary,
    collect_tasks,
    default_plan_dir,
)
from veil.jobs.image import shared_scanner
from veil.jobs.report import report_folder, side_folder, write_run_report
from veil.jobs.result import FileResult
from veil.jobs.resume import (
    Recorder,
    check_report_replaceable,
    read_failures,
    resume,
    write_failures,
)
from veil.jobs.runners import (
    ENGINES,
    default_workers,
    join_outcomes,
    make_runner,
    require_ray,
    run_all,
)
from veil.report.spool import Mapped
from veil.scan.centerface import DEVICES, resolve_device
from veil.settings import (
    FAST_THRESHOLD,
    MASK_METHODS,
    MASK_SHAPES,
    VIDEO_DETECTORS,
    MaskMethod,
    MaskSettings,
    MaskShape,
    ScanSettings,
)


@main.command(DEFAULT_COMMAND, short_help="(default) Mask faces in files and folders.",
              context_settings={"max_content_width": 100})
@click.argument("raw_inputs", metavar="INPUT...", nargs=-1, required=False,
                type=click.Path())
@click.option("-o", "--output", "raw_outdir", required=False, metavar="OUTDIR",
              type=click.Path(file_okay=False),
              help="Folder for the masked copies (created if missing; neither inside an input "
              "nor holding one). Only the copies go there: it is the folder to publish. With "
              "--engine ray, INPUT and OUTDIR may be URIs (s3://bucket/path, gs://...).")
@click.option("--method", type=click.Choice(MASK_METHODS), default=MaskSettings().method,
              show_default=True, help="How faces are masked; all are irreversible at the "
              "default strength (scaled to each face's size).")
@click.option("--shape", type=click.Choice(MASK_SHAPES), default=MaskSettings().shape,
              show_default=True, help="Shape of each mask.")
@click.option("--margin", type=click.FloatRange(0, 2), default=MaskSettings().margin,
              show_default=True, help="Added to each side of a face box, as a fraction of its "
              "size, to cover hairline and chin.")
@click.option("--threshold", type=click.FloatRange(0.01, 1), default=None,
              help="Detector confidence needed to mask a face; lower masks more (and more "
              f"non-faces).  [default: {ScanSettings().threshold}; {FAST_THRESHOLD} with --fast]")
@click.option("--fast", is_flag=True, help="One detector pass per picture instead of four "
              "(zoomed and mirrored), at threshold 0.1: the search is about 5x faster on small "
              "pictures (with --no-verify; verification, if on, then takes most of the time), "
              "but misses more small and faint faces (dev set: 8.4% of faces leaked instead "
              "of 1.4%), and verification does not find them all.")
@click.option("--passes", default=None, metavar="ZOOMS",
              help="The detector passes of a photo, as zoom factors of its own pixels, "
              "comma-separated; m before the largest repeats it mirrored. Fewer passes are "
              "faster and miss more small faces (dev set, see BENCHMARKS.md: 1,2,m2 leaked "
              "2.1%).  [default: 1,1.5,2,m2; 1 with --fast]")
@click.option("--full-search", is_flag=True, help="Run every zoomed pass over the whole "
              "photo, not only around the faces and weak candidates the first passes found "
              "(the default's adaptive search): slower (about 1.2x the default's time on small "
              "photos, 1.6x on 12 MP ones), for the utmost on a lone small face in a busy "
              "scene.")
@click.option("--keep-icc", is_flag=True, help="Keep the embedded colour (ICC) profile as it is: "
              "colour calibration, plus whatever description, copyright or device maker/model "
              "fields the profile itself carries.")
@click.option("--quality", type=click.IntRange(50, 100), default=95, show_default=True,
              help="JPEG / WebP quality of the outputs.")
@click.option("--no-audio", is_flag=True, help="Drop the sound of videos (voices identify "
              "people too).")
@click.option("--crf", type=click.IntRange(0, 51), default=20, show_default=True,
              help="Video quality (H.264 CRF; lower is better and larger).")
@click.option("--plan-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Save each file's plan (JSON) here, at the output's relative path + "
              ".veil.json. Otherwise only videos' plans are saved, to OUTDIR.veil/plans.")
@click.option("--overwrite", is_flag=True, help="Redo every file and replace existing outputs "
              "and the report of an earlier run (inputs are never overwritten). Without it a "
              "re-run resumes: files whose output is current (same input SHA-256, same "
              "settings, verified) are skipped.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Files processed in parallel (local processes)  [default: the cores this "
              "process may use; each worker's detector gets cores/workers threads].")
@click.option("--retry-failed", "retry_dir", default=None, metavar="REPORTDIR",
              help="Process again only the files that failed in the run whose report is in "
              "REPORTDIR (its failures.json; a folder, or the URI of a remote batch's "
              "report folder), with that run's inputs, output folder and settings; no INPUT "
              "or -o then.")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="Where files are processed: local processes, or a Ray cluster (needs "
              "veil[ray]; a local Ray instance unless RAY_ADDRESS or --ray-address is set).")
@click.option("--ray-address", default=None, metavar="ADDRESS",
              help="The Ray cluster for --engine ray  [default: RAY_ADDRESS, else a local "
              "instance].")
@click.option("--ray-gpus", type=click.FloatRange(0, 8), default=None, metavar="N",
              help="GPUs for each face-scanning actor with --engine ray  [default: 1 when the "
              "cluster has GPUs and onnxruntime offers CUDA, else 0].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document to stdout: "
              "per file the input, output, faces (boxes, scores) and error.")
@click.option("--no-verify", is_flag=True, help="Skip the check of the outputs (residual "
              "faces, re-identification, metadata) and the self-repair of residual faces.")
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Write report.json and report.html here "
              "[default: OUTDIR.veil/report when verifying].")
@click.option("--include-hidden", is_flag=True, help="Also process hidden files and folders "
              "(names starting with a dot) inside input folders.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary; "
              "failures are still printed.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where the face detector runs: auto uses CUDA when onnxruntime offers "
              "it (onnxruntime-gpu installed), else the CPU. Results are the same up to float "
              "rounding.")
@click.option("--video-detector", type=click.Choice(VIDEO_DETECTORS), default=None,
              help="The CenterFace graph for video frames: int8 (shipped with veil) takes "
              "about 0.6x the CPU of a 720p job but leaked more faces on hand-held test "
              "clips (11 of 104 against 6) and masks more faint textures on real clips; auto "
              "is int8 on x86-64 CPUs with AVX512-VNNI (most recent ones) and fp32 elsewhere "
              "(CUDA, other CPUs). Photos always use fp32. The plan records the graph used. "
              " [default: fp32]")
def protect(raw_inputs: tuple[str, ...], raw_outdir: str | None, method: MaskMethod,
            shape: MaskShape,
            margin: float,
            threshold: float | None, fast: bool, passes: str | None, full_search: bool,
            keep_icc: bool, quality: int, no_audio: bool, crf: int,
            plan_dir: Path | None, overwrite: bool, workers: int | None, retry_dir: str | None,
            engine: str, ray_address: str | None, ray_gpus: float | None, as_json: bool,
            no_verify: bool, report_dir: Path | None, include_hidden: bool,
            quiet: bool, device: str, video_detector: str | None) -> None:
    """Mask every face in INPUT files and folders; write clean copies under OUTDIR (default
    command: `veil INPUT... -o OUTDIR` is the same as `veil protect INPUT... -o OUTDIR`).

    A re-run of the same command resumes: it skips the files already done (output current
    and verified) and does the rest; the report covers them all."""
    from veil.jobs.remote import is_uri

    retry: set[str] | None = None
    if retry_dir is not None:
        if raw_inputs or raw_outdir is not None:
            raise click.UsageError("--retry-failed takes the inputs and -o of the earlier run; "
                                   "give no INPUT or -o with it")
        try:
            if is_uri(retry_dir):
                from veil.jobs.remote_batch import read_remote_failures

                doc = read_remote_failures(retry_dir)
            elif not Path(retry_dir).is_dir():
                raise click.BadParameter(f"{retry_dir}: no such folder",
                                         param_hint="--retry-failed")
            else:
                doc = read_failures(Path(retry_dir))
        except UsageError as exc:
            raise LineError(str(exc)) from exc
        cmd = doc["command"]
        raw_inputs = tuple(str(p) for p in cmd["inputs"])
        raw_outdir = str(cmd["outdir"])
        retry = {str(f["input"]) for f in doc["failures"]}
        if not retry:
            click.echo(f"veil: {retry_dir}: the run had no failed files; nothing to retry",
                       err=True)
            click.get_current_context().exit(0)
        method, shape, margin = cmd["method"], cmd["shape"], float(cmd["margin"])
        threshold, fast, keep_icc = cmd["threshold"], bool(cmd["fast"]), bool(cmd["keep_icc"])
        passes, full_search = cmd.get("passes"), bool(cmd.get("full_search", False))
        quality, no_audio, crf = int(cmd["quality"]), bool(cmd["no_audio"]), int(cmd["crf"])
        plan_dir = None if cmd["plan_dir"] is None else Path(cmd["plan_dir"])
        no_verify, include_hidden = bool(cmd["no_verify"]), bool(cmd["include_hidden"])
        device = device if device != "auto" else cmd["device"]
        video_detector = video_detector or cmd.get("video_detector")
    remote = any(is_uri(p) for p in (*raw_inputs, raw_outdir))
    if remote and retry_dir is not None:
        engine = "ray"  # the earlier run was one (URIs need it)
    if remote and engine != "ray":
        raise click.UsageError("URIs (s3://..., gs://...) need --engine ray")
    if retry_dir is not None and not remote:
        assert retry is not None
        report_dir = Path(retry_dir)
        retry = {str(Path(p).resolve()) for p in retry}
    inputs = tuple(Path(p) for p in raw_inputs)
    outdir: Path | None = None if raw_outdir is None else Path(raw_outdir)
    if not inputs:
        raise click.UsageError("Missing argument 'INPUT...'.")
    if outdir is None:
        raise click.UsageError("Missing option '-o' / '--output'.")
    workers = workers or default_workers()
    command: dict[str, Any] = {
        "inputs": [str(p.resolve()) for p in inputs], "outdir": str(outdir.resolve()),
        "method": method, "shape": shape, "margin": margin, "threshold": threshold,
        "fast": fast, "passes": passes, "full_search": full_search, "keep_icc": keep_icc,
        "quality": quality, "no_audio": no_audio,
        "crf": crf, "plan_dir": None if plan_dir is None else str(plan_dir.resolve()),
        "no_verify": no_verify, "include_hidden": include_hidden, "device": device,
        "video_detector": video_detector}
    if outdir is not None and outdir.exists() and not outdir.is_dir():
        raise click.BadParameter(f"{outdir} is not a folder", param_hint="-o/--output")
    if not remote:
        missing = [p for p in inputs if not p.exists()]
        if len(missing) == len(inputs):  # nothing to do: say so before anything is written
            raise LineError(f"{missing[0]}: no such file or folder"
                            + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else ""))
    chosen: dict[str, Any] = {"device": device}
    if video_detector is not None:
        chosen["video_detector"] = video_detector
    if threshold is not None:
        chosen["threshold"] = threshold
    scan = ScanSettings.fast(**chosen) if fast else ScanSettings(**chosen)
    if passes is not None:
        try:
            scan = scan.with_passes(passes)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--passes") from exc
    if full_search:
        scan = dataclasses.replace(scan, search="native")
    try:
        device_used = resolve_device(device)
        if device == "cuda":  # start it now (the jobs reuse it): a CUDA that fails is a usage error
            shared_scanner(scan)
    except VeilError as exc:
        raise click.BadParameter(str(exc), param_hint="--device") from exc
    mask = MaskSettings(method=method, shape=shape, margin=margin)
    options = JobOptions(scan=scan, mask=mask, keep_icc=keep_icc, quality=quality,
                         overwrite=overwrite, audio=not no_audio, crf=crf,
                         verify=not no_verify)
    if remote:
        from veil.jobs.remote_batch import protect_remote

        command.update(inputs=list(raw_inputs), outdir=raw_outdir)
        try:
            code = protect_remote(
                raw_inputs, str(raw_outdir), options, workers=workers, ray_address=ray_address,
                ray_gpus=ray_gpus, plan_dir=None if plan_dir is None else str(plan_dir),
                report_dir=(retry_dir if retry_dir is not None
                            else None if report_dir is None else str(report_dir)),
                include_hidden=include_hidden, quiet=quiet, retry=retry, as_json=as_json,
                settings={"scan": scan.to_dict(), "mask": mask.to_dict(), "keep_icc": keep_icc,
                          "quality": quality, "device": device_used}, command=command)
        except UsageError as exc:
            raise LineError(str(exc)) from exc
        click.get_current_context().exit(code)
    t0 = time.perf_counter()
    report_at = report_folder(report_dir, outdir, verify=not no_verify)
    try:
        collected = collect_tasks(inputs, outdir, plan_dir=plan_dir, overwrite=True,
                                  include_hidden=include_hidden, report_dir=report_at)
        if retry is not None:
            collected.failures = [o for o in collected.failures
                                  if str(o.source.resolve()) in retry]
        retried = retry
        resumed = resume(collected.tasks, options, outdir,
                         only=None if retried is None
                         else (lambda t: str(t.source.resolve()) in retried))
        todo = resumed.todo
        check_report_replaceable(report_at, [*(t.source for t in collected.tasks),
                                             *(o.source for o in collected.failures)],
                                 overwrite=overwrite)
        if engine == "ray":
            require_ray()
    except UsageError as exc:
        raise LineError(str(exc)) from exc
    # made now (after the checks that the output is outside the inputs), before any work
    side = side_folder(outdir)
    for hint, folder in (("-o/--output", outdir), ("--report", report_at), (None, side)):
        why = _cannot_create(folder)
        if not why:
            continue
        what = (f"{folder} exists but is not writable" if why == _NOT_WRITABLE
                else f"cannot create {folder}: {why}")
        if hint is None:  # the side folder
            raise LineError(f"{what} (veil keeps the plans and the records that "
                            "let a re-run resume there, beside the output folder)")
        if hint == "--report" and report_dir is None:
            raise LineError(f"{what} (the report's default folder; choose another "
                            "with --report)")
        raise click.BadParameter(what, param_hint=hint)
    recorder = Recorder(outdir, options)
    if resumed.done and not quiet:
        click.echo(f"veil: resuming: {len(resumed.done)} of {len(collected.tasks)} files are "
                   f"already done (output current and {'verified' if options.verify else 'made'}"
                   f"), {len(todo)} to do (--overwrite redoes all)", err=True)

    interrupted: BatchInterrupted | None = None
    with BatchDisplay(len(todo), quiet=quiet) as display:
        for refused in collected.failures:
            display.done(None, refused)

        def done(task: Task, outcome: Outcome) -> None:
            recorder.write(outcome)
            display.done(task, outcome)

        runner = make_runner(min(workers, len(todo)), engine=engine, ray_address=ray_address,
                             ray_gpus=ray_gpus, phase_progress=display.phase,
                             file_progress=display.file_phase)
        try:
            # plans dropped as each file is recorded (memory flat in the batch's length),
            # unless --json lists every picture's faces
            new = run_all(runner, todo, options, on_start=display.start, on_done=done,
                          keep_plans=as_json)
        except BatchInterrupted as exc:
            interrupted, new = exc, exc.outcomes
    outcomes = resumed.merged(collected.tasks, new)
    settings: dict[str, Any] = {"scan": scan.to_dict(), "mask": mask.to_dict(),
                                "keep_icc": keep_icc, "quality": quality,
                                "device": device_used}
    print_after_run(new, display.print_error)
    every = join_outcomes(collected.failures, outcomes)  # still spooled, read as needed
    report = None
    if report_at is not None:
        try:
            report = write_run_report(every, report_at, settings=settings,
                                      tool_version=__version__, skipped=collected.skipped)
            write_failures(report_at, every, command)
        except OSError as exc:
            display.print_error(report_at, f"cannot write the report ({exc.strerror or exc})")
            click.get_current_context().exit(1)
    summary = batch_summary(_results(every), collected, time.perf_counter() - t0)
    summary.report = report
    summary.resumed = len(resumed.done)
    if any(r.plan_path for r in _results(outcomes)):
        summary.plans = plan_dir or default_plan_dir(outdir)
    if interrupted is not None:
        summary.interrupted = interrupted.signal_name
        # Always said, even with -q: the run did not do what was asked.
        display.print_line(interrupted_line(summary, outdir, len(collected.tasks)))
        if as_json:
            click.echo(batch_json(list(_results(every)), summary, outdir=outdir, settings=settings,
                                  version=__version__))
        click.get_current_context().exit(interrupted.code)
    display.summary(summary, outdir)
    unverified = sum(o.failed_verification for o in new)
    if unverified and not quiet:
        display.print_error("verification", f"{unverified} output(s) failed verification; "
                            "see the lines above and the report")
    if as_json:
        click.echo(batch_json(list(_results(every)), summary, outdir=outdir, settings=settings,
                              version=__version__))
    click.get_current_context().exit(1 if summary.failed or unverified else 0)


def _results(outcomes: Sequence[Outcome]) -> Mapped[Outcome, FileResult]:
    """The outcomes' results, each read (back from the batch's spool) when asked."""
    return Mapped(outcomes, _result)


def _result(outcome: Outcome) -> FileResult:
    return outcome.result


def _cannot_create(folder: Path | None) -> str:
    """Why ``folder`` cannot be made or written to (``""`` when it can; it is made now):
    checked before any work, so that a batch does not scan every file and then fail to
    write each."""
    if folder is None:
        return ""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    if not os.access(folder, os.W_OK | os.X_OK):
        return _NOT_WRITABLE
    return ""


_NOT_WRITABLE = "not writable"
