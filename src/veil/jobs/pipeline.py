"""The pipeline: the one place where a file goes through its stages.

``run(task, options)`` takes one :class:`Task` (an input file, where its output goes,
and either nothing, to scan it, or a :class:`~veil.plan.record.Plan` to render) through

1. **scan or render**: the image, animation or video job (scan → plan → render), or
   the rendering of the task's plan (no scan);
2. **verification and self-repair** (unless ``options.verify`` is off): the output is
   made under a hidden staging name, checked as an adversary would check it, repaired
   when a face is still visible (:mod:`veil.jobs.repair`);
3. **publishing**: the staged output gets its final name once it passed (else
   ``NAME.verification-failed.EXT``);
4. **the report entry**: what ``report.json`` says about the file;

and returns one typed :class:`Outcome`. Every shell calls it: the command line
(``veil``, ``veil render``), the Python API (:mod:`veil.api`) and every runner
(:mod:`veil.jobs.runners`); none of them repeats a step. Writing the report is one
step after the runner (:func:`veil.jobs.report.write_run_report`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from veil.errors import VeilError
from veil.jobs.image import (
    anonymize_image_file,
    check_output_path,
    render_image_plan,
    shared_scanner,
)
from veil.jobs.result import FileResult, PhaseProgress, Progress, Verdict, finish_counts
from veil.media.kinds import MediaKind
from veil.plan.record import Plan
from veil.plan.track import TrackSettings
from veil.report.json_report import ReportEntry
from veil.settings import MaskSettings, ScanSettings

#: An output is written under this hidden prefix until it has passed verification.
STAGING_PREFIX = ".veil-unverified."
#: An output that failed verification is published as ``NAME.verification-failed.EXT``.
FAILED_MARK = ".verification-failed"


@dataclass(frozen=True)
class Task:
    """One input file, where its output (and optional plan file) go, and, to render a
    saved plan instead of scanning, that ``plan`` (``veil render``, the review page)."""

    source: Path
    output: Path
    kind: MediaKind
    plan_path: Path | None = None
    plan: Plan | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class JobOptions:
    """Everything a job needs besides its paths (picklable, for worker processes).

    Every setting that changes an output is here: how faces are searched (``scan``),
    followed through a video (``track``) and masked (``mask``), and how the output is
    written (``keep_icc``, ``quality``, ``audio``, ``crf``).
    """

    scan: ScanSettings = field(default_factory=ScanSettings)
    mask: MaskSettings = field(default_factory=MaskSettings)
    keep_icc: bool = False
    quality: int = 95
    overwrite: bool = False
    audio: bool = True
    crf: int = 20
    verify: bool = False  # verify (and self-repair) each output: veil.jobs.repair
    track: TrackSettings = field(default_factory=TrackSettings)


@dataclass
class Outcome:
    """What the pipeline made of one task: the job's :class:`FileResult` (where the
    output went, faces and regions masked, or the error), its :class:`Verdict` when it
    was verified (``result.verification``), and its report entry."""

    task: Task
    result: FileResult
    entry: ReportEntry | None = None  # set when verified; see report_entry()

    @property
    def ok(self) -> bool:
        """The output was written (it may still have failed verification)."""
        return self.result.ok

    @property
    def source(self) -> Path:
        return self.result.source

    @property
    def output(self) -> Path | None:
        """Where the output went (``None`` when the job failed)."""
        return self.result.output

    @property
    def error(self) -> str | None:
        """Why the job failed, one line; ``None`` when the output was written."""
        return self.result.error

    @property
    def verification(self) -> Verdict | None:
        return self.result.verification

    @property
    def failed_verification(self) -> bool:
        """Verified and did not pass (or verification could not run)."""
        return self.verification is not None and not self.verification.passed

    @property
    def notes(self) -> list[str]:
        """What the user should know about this file, one line each: what of the source
        the output does not carry (a HEIF's further images, a motion photo's video) and
        the warnings of verification (a face the user's plan does not hold was masked)."""
        return [*self.result.extra.get("notes", []), *self.result.extra.get("warnings", [])]

    def report_entry(self) -> ReportEntry:
        """The report's entry for this file (made when first asked for a file that was
        not verified: the SHA-256 of input and output are read then)."""
        if self.entry is None:
            self.entry = unverified_entry(self.result)
            _add_notes(self.entry, self.notes)
        return self.entry


def unverified_entry(result: FileResult) -> ReportEntry:
    """The report entry of a job that was not verified (or failed before writing)."""
    plan = result.plan
    if result.ok and plan is None and result.plan_path is not None:
        try:
            plan = Plan.load(result.plan_path)
        except (OSError, ValueError):
            plan = None
    return ReportEntry.for_files(result.source, result.output, kind=result.kind, plan=plan,
                                 timings={"job": result.seconds}, error=result.error)


def _add_notes(entry: ReportEntry, notes: list[str]) -> None:
    for note in notes:
        if note not in entry.notes:
            entry.notes.append(note)


def refused(source: Path, error: str, kind: MediaKind = "image") -> Outcome:
    """The outcome of an input turned down before any work."""
    return Outcome(Task(source, source, kind), FileResult(source=source, kind=kind, error=error))


def run(task: Task, options: JobOptions, progress: Progress | None = None, *,
        phases: PhaseProgress | None = None) -> Outcome:
    """Take one task through its stages in this process (the scanner is shared
    process-wide) and return its :class:`Outcome`.

    ``progress(done, total)`` gets the frames of a video job as the job reports them;
    ``phases(label, done, total)`` gets each phase apart instead (scanning frames,
    rendering frames, verifying frames, repairing). Never raises for a per-file problem;
    unexpected exceptions become an error too, so one file cannot stop a batch.
    """
    job_progress = progress if phases is None else _job_phases(task.kind, phases)
    if not options.verify:
        return Outcome(task, finish_counts(_make(task, options, job_progress)))
    # Fail closed: the output is made, verified and repaired under a hidden staging name,
    # and reaches its final name only once verified. One that still fails verification is
    # kept, for the report's reader, under a name that says so.
    try:
        check_output_path(task.source, task.output, overwrite=options.overwrite)
    except VeilError as exc:
        return Outcome(task, FileResult(source=task.source, kind=task.kind, error=str(exc)))
    staged = replace(task, output=staged_path(task.output))
    result = _make(staged, replace(options, overwrite=True), job_progress)
    return verify_and_publish(task, options, result, phases)


def verify_and_publish(task: Task, options: JobOptions, result: FileResult,
                       phases: PhaseProgress | None = None) -> Outcome:
    """Stages 2 to 4 of a verified job: verify (and repair) ``result``, an output made
    under its staging name (:func:`staged_path` of ``task.output``), publish it, and make
    its report entry. The Ray engine's verify stage calls this too."""
    entry = None
    if not result.ok and result.output is not None:
        # the job wrote its output and then failed (e.g. its plan could not be saved):
        # nothing unverified stays, not even under the staging name
        Path(result.output).unlink(missing_ok=True)
        result.output = None
    if result.ok and result.output is not None:
        from veil.jobs.repair import RepairOptions, verify_and_repair

        staged_file = Path(result.output)
        try:
            result, entry = verify_and_repair(
                result, RepairOptions(keep_icc=options.keep_icc, quality=options.quality,
                                      audio=options.audio, crf=options.crf),
                phases=phases, user_plan=task.plan is not None)
        except BaseException:
            # interrupted (Ctrl-C, a termination signal) or broken: no unverified output stays
            staged_file.unlink(missing_ok=True)
            raise
        _publish(result, task.output, overwrite=options.overwrite)
        if entry is not None:
            entry.output = result.output
            entry.error = entry.error or result.error
    outcome = Outcome(task, finish_counts(result), entry)
    if entry is not None:
        _add_notes(entry, outcome.notes)
    return outcome


def _make(task: Task, options: JobOptions, progress: Progress | None) -> FileResult:
    """Stage 1: scan and render (or render the task's plan) to ``task.output``."""
    t0 = time.perf_counter()
    try:
        if task.plan is not None:
            result = _render(task, options, progress)
            result.plan = result.plan or task.plan
            return result
        if task.kind == "video":
            from veil.jobs.video import anonymize_video

            check_output_path(task.source, task.output, overwrite=options.overwrite)
            return anonymize_video(task.source, task.output, scan=options.scan,
                                   mask=options.mask, plan_path=task.plan_path,
                                   audio=options.audio, crf=options.crf,
                                   scanner=shared_scanner(options.scan), progress=progress,
                                   overwrite=options.overwrite, track=options.track)
        if progress is not None:  # a picture is one step: its start and its end
            progress(0, 1)
        made = anonymize_image_file(task.source, task.output, scan=options.scan,
                                    mask=options.mask, scanner=shared_scanner(options.scan),
                                    plan_path=task.plan_path, keep_icc=options.keep_icc,
                                    quality=options.quality, overwrite=options.overwrite,
                                    track=options.track)
        if progress is not None:
            progress(1, 1)
        return made
    except Exception as exc:  # noqa: BLE001 - a batch must go on; reported per file
        first = str(exc).splitlines()[0] if str(exc) else ""
        return FileResult(source=task.source, kind=task.kind,
                          error=f"internal error: {type(exc).__name__}: {first}",
                          seconds=time.perf_counter() - t0)


def _render(task: Task, options: JobOptions, progress: Progress | None) -> FileResult:
    plan = task.plan
    assert plan is not None
    if plan.media.kind == "video":
        from veil.jobs.video import render_video_plan

        return render_video_plan(task.source, plan, task.output, audio=options.audio,
                                 crf=options.crf, progress=progress,
                                 overwrite=options.overwrite)
    return render_image_plan(task.source, plan, task.output, keep_icc=options.keep_icc,
                             quality=options.quality, overwrite=options.overwrite)


def _job_phases(kind: MediaKind, phases: PhaseProgress) -> Progress:
    """A job's ``progress(done, total)`` as phases: a video job counts the frames of both
    its passes (``total`` = 2 x frames), scanning then rendering."""
    state = {"render": False}

    def report(done: int, total: int | None) -> None:
        if kind != "video" or total is None:
            phases("frames" if kind == "video" else "scanning and masking", done, total)
            return
        half = total // 2
        if done > half:
            state["render"] = True
        if state["render"]:
            phases("rendering frames", max(0, done - half), half)
        else:
            phases("scanning frames", done, half)

    return report


def staged_path(output: Path) -> Path:
    """The hidden name an output is written under until it has passed verification."""
    return output.with_name(STAGING_PREFIX + output.name)


def _publish(result: FileResult, checked: Path, *, overwrite: bool) -> None:
    """Move a verified output from its staging name to its final name (or, when it
    failed verification, to the final name marked ``.verification-failed``).

    ``checked`` is the output path the batch already cleared; any other final name (a
    suffix corrected by the job, the failure mark) must not replace an existing file
    unless ``overwrite``."""
    staged = Path(result.output)  # type: ignore[arg-type]
    final = staged.with_name(staged.name.removeprefix(STAGING_PREFIX))
    passed = result.verification is not None and result.verification.passed
    if not passed:
        final = final.with_name(final.stem + FAILED_MARK + final.suffix)
    try:
        if final != checked and final.exists() and not overwrite:
            raise VeilError(f"output {final} exists (use --overwrite to replace outputs)")
        os.replace(staged, final)
    except (OSError, VeilError) as exc:
        staged.unlink(missing_ok=True)
        result.output = None
        result.error = str(exc)
        return
    result.output = final
