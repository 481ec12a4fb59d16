"""The batch runner: many inputs (files and folders) → jobs → one result per file.

It decides, before any work, where every output goes (mirrored under the output
folder), refuses unsafe or ambiguous requests (collisions, writing into an input
folder, overwriting inputs or existing outputs), and then runs the image or video
job for each file, in this process or in a local process pool.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from veil.errors import UsageError, VeilError
from veil.jobs.image import anonymize_image_file, check_output_path, same_file, shared_scanner
from veil.jobs.interrupt import INTERRUPTED_EXIT, TERMINATED_EXIT, exit_on_termination
from veil.jobs.result import FileResult, PhaseProgress, Progress, finish_counts
from veil.settings import MaskSettings, ScanSettings

MediaKind = Literal["image", "video"]

# Used only to recognise video files while the video module is not installed.
_FALLBACK_VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".3gp"})
_FALLBACK_IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".gif"}
)
PLAN_SUFFIX = ".veil.json"
VIDEO_MISSING = "video support not installed yet"
#: The folder beside OUTDIR that holds what must not be published with the outputs:
#: ``<OUTDIR>.veil/plans`` and ``<OUTDIR>.veil/report`` (both name the originals and
#: hold their SHA-256).
SIDE_SUFFIX = ".veil"
HIDDEN = "hidden"
NOT_MEDIA = "not an image or video"


def side_folder(outdir: str | os.PathLike[str]) -> Path:
    """``<OUTDIR>.veil``: the folder beside ``outdir`` for its plans and report, never
    inside it (``safe/`` → ``safe.veil/``)."""
    out = Path(outdir)
    if out.name in ("", ".", ".."):
        out = out.resolve()
    return out.parent / (out.name + SIDE_SUFFIX)


def default_plan_dir(outdir: str | os.PathLike[str]) -> Path:
    """Where plans go when ``--plan-dir`` is not given: ``<OUTDIR>.veil/plans``."""
    return side_folder(outdir) / "plans"


def default_report_dir(outdir: str | os.PathLike[str]) -> Path:
    """Where the report goes when ``--report`` is not given: ``<OUTDIR>.veil/report``."""
    return side_folder(outdir) / "report"


def image_suffixes() -> frozenset[str]:
    """Lower-case suffixes (with dot) of the image files veil reads."""
    try:
        from veil.media.images import IMAGE_SUFFIXES
    except ImportError:  # pragma: no cover - media module not there yet
        return _FALLBACK_IMAGE_SUFFIXES
    return frozenset(s.lower() for s in IMAGE_SUFFIXES)


def video_suffixes() -> frozenset[str]:
    """Lower-case suffixes (with dot) of the video files veil recognises."""
    try:
        from veil.media.video import VIDEO_SUFFIXES
    except ImportError:
        return _FALLBACK_VIDEO_SUFFIXES
    return frozenset(s.lower() for s in VIDEO_SUFFIXES)


def media_kind(path: Path) -> MediaKind | None:
    """``"image"``, ``"video"`` or ``None`` (not a media file), from the file name."""
    suffix = path.suffix.lower()
    if suffix in video_suffixes():
        return "video"
    if suffix in image_suffixes():
        return "image"
    return None


# Containers the video writer produces under their own name; other video files become .mp4.
_KEPT_VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv"})


def output_name(path: Path, kind: MediaKind) -> str:
    """File name of the output for ``path``: the same name, except that HEIC/HEIF
    become ``.jpg`` and videos in containers veil does not write become ``.mp4``."""
    suffix = path.suffix.lower()
    if kind == "video":
        return path.name if suffix in _KEPT_VIDEO_SUFFIXES else path.stem + ".mp4"
    if suffix in (".heic", ".heif"):
        return path.stem + ".jpg"
    return path.name


@dataclass(frozen=True)
class Task:
    """One input file and where its output (and optional plan) go."""

    source: Path
    output: Path
    kind: MediaKind
    plan_path: Path | None = None


@dataclass
class Collected:
    """What :func:`collect_tasks` found: the tasks, the inputs refused one by one,
    and how many folder entries were skipped."""

    tasks: list[Task] = field(default_factory=list)
    failures: list[FileResult] = field(default_factory=list)
    skipped_hidden: int = 0
    skipped_other: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (path, HIDDEN | NOT_MEDIA)

    def skip(self, path: Path, why: str) -> None:
        self.skipped.append((path, why))
        if why == HIDDEN:
            self.skipped_hidden += 1
        else:
            self.skipped_other += 1


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _walk_media(folder: Path, collected: Collected, include_hidden: bool = False
                ) -> Iterable[Path]:
    """Media files under ``folder`` (recursive, sorted); hidden entries (unless
    ``include_hidden``) and other files are listed as skipped. Symlinked folders are not
    followed (no loops)."""
    for root, dirs, files in os.walk(folder):
        if not include_hidden:
            for d in sorted(d for d in dirs if _is_hidden(d)):
                collected.skip(Path(root) / d, HIDDEN)
            dirs[:] = [d for d in dirs if not _is_hidden(d)]
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if _is_hidden(name) and (not include_hidden or name.startswith(STAGING_PREFIX)):
                collected.skip(path, HIDDEN)  # never veil's own unverified staging files
            elif media_kind(path) is None:
                collected.skip(path, NOT_MEDIA)
            else:
                yield path


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def collect_tasks(inputs: Sequence[str | os.PathLike[str]], outdir: str | os.PathLike[str], *,
                  plan_dir: str | os.PathLike[str] | None = None, overwrite: bool = False,
                  video_plans: bool = True, include_hidden: bool = False,
                  report_dir: str | os.PathLike[str] | None = None) -> Collected:
    """Map every input file to its output under ``outdir``, before any work is done.

    - a file lands at ``outdir/<its name>``;
    - a folder's media files land at their path *relative to that folder*
      (``holiday/beach/1.jpg`` → ``outdir/beach/1.jpg``; the folder's own name is not kept);
    - with ``plan_dir``, plans go to ``plan_dir/<output's relative path>.veil.json``;
      videos always get a plan, in :func:`default_plan_dir` (``<OUTDIR>.veil/plans``)
      unless ``plan_dir`` is given (``video_plans=False`` turns that off);
    - hidden files and folders are skipped (and listed) unless ``include_hidden``.

    Raises :class:`UsageError` when two inputs map to the same output, when ``outdir``,
    ``plan_dir``, ``report_dir`` or the folder beside ``outdir`` for plans and report is
    an input folder or inside one, when ``outdir`` holds an input file or folder anywhere
    below it, when an output would be an input, or when outputs exist and ``overwrite``
    is false. Inputs that do not exist or are not media files come back in ``failures``.
    """
    out_given = Path(outdir)
    out_root = out_given.resolve()
    plan_root = Path(plan_dir).resolve() if plan_dir is not None else None
    video_plan_dir = Path(plan_dir) if plan_dir is not None else default_plan_dir(outdir)
    guarded = [("output folder", out_given), ("plan folder", video_plan_dir),
               ("report folder", Path(report_dir) if report_dir is not None
                else default_report_dir(outdir))]
    collected = Collected()
    pairs: list[tuple[Path, Path, MediaKind]] = []  # source, relative output, kind
    for raw in inputs:
        path = Path(raw)
        here = path.resolve()
        if path.is_dir():
            for what, given in guarded:
                if _inside(given.resolve(), here):
                    raise UsageError(f"the {what} {given} is the input folder {path} "
                                     "or inside it; choose a folder outside it")
        if path.exists() and _inside(here, out_root):
            raise UsageError(f"the output folder {outdir} holds the input {path}; "
                             "choose an output folder outside the inputs")
        if path.is_dir():
            for file in _walk_media(path, collected, include_hidden):
                kind = media_kind(file)
                assert kind is not None
                rel = file.relative_to(path).parent / output_name(file, kind)
                pairs.append((file, rel, kind))
        elif path.is_file() or path.is_symlink():
            kind = media_kind(path)
            if not path.exists():
                collected.failures.append(FileResult(source=path, error="broken link"))
            elif kind is None:
                suffix = path.suffix or "(no suffix)"
                collected.failures.append(FileResult(
                    source=path, error=f"not a supported image or video type ({suffix})"))
            else:
                pairs.append((path, Path(output_name(path, kind)), kind))
        elif path.exists():
            collected.failures.append(FileResult(source=path, error="not a regular file"))
        else:
            collected.failures.append(FileResult(source=path, error="no such file or folder"))

    sources = {p.resolve() for p, _, _ in pairs}
    seen: dict[Path, Path] = {}
    existing: list[Path] = []
    for source, rel, kind in pairs:
        resolved = out_root / rel
        output = out_given / rel  # as the user wrote it, for messages and results
        if resolved in seen and same_file(seen[resolved], source):
            continue  # the same file named twice: done once
        if resolved in seen:
            raise UsageError(f"{seen[resolved]} and {source} would both be written to {output}; "
                             "give them separately with different output folders")
        seen[resolved] = source
        if resolved in sources:
            raise UsageError(f"the output {output} would overwrite an input")
        if resolved.exists() and not overwrite:
            existing.append(output)
        plan_path = None
        if plan_root is not None or (kind == "video" and video_plans):
            plan_path = video_plan_dir / rel.parent / (rel.name + PLAN_SUFFIX)
        collected.tasks.append(Task(source, output, kind, plan_path))
    if existing:
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        raise UsageError(f"output {existing[0]} already exists{more}; "
                         "use --overwrite to replace outputs")
    return collected


@dataclass(frozen=True)
class JobOptions:
    """Everything a job needs besides its paths (picklable, for worker processes)."""

    scan: ScanSettings = field(default_factory=ScanSettings)
    mask: MaskSettings = field(default_factory=MaskSettings)
    keep_icc: bool = False
    quality: int = 95
    overwrite: bool = False
    audio: bool = True
    crf: int = 20
    verify: bool = False  # verify (and self-repair) each output: veil.jobs.repair


def run_task(task: Task, options: JobOptions, progress: Progress | None = None, *,
             phases: PhaseProgress | None = None) -> FileResult:
    """Run the job for one task in this process (its scanner shared process-wide).

    ``progress(done, total)`` gets the frames of a video job as the job reports them;
    ``phases(label, done, total)`` gets each phase apart instead (scanning frames,
    rendering frames, verifying frames, repairing). Never raises for a per-file problem;
    unexpected exceptions become an error too, so one file cannot stop a batch.
    """
    job_progress = progress if phases is None else _job_phases(task.kind, phases)
    if not options.verify:
        return finish_counts(_run_job(task, options, job_progress))
    # Fail closed: the output is made, verified and repaired under a hidden staging name,
    # and reaches its final name only once verified. One that still fails verification is
    # kept, for the report's reader, under a name that says so.
    staged = Task(task.source, staged_path(task.output), task.kind, task.plan_path)
    try:
        check_output_path(task.source, task.output, overwrite=options.overwrite)
    except VeilError as exc:
        return FileResult(source=task.source, kind=task.kind, error=str(exc))
    result = _run_job(staged, replace(options, overwrite=True), job_progress)
    return finish_counts(verify_staged(result, task.output, options, phases=phases))


def _job_phases(kind: MediaKind, phases: PhaseProgress) -> Progress:
    """A job's ``progress(done, total)`` as phases: a video job counts the frames of both
    its passes (``total`` = 2 x frames), scanning then rendering."""
    state = {"render": False}

    def report(done: int, total: int | None) -> None:
        if kind != "video" or total is None:
            phases("frames" if kind == "video" else "scanning", done, total)
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


def verify_staged(result: FileResult, final: Path, options: JobOptions, *,
                  phases: PhaseProgress | None = None) -> FileResult:
    """Verify (and self-repair) an output written under :func:`staged_path`, then move
    it to ``final`` (or, when it failed, to ``final`` marked ``.verification-failed``).
    A failed job is returned unchanged."""
    if not result.ok or result.output is None:
        return result
    from veil.jobs.repair import RepairOptions, verify_and_repair

    staged = Path(result.output)
    try:
        result = verify_and_repair(result, RepairOptions(
            keep_icc=options.keep_icc, quality=options.quality, audio=options.audio,
            crf=options.crf), phases=phases)
    except BaseException:
        # interrupted (Ctrl-C, a termination signal) or broken: no unverified output stays
        staged.unlink(missing_ok=True)
        raise
    _publish(result, final, overwrite=options.overwrite)
    return result


STAGING_PREFIX = ".veil-unverified."
FAILED_MARK = ".verification-failed"


def _publish(result: FileResult, checked: Path, *, overwrite: bool) -> None:
    """Move a verified output from its staging name to its final name (or, when it
    failed verification, to the final name marked ``.verification-failed``).

    ``checked`` is the output path the batch already cleared; any other final name (a
    suffix corrected by the job, the failure mark) must not replace an existing file
    unless ``overwrite``."""
    staged = Path(result.output)  # type: ignore[arg-type]
    final = staged.with_name(staged.name.removeprefix(STAGING_PREFIX))
    passed = bool(result.verification and result.verification.get("passed"))
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
    entry = result.extra.get("_report_entry")
    if entry is not None:
        entry.output = final


def _run_job(task: Task, options: JobOptions, progress: Progress | None) -> FileResult:
    t0 = time.perf_counter()
    try:
        if task.kind == "video":
            try:
                from veil.jobs.video import anonymize_video
            except ImportError:
                return FileResult(source=task.source, kind="video", error=VIDEO_MISSING)
            check_output_path(task.source, task.output, overwrite=options.overwrite)
            return anonymize_video(task.source, task.output, scan=options.scan,
                                   mask=options.mask, plan_path=task.plan_path,
                                   audio=options.audio, crf=options.crf,
                                   scanner=shared_scanner(options.scan), progress=progress,
                                   overwrite=options.overwrite)
        return anonymize_image_file(task.source, task.output, scan=options.scan,
                                    mask=options.mask, scanner=shared_scanner(options.scan),
                                    plan_path=task.plan_path, keep_icc=options.keep_icc,
                                    quality=options.quality, overwrite=options.overwrite)
    except Exception as exc:  # noqa: BLE001 - a batch must go on; reported per file
        first = str(exc).splitlines()[0] if str(exc) else ""
        return FileResult(source=task.source, kind=task.kind,
                          error=f"internal error: {type(exc).__name__}: {first}",
                          seconds=time.perf_counter() - t0)


def _run_task_in_worker(task: Task, options: JobOptions) -> FileResult:
    try:
        result = run_task(task, options)
    except SystemExit as exc:
        # Terminated: the task has unwound and removed its files. Leave now; the pool's
        # worker loop would otherwise go on with the next task.
        os._exit(exc.code if isinstance(exc.code, int) else TERMINATED_EXIT)
    except KeyboardInterrupt:
        os._exit(INTERRUPTED_EXIT)  # Ctrl-C reaches the workers too (same process group)
    result.plan = None if result.kind == "video" else result.plan  # video plans are large
    return result


class BatchInterrupted(BaseException):
    """A batch stopped by Ctrl-C (SIGINT) or a termination signal (SIGTERM).

    ``results`` are those of the files that finished before it (each complete and, when
    verifying, verified); ``code`` is the exit status to leave with (130 or 143). Every
    file that was in progress has unwound and removed its partial and staged files.
    """

    def __init__(self, results: list[FileResult], code: int, signal_name: str) -> None:
        super().__init__(signal_name)
        self.results = results
        self.code = code
        self.signal_name = signal_name


def _interruption(exc: BaseException) -> tuple[int, str] | None:
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED_EXIT, "interrupted"
    if isinstance(exc, SystemExit) and exc.code == TERMINATED_EXIT:
        return TERMINATED_EXIT, "terminated"
    return None


def run_batch(tasks: Sequence[Task], options: JobOptions, *, workers: int = 1,
              on_start: Callable[[Task], None] | None = None,
              on_done: Callable[[Task, FileResult], None] | None = None,
              frame_progress: Progress | None = None,
              phase_progress: PhaseProgress | None = None) -> list[FileResult]:
    """Run every task and return the results in the order of ``tasks``.

    ``workers > 1`` runs files in a local process pool (spawned processes, each
    with its own scanner); ``on_start``/``on_done`` are called in this process.
    ``frame_progress`` reports frames within a video, ``phase_progress`` each phase of a
    file apart (in-process runs only). Ctrl-C or SIGTERM raise :class:`BatchInterrupted`
    with the results of the files finished before it.
    """
    results: list[FileResult | None] = [None] * len(tasks)

    def finished() -> list[FileResult]:
        return [r for r in results if r is not None]

    if workers <= 1 or len(tasks) <= 1:
        try:
            for i, task in enumerate(tasks):
                if on_start:
                    on_start(task)
                results[i] = run_task(task, options, frame_progress, phases=phase_progress)
                if on_done:
                    on_done(task, results[i])  # type: ignore[arg-type]
        except (KeyboardInterrupt, SystemExit) as exc:
            how = _interruption(exc)
            if how is None:
                raise
            raise BatchInterrupted(finished(), *how) from None
        return results  # type: ignore[return-value]

    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # no forked onnxruntime thread pools
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx,
                               initializer=exit_on_termination)
    try:
        futures = {}
        for i, task in enumerate(tasks):
            if on_start:
                on_start(task)
            futures[pool.submit(_run_task_in_worker, task, options)] = i
        for future in as_completed(futures):
            i = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a worker died
                result = FileResult(source=tasks[i].source, kind=tasks[i].kind,
                                    error=f"worker failed: {type(exc).__name__}: {exc}")
            results[i] = result
            if on_done:
                on_done(tasks[i], result)
    except BaseException as exc:
        # Interrupted: stop the workers now (each unwinds and removes its partial and
        # unverified files, see veil.jobs.interrupt) instead of finishing the batch.
        pool.shutdown(wait=False, cancel_futures=True)
        children = multiprocessing.active_children()
        for child in children:
            child.terminate()
        for child in children:
            child.join(timeout=30)  # let each remove its files before the report is written
        how = _interruption(exc)
        if how is None:
            raise
        raise BatchInterrupted(finished(), *how) from None
    pool.shutdown()
    return results  # type: ignore[return-value]


@dataclass
class Summary:
    """Totals of a batch, for the end-of-run line and ``--json``."""

    files: int
    done: int
    failed: int
    faces: int             # faces masked: merged regions in pictures, tracks in videos
    skipped_hidden: int
    skipped_other: int
    seconds: float
    images: int = 0        # images written
    videos: int = 0        # videos written
    video_frames: int = 0  # frames of the videos written
    regions: int = 0       # regions masked (per frame in videos)
    verified: int = 0      # outputs that passed verification
    unverified: int = 0    # outputs written but not verified (--no-verify)
    verification_failed: int = 0  # outputs that failed verification (NAME.verification-failed)
    input_bytes: int = 0   # size of the inputs written
    output_bytes: int = 0  # size of their outputs
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    report: Path | None = None     # report.json, when one was written
    plans: Path | None = None      # the folder of the plans, when any was written
    interrupted: str | None = None  # "interrupted" (Ctrl-C) or "terminated" (SIGTERM)

    @property
    def per_second(self) -> float:
        """Files finished per second, whole run."""
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def all_verified(self) -> bool:
        """Every input was written and every output passed verification."""
        return self.done > 0 and self.verified == self.done and not self.failed

    def to_dict(self) -> dict[str, object]:
        return {
            "files": self.files, "done": self.done, "failed": self.failed, "faces": self.faces,
            "regions": self.regions,
            "images": self.images, "videos": self.videos, "video_frames": self.video_frames,
            "verified": self.verified, "verification_failed": self.verification_failed,
            "unverified": self.unverified, "all_verified": self.all_verified,
            "input_bytes": self.input_bytes, "output_bytes": self.output_bytes,
            "skipped_hidden": self.skipped_hidden, "skipped_other": self.skipped_other,
            "skipped": [{"path": str(p), "reason": why} for p, why in self.skipped],
            "report": None if self.report is None else str(self.report),
            "plans": None if self.plans is None else str(self.plans),
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3), "files_per_second": round(self.per_second, 3),
        }


def summarize(results: Sequence[FileResult], collected: Collected, seconds: float) -> Summary:
    """Count what a batch did (``results`` include the inputs refused at collection).

    ``faces`` counts faces (merged regions of a picture, tracks of a video; see
    :func:`veil.jobs.result.plan_counts`), ``regions`` the regions masked (in a video,
    one per face per frame). An output that failed verification counts as done (it was
    written, under its ``.verification-failed`` name) and in ``verification_failed``.
    """
    ok = [r for r in results if r.ok]
    videos = [r for r in ok if r.kind == "video"]
    checked = [r for r in ok if r.verification is not None]
    passed = sum(bool(r.verification.get("passed")) for r in checked)  # type: ignore[union-attr]
    return Summary(files=len(results), done=len(ok), failed=len(results) - len(ok),
                   faces=sum(r.faces for r in ok), skipped_hidden=collected.skipped_hidden,
                   skipped_other=collected.skipped_other, seconds=seconds,
                   images=len(ok) - len(videos), videos=len(videos),
                   video_frames=sum(r.frames for r in videos),
                   regions=sum(r.faces if r.regions is None else r.regions for r in ok),
                   verified=passed, verification_failed=len(checked) - passed,
                   unverified=len(ok) - len(checked),
                   input_bytes=sum(r.input_bytes for r in ok),
                   output_bytes=sum(r.output_bytes for r in ok),
                   skipped=list(collected.skipped))
