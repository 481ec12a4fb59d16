"""One photo's job cut into stages: read → scan → plan → render → verify.

The Ray engine (:mod:`veil.jobs.ray_runner`) runs each stage on its own pool, so that the
photos of a batch flow through them (the decoded pixels, the detections and the plan
travel between the stages in a :class:`PhotoState`). Every stage calls the very functions
of the local engine (:mod:`veil.jobs.image`, :func:`veil.jobs.pipeline.verify_and_publish`)
in the same order, so a photo's output, plan and verification are the local engine's,
byte for byte.

What is not a still photo (a video, an animated GIF or WebP, a task that renders a saved
plan) is marked ``whole`` by the read stage and taken through :func:`veil.jobs.pipeline.run`
in one piece (:func:`run_whole`).

A stage never raises for a per-file problem: it sets ``state.outcome`` (the error, as the
local engine words it), and every later stage passes the state on untouched. A stage that
fails removes the staged output, so nothing unverified is left behind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veil.errors import VeilError, error_text
from veil.jobs.image import read_still, shared_scanner, tool_name, write_still
from veil.jobs.pipeline import (
    JobOptions,
    Outcome,
    Task,
    run,
    staged_path,
    verify_and_publish,
)
from veil.jobs.result import FileResult, finish_counts

if TYPE_CHECKING:
    from veil.detections import Detections
    from veil.media.images import LoadedImage
    from veil.plan.record import MediaInfo, Plan

STAGES = ("read", "scan", "plan", "render", "verify")


@dataclass
class PhotoState:
    """What travels between the stages for one file. ``task`` names the paths the stages
    work with (the real ones, or a worker's local copies for a remote file)."""

    task: Task
    whole: bool = False               # not a still photo: run_whole takes it in one piece
    loaded: LoadedImage | None = None  # read: the decoded picture (pixels in sRGB)
    media: MediaInfo | None = None     # read: name, size and SHA-256 of the source
    detections: Detections | None = None  # scan
    plan: Plan | None = None           # plan
    result: FileResult | None = None   # render: the staged output, not yet verified
    outcome: Outcome | None = None     # set once the file is finished (or failed)
    seconds: float = 0.0               # the job's time, summed over the stages
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.outcome is not None or self.whole


def _target(task: Task, options: JobOptions) -> Path:
    """Where the render stage writes: the staging name when verifying (as the local
    engine does), else the final name."""
    return staged_path(task.output) if options.verify else task.output


def _fail(state: PhotoState, options: JobOptions, error: str) -> PhotoState:
    """Finish ``state`` with ``error`` as the local engine reports a failed job."""
    task = state.task
    result = state.result or FileResult(source=task.source, kind=task.kind)
    if result.output is not None:
        Path(result.output).unlink(missing_ok=True)  # fail closed: no staged file stays
        result.output = None
    result.error = error
    result.plan = None
    result.seconds = state.seconds
    state.loaded = state.detections = None
    state.outcome = Outcome(task, finish_counts(result))
    return state


def _guarded(stage: str, state: PhotoState, options: JobOptions, body: Any) -> PhotoState:
    """Run one stage's ``body()`` on ``state``: skipped when the file is done; a per-file
    problem becomes the file's error (worded as :func:`veil.jobs.image.anonymize_image_file`
    and :func:`veil.jobs.pipeline.run` word it)."""
    if state.done:
        return state
    t0 = time.perf_counter()
    try:
        body()
    except (VeilError, OSError, ValueError) as exc:
        return _fail(state, options, error_text(exc))
    except Exception as exc:  # noqa: BLE001 - a batch must go on; reported per file
        first = str(exc).splitlines()[0] if str(exc) else ""
        return _fail(state, options, f"internal error: {type(exc).__name__}: {first}")
    finally:
        state.seconds += time.perf_counter() - t0
    return state


def read_stage(state: PhotoState, options: JobOptions) -> PhotoState:
    """Decide the route (a still photo, or ``whole``) and decode the picture."""
    from veil.media.images import frame_count

    task = state.task
    if task.kind != "image" or task.plan is not None or frame_count(task.source) > 1:
        state.whole = True
        return state

    def body() -> None:
        state.loaded, state.media = read_still(task.source, task.output,
                                               keep_icc=options.keep_icc,
                                               overwrite=options.overwrite)
        if state.loaded.notes:
            state.extra["notes"] = list(state.loaded.notes)

    return _guarded("read", state, options, body)


def scan_stage(state: PhotoState, options: JobOptions) -> PhotoState:
    """Find the faces (the scanner is loaded once per process: :func:`shared_scanner`)."""

    def body() -> None:
        assert state.loaded is not None
        state.detections = shared_scanner(options.scan).scan(state.loaded.pixels)

    return _guarded("scan", state, options, body)


def plan_stage(state: PhotoState, options: JobOptions) -> PhotoState:
    """Turn the detections into the plan record."""
    from veil.plan.still import plan_still

    def body() -> None:
        assert state.detections is not None and state.media is not None
        state.plan = plan_still(state.detections, state.media, scan=options.scan,
                                mask=options.mask, tool=tool_name())
        state.detections = None

    return _guarded("plan", state, options, body)


def render_stage(state: PhotoState, options: JobOptions) -> PhotoState:
    """Mask the picture from its plan and write it (under the staging name when
    verifying); save the plan file when the task has one."""
    task = state.task

    def body() -> None:
        assert state.loaded is not None and state.plan is not None
        state.result = FileResult(source=task.source, kind="image", extra=dict(state.extra))
        write_still(state.result, state.loaded, state.plan, _target(task, options), rng=None,
                    keep_icc=options.keep_icc, quality=options.quality,
                    overwrite=options.overwrite or options.verify, plan_path=task.plan_path)
        state.loaded = None

    return _guarded("render", state, options, body)


def verify_stage(state: PhotoState, options: JobOptions) -> PhotoState:
    """Verify (and repair) the staged output, publish it, make the report entry; without
    verification, count what was written."""
    if state.done:
        return state
    assert state.result is not None
    state.result.seconds = state.seconds
    try:
        if options.verify:
            state.outcome = verify_and_publish(state.task, options, state.result)
        else:
            state.outcome = Outcome(state.task, finish_counts(state.result))
    except BaseException:
        if state.result.output is not None:
            Path(state.result.output).unlink(missing_ok=True)
        raise
    return state


def run_whole(state: PhotoState, options: JobOptions) -> PhotoState:
    """A file that is not a still photo: the whole pipeline in this process."""
    if state.outcome is None and state.whole:
        state.outcome = run(state.task, options)
    return state


STAGE_FUNCTIONS = {"read": read_stage, "scan": scan_stage, "plan": plan_stage,
                   "render": render_stage, "verify": verify_stage}


def run_stages(task: Task, options: JobOptions) -> Outcome:
    """Every stage one after the other in this process (what the Ray engine does across
    its pools): the same outcome as :func:`veil.jobs.pipeline.run`."""
    state = PhotoState(replace(task))
    for name in STAGES:
        state = STAGE_FUNCTIONS[name](state, options)
    state = run_whole(state, options)
    assert state.outcome is not None
    return state.outcome
