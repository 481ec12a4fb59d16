"""What the command line shows: a progress bar, one line per failure, a summary, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

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
from veil.jobs.result import FileResult


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

    def __enter__(self) -> BatchDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, task: Task) -> None:
        """A file is about to be processed."""
        self.progress.update(self._files, description=_short(task.source.name))

    def frames(self, done: int, total: int | None) -> None:
        """Frames done within the current video."""
        if self._frames is None:
            self._frames = self.progress.add_task("  frames", total=total, rate="")
        task = self.progress.tasks[self._frames]
        rate = f"{task.speed:.1f} fps" if task.speed else ""
        self.progress.update(self._frames, completed=done, total=total, rate=rate)

    def done(self, task: Task | None, result: FileResult) -> None:
        """A file finished (or was refused): advance the bar, report a failure."""
        if self._frames is not None:
            self.progress.remove_task(self._frames)
            self._frames = None
        if task is not None:
            self.progress.advance(self._files)
        if not result.ok:
            self.print_error(result.source, result.error or "failed")

    def print_error(self, source: Path | str, reason: str) -> None:
        self.console.print(error_line(source, reason), markup=False, style="red")

    def summary(self, summary: Summary, outdir: Path) -> None:
        """The closing line (not with ``quiet``)."""
        if self.quiet:
            return
        self.console.print(summary_line(summary, outdir), markup=False)


def _short(name: str, width: int = 32) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(summary: Summary, outdir: Path) -> str:
    """One line: files done, faces masked, failures, skipped, time and rate."""
    faces = _n(summary.faces, "face") + " masked"
    if summary.videos:
        faces += f" (counted per video frame; {_n(summary.video_frames, 'video frame')})"
    parts = [f"{summary.done} of {_n(summary.files, 'file')} written to {outdir}", faces]
    if summary.failed:
        parts.append(f"{summary.failed} failed")
    skipped = summary.skipped_hidden + summary.skipped_other
    if skipped:
        parts.append(f"{skipped} skipped ({summary.skipped_hidden} hidden, "
                     f"{summary.skipped_other} not images or videos)")
    rate = ""
    if summary.seconds > 0 and summary.images and not summary.videos:
        rate = f" ({summary.images / summary.seconds:.2f} images/s)"
    elif summary.seconds > 0 and summary.videos and not summary.images:
        rate = f" ({summary.video_frames / summary.seconds:.1f} frames/s)"
    parts.append(f"{summary.seconds:.1f} s{rate}")
    return "veil: " + ", ".join(parts)


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
        "faces": faces,
        "plan": str(result.plan_path) if result.plan_path else None,
        "seconds": round(result.seconds, 4),
        "error": result.error,
    }
    if result.kind == "video":
        entry["frames"] = result.frames
    if result.verification is not None:
        entry["verification"] = result.verification
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
