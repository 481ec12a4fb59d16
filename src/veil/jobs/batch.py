"""A batch: many inputs (files and folders) → tasks → one outcome per file.

It decides, before any work, where every output goes (mirrored under the output
folder), refuses unsafe or ambiguous requests (collisions, writing into an input
folder, overwriting inputs or existing outputs), and then hands the tasks to a runner
(:mod:`veil.jobs.runners`), which takes each through :func:`veil.jobs.pipeline.run`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from veil.errors import UsageError
from veil.jobs.image import same_file
from veil.jobs.pipeline import (
    FAILED_MARK,
    STAGING_PREFIX,
    JobOptions,
    MediaKind,
    Outcome,
    Task,
    refused,
)
from veil.jobs.report import default_plan_dir, default_report_dir, side_folder
from veil.jobs.result import FileResult, PhaseProgress, Progress
from veil.jobs.runners import BatchInterrupted, make_runner, run_all
from veil.media.kinds import media_kind, output_name, refusal

__all__ = ["FAILED_MARK", "STAGING_PREFIX", "BatchInterrupted", "Collected",
           "JobOptions", "MediaKind", "Outcome", "Summary", "Task", "batch_summary",
           "collect_tasks", "default_plan_dir", "default_report_dir", "media_kind",
           "output_name", "run_batch", "side_folder"]

PLAN_SUFFIX = ".veil.json"
HIDDEN = "hidden"
NOT_MEDIA = "not an image or video"


@dataclass
class Collected:
    """What :func:`collect_tasks` found: the tasks, the inputs refused one by one,
    and how many folder entries were skipped."""

    tasks: list[Task] = field(default_factory=list)
    failures: list[Outcome] = field(default_factory=list)  # inputs refused one by one
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
                collected.failures.append(refused(path, "broken link"))
            elif kind is None:
                collected.failures.append(refused(path, refusal(path) or "not media"))
            else:
                pairs.append((path, Path(output_name(path, kind)), kind))
        elif path.exists():
            collected.failures.append(refused(path, "not a regular file"))
        else:
            collected.failures.append(refused(path, "no such file or folder"))

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


def run_batch(tasks: Sequence[Task], options: JobOptions, *, workers: int = 1,
              on_start: Callable[[Task], None] | None = None,
              on_done: Callable[[Task, Outcome], None] | None = None,
              frame_progress: Progress | None = None,
              phase_progress: PhaseProgress | None = None) -> list[Outcome]:
    """Run every task with the local runner for ``workers`` (:func:`make_runner`: serial,
    or a process pool) and return the outcomes in the order of ``tasks``.

    ``on_start``/``on_done`` are called in this process. ``frame_progress`` reports
    frames within a video, ``phase_progress`` each phase of a file apart (serial runs
    only). Ctrl-C or SIGTERM raise :class:`BatchInterrupted` with the outcomes of the
    files finished before it.
    """
    runner = make_runner(workers if len(tasks) > 1 else 1, frame_progress=frame_progress,
                         phase_progress=phase_progress)
    return list(run_all(runner, tasks, options, on_start=on_start, on_done=on_done))


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
    faint: int = 0         # videos' faint tracks, masked as a precaution (not in faces)
    verified: int = 0      # outputs that passed verification
    unverified: int = 0    # outputs written but not verified (--no-verify)
    verification_failed: int = 0  # outputs that failed verification (NAME.verification-failed)
    input_bytes: int = 0   # size of the inputs written
    output_bytes: int = 0  # size of their outputs
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    report: Path | None = None     # report.json, when one was written
    plans: Path | None = None      # the folder of the plans, when any was written
    interrupted: str | None = None  # "interrupted" (Ctrl-C) or "terminated" (SIGTERM)
    resumed: int = 0       # of ``done``: skipped, done by an earlier run (jobs.resume)

    @property
    def per_second(self) -> float:
        """Files finished per second by this run (not those it resumed)."""
        return (self.done - self.resumed) / self.seconds if self.seconds > 0 else 0.0

    @property
    def all_verified(self) -> bool:
        """Every input was written and every output passed verification."""
        return self.done > 0 and self.verified == self.done and not self.failed

    def to_dict(self) -> dict[str, object]:
        return {
            "files": self.files, "done": self.done, "failed": self.failed, "faces": self.faces,
            "faint_tracks": self.faint, "regions": self.regions,
            "images": self.images, "videos": self.videos, "video_frames": self.video_frames,
            "verified": self.verified, "verification_failed": self.verification_failed,
            "unverified": self.unverified, "all_verified": self.all_verified,
            "input_bytes": self.input_bytes, "output_bytes": self.output_bytes,
            "skipped_hidden": self.skipped_hidden, "skipped_other": self.skipped_other,
            "skipped": [{"path": str(p), "reason": why} for p, why in self.skipped],
            "report": None if self.report is None else str(self.report),
            "plans": None if self.plans is None else str(self.plans),
            "interrupted": self.interrupted, "resumed": self.resumed,
            "seconds": round(self.seconds, 3), "files_per_second": round(self.per_second, 3),
        }


def batch_summary(results: Sequence[FileResult], collected: Collected, seconds: float
                  ) -> Summary:
    """Count what a batch did (``results`` include the inputs refused at collection).

    ``faces`` counts faces (merged regions of a picture, tracks of a video; see
    :func:`veil.jobs.result.plan_counts`), ``regions`` the regions masked (in a video,
    one per face per frame). An output that failed verification counts as done (it was
    written, under its ``.verification-failed`` name) and in ``verification_failed``.
    """
    n = done = videos = frames = faces = faint = regions = checked = passed = 0
    input_bytes = output_bytes = 0
    for r in results:  # one pass: a big batch's results are read back one at a time
        n += 1
        if not r.ok:
            continue
        done += 1
        if r.kind == "video":
            videos += 1
            frames += r.frames
        faces += r.faces
        faint += r.faint
        regions += r.faces if r.regions is None else r.regions
        if r.verification is not None:
            checked += 1
            passed += bool(r.verification.passed)
        input_bytes += r.input_bytes
        output_bytes += r.output_bytes
    return Summary(files=n, done=done, failed=n - done, faces=faces,
                   skipped_hidden=collected.skipped_hidden,
                   skipped_other=collected.skipped_other, seconds=seconds,
                   images=done - videos, videos=videos, video_frames=frames,
                   regions=regions, faint=faint, verified=passed,
                   verification_failed=checked - passed, unverified=done - checked,
                   input_bytes=input_bytes, output_bytes=output_bytes,
                   skipped=list(collected.skipped))
