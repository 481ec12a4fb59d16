"""What the command line shows: a progress bar, one line per failure, a summary, JSON."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from veil.jobs.batch import Summary, Task
from veil.jobs.pipeline import Outcome
from veil.jobs.result import FileResult


class LineError(click.UsageError):
    """A refusal about the files or folders given (exit status 2, as a usage error), told
    in one line, ``veil: <path>: <reason>``, without click's usage banner: the command
    was well formed, the files are the problem."""

    def show(self, file: Any = None) -> None:
        click.echo(f"veil: {self.format_message()}", file=file or sys.stderr, err=True)


def error_line(source: Path | str, reason: str) -> str:
    """The one line a failed input gets: ``veil: <path>: <reason>``."""
    return f"veil: {source}: {reason}"


class BatchDisplay:
    """Progress over files (and frames of a video) on stderr, plus failure lines.

    The bar is shown only on a terminal and without ``quiet``; failure lines are
    always written to stderr, one per failed input.
    """

    def __init__(self, total: int, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        stream = stream or sys.stderr
        self.console = Console(file=stream, soft_wrap=True, highlight=False)
        self.quiet = quiet
        show = not quiet and self.console.is_terminal and total > 0
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console, disable=not show, transient=False,
        )
        self._files = self.progress.add_task("files", total=total, rate="")
        self._frames: Any = None
        # files running in a pool of workers: a phase line each, until the file is done
        self._running: dict[str, Any] = {}
        self._finished: set[str] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> BatchDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, task: Task) -> None:
        """A file is about to be processed."""
        self.progress.update(self._files, description=_short(task.source.name))

    def phase(self, label: str, done: int, total: int | None) -> None:
        """Progress of one phase of the current file (``"scanning frames"``,
        ``"rendering frames"``, ``"verifying frames"``...): each phase gets its own line
        label and total, started afresh when the phase changes."""
        self._frames = self._show(self._frames, f"  {label}", label, done, total)

    def file_phase(self, name: str, label: str, done: int, total: int | None) -> None:
        """Progress of one phase of file ``name`` among several running at once (a pool
        of workers; called from the runner's thread): a line per running file."""
        description = f"  {_short(Path(name).name)}: {label}"
        with self._lock:
            if name in self._finished:
                return  # a late message of a file already done
            self._running[name] = self._show(self._running.get(name), description, label,
                                             done, total)

    def _show(self, task_id: Any, description: str, label: str, done: int,
              total: int | None) -> Any:
        """Update the phase line ``task_id`` (a new one when it is ``None`` or gone;
        started afresh when its description changes); returns its id."""
        task = self._task(task_id)
        if task is None:
            task_id = self.progress.add_task(description, total=total, rate="")
            task = self._task(task_id)
        elif task.description != description:
            self.progress.reset(task_id, total=total, completed=0, description=description,
                                rate="")
        assert task is not None
        unit = "fps" if "frames" in label else "/s"
        rate = f"{task.speed:.1f} {unit}" if task.speed else ""
        self.progress.update(task_id, completed=done, total=total, rate=rate)
        return task_id

    def frames(self, done: int, total: int | None) -> None:
        """Frames done within the current video (a job that names no phase)."""
        self.phase("frames", done, total)

    def _task(self, task_id: Any) -> Any:
        # Look the task up by id: ids keep growing as tasks are removed, so they are no
        # index into ``progress.tasks`` (the second video of a batch failed on that).
        if task_id is None:
            return None
        return next((t for t in self.progress.tasks if t.id == task_id), None)

    def done(self, task: Task | None, outcome: Outcome) -> None:
        """A file finished (or was refused): advance the bar, report a failure."""
        result = outcome.result
        if self._frames is not None:
            if self._task(self._frames) is not None:
                self.progress.remove_task(self._frames)
            self._frames = None
        if task is not None:
            with self._lock:
                name = str(task.source)
                self._finished.add(name)
                task_id = self._running.pop(name, None)
                if self._task(task_id) is not None:
                    self.progress.remove_task(task_id)
            self.progress.advance(self._files)
        if not result.ok:
            self.print_error(result.source, result.error or "failed")

    def print_error(self, source: Path | str, reason: str) -> None:
        self.console.print(error_line(source, reason), markup=False, style="red")

    def print_line(self, text: str) -> None:
        """One plain line on stderr (shown even with ``quiet``)."""
        self.console.print(text, markup=False)

    def summary(self, summary: Summary, outdir: Path) -> None:
        """The closing line (not with ``quiet``)."""
        if self.quiet:
            return
        self.console.print(summary_line(summary, outdir), markup=False)


def _short(name: str, width: int = 32) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def size_text(n: int) -> str:
    """Bytes as people read them: ``652 KB``, ``9.4 MB``."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" or value >= 100 else \
                f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def _verified_text(summary: Summary) -> str:
    if summary.done == 0:
        return ""
    if summary.verified == summary.done:
        # with failures beside them, "all verified" would read as if nothing went wrong
        if not summary.failed:
            return "all verified"
        return "verified" if summary.done == 1 else "each verified"
    parts = []
    if summary.verified:
        parts.append(f"{summary.verified} verified")
    if summary.verification_failed:
        parts.append(f"{summary.verification_failed} failed verification")
    if summary.unverified:
        parts.append(f"{summary.unverified} not verified")
    return ", ".join(parts)


def _skipped_text(summary: Summary) -> str:
    hidden, other = summary.skipped_hidden, summary.skipped_other
    kinds = [f"{hidden} hidden" if hidden else "", f"{other} not images or videos" if other
             else ""]
    text = f"{hidden + other} skipped ({', '.join(k for k in kinds if k)}"
    if summary.report is not None:
        text += "; named in the report"
    text += ")"
    if hidden:
        text += "; --include-hidden processes hidden files"
    return text


def summary_line(summary: Summary, outdir: Path) -> str:
    """One line: files done and whether verified, faces masked, failures, skipped,
    sizes, where the report and plans are, time and rate."""
    if summary.resumed:
        written = (f"{summary.done - summary.resumed} of {_n(summary.files, 'file')} "
                   f"written to {outdir} and {summary.resumed} already done by an earlier "
                   "run")
    else:
        written = f"{summary.done} of {_n(summary.files, 'file')} written to {outdir}"
    verified = _verified_text(summary)
    if verified:
        written += f" ({verified})"
    faces = _n(summary.faces, "face") + " masked"
    notes = []
    if summary.faint:
        notes.append(f"and {_n(summary.faint, 'faint track')} as a precaution")
    if summary.videos and summary.images:  # the regions are of both: say over what
        notes.append(f"{_n(summary.regions, 'region')} in {_n(summary.images, 'picture')} "
                     f"and {_n(summary.video_frames, 'video frame')}")
    elif summary.videos:
        notes.append(f"{_n(summary.regions, 'region')} over "
                     f"{_n(summary.video_frames, 'video frame')}")
    elif summary.regions != summary.faces:
        notes.append(_n(summary.regions, "region"))
    if notes:
        faces += f" ({'; '.join(notes)})"
    parts = [written, faces]
    if summary.failed:
        parts.append(f"{summary.failed} failed")
    if summary.skipped_hidden + summary.skipped_other:
        parts.append(_skipped_text(summary))
    if summary.done:
        parts.append(f"{size_text(summary.input_bytes)} in, "
                     f"{size_text(summary.output_bytes)} out")
    if summary.report is not None:
        parts.append(f"report: {summary.report}")
    if summary.plans is not None:
        parts.append(f"plans: {summary.plans}")
    rate = ""
    if summary.resumed:
        pass  # a rate over the files this run did not do would mislead
    elif summary.seconds > 0 and summary.images and not summary.videos:
        per = summary.images / summary.seconds
        # under one image a second, the time per image reads better than "0.01 images/s"
        rate = f" ({per:.2f} images/s)" if per >= 1 else \
            f" ({summary.seconds / summary.images:.1f} s per image)"
    elif summary.seconds > 0 and summary.videos and not summary.images:
        rate = f" ({summary.video_frames / summary.seconds:.1f} frames/s)"
    parts.append(f"{summary.seconds:.1f} s{rate}")
    return "veil: " + ", ".join(parts)


def interrupted_line(summary: Summary, outdir: Path, tasks: int) -> str:
    """The one line of an interrupted batch: what finished, that nothing partial stayed,
    and where the report of the finished files is."""
    done = f"{summary.done} of {_n(tasks, 'file')} finished and written to {outdir}"
    tail = f"; report of the finished files: {summary.report}" if summary.report else ""
    return (f"veil: {summary.interrupted or 'interrupted'}: {done}; the rest were not "
            f"started or were stopped, and nothing partial was left{tail}")


def result_json(result: FileResult) -> dict[str, Any]:
    """One file's entry in the ``--json`` document."""
    faces: list[dict[str, object]] = []
    if result.kind == "image" and result.plan is not None:
        faces = [{"box": r.to_dict()["box"], "score": r.to_dict()["score"]}
                 for r in result.plan.frame(0).active_regions()]
    entry: dict[str, Any] = {
        "input": str(result.source),
        "output": str(result.output) if result.output else None,
        "kind": result.kind,
        "face_count": result.faces,
        "faint_tracks": result.faint,
        "region_count": result.faces if result.regions is None else result.regions,
        "faces": faces,
        "input_bytes": result.input_bytes,
        "output_bytes": result.output_bytes,
        "plan": str(result.plan_path) if result.plan_path else None,
        "seconds": round(result.seconds, 4),
        "error": result.error,
    }
    if result.kind == "video":
        entry["frames"] = result.frames
    if result.verification is not None:
        entry["verification"] = result.verification.to_dict()
    return entry


def batch_json(results: Sequence[FileResult], summary: Summary, *, outdir: Path,
               settings: dict[str, Any], version: str) -> str:
    """The whole ``--json`` document (one JSON object)."""
    doc = {
        "veil": version,
        "output_dir": str(outdir),
        "settings": settings,
        "files": [result_json(r) for r in results],
        "summary": summary.to_dict(),
    }
    return json.dumps(doc, indent=1)


def failure_line(result: FileResult) -> str:
    """One line for an output that failed verification: the checks that failed and where."""
    verdict = result.verification
    where = result.output or result.source
    if verdict is None:
        return f"{where}: not verified"
    if verdict.error:
        return f"{where}: {verdict.error}"
    failed = [k for k, v in verdict.checks.items() if v == "fail"]
    reasons = verdict.reasons
    first = reasons[0] if reasons else "failed"
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    rounds = verdict.repair.get("rounds")
    tried = f" after {rounds} repair round(s)" if rounds else ""
    return (f"{where}: verification failed{tried} [{', '.join(failed) or 'check'}]: "
            f"{first}{more}")


def print_after_run(outcomes: Sequence[Outcome], print_error: Callable[[Path | str, str], None]
                    ) -> None:
    """What the user should read on stderr once the files are done, one
    ``veil: <path>: <reason>`` line each: every file's notes (what the output does not
    carry, a face outside the user's plan that was masked), then every output that
    failed verification."""
    for o in outcomes:
        for note in o.notes:
            print_error(o.result.source, note)
    for o in outcomes:
        if o.failed_verification:
            where, _, reason = failure_line(o.result).partition(": ")
            print_error(where, reason)
