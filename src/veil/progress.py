"""The progress callbacks every stage may take (a type only; no stage imports a shell)."""

from __future__ import annotations

from collections.abc import Callable

# progress(done, total): total is None when unknown (e.g. a video with no frame count).
Progress = Callable[[int, int | None], None]
# phase_progress(label, done, total): the same, for a named phase of a job
# ("scanning frames", "rendering frames", "verifying frames", ...).
PhaseProgress = Callable[[str, int, int | None], None]
# file_progress(file, label, done, total): a phase of one file among several running at
# once (a pool of workers), ``file`` naming it (the task's source path as text).
FilePhaseProgress = Callable[[str, str, int, int | None], None]
