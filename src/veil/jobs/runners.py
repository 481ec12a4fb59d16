"""Runners: where tasks are run. A runner takes tasks and yields their outcomes, and
owns nothing else: every step of a file is :func:`veil.jobs.pipeline.run`.

- :class:`SerialRunner` runs the tasks one after the other in this process (with phase
  progress: scanning, rendering, verifying frames);
- :class:`PoolRunner` runs them in a local pool of spawned processes, each with its own
  scanner; SIGTERM unwinds a worker like Ctrl-C (:mod:`veil.jobs.interrupt`), so no
  partial or unverified file stays behind.

**A new runner plugs in here**: a class with ``run(tasks, options)`` that yields
``(task, outcome)`` pairs as tasks finish, calling ``pipeline.run(task, options)`` for each
wherever it runs it. A Ray runner (``--engine ray``, a later issue) would be one more
class in this module, with :func:`make_runner` choosing it; nothing else changes.
:func:`run_all` drives any runner and turns Ctrl-C / SIGTERM into :class:`BatchInterrupted`;
the report is one step after it (:func:`veil.jobs.report.write_run_report`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Protocol

from veil.jobs.interrupt import INTERRUPTED_EXIT, TERMINATED_EXIT, exit_on_termination
from veil.jobs.pipeline import JobOptions, Outcome, Task, run
from veil.jobs.result import FileResult, PhaseProgress, Progress

OnStart = Callable[[Task], None]
#: What a runner yields: each task with its outcome, as it finishes. A generator, so that
#: :func:`run_all` can close it (a pool then stops its workers) when interrupted.
Stream = Generator[tuple[Task, Outcome], None, None]


class Runner(Protocol):
    """Runs tasks through the pipeline; yields ``(task, outcome)`` as each finishes
    (in any order). ``on_start(task)`` is called in this process when a task is started
    (or handed to a worker)."""

    def run(self, tasks: Sequence[Task], options: JobOptions, *,
            on_start: OnStart | None = None) -> Stream: ...


class SerialRunner:
    """One task after the other, in this process. ``frame_progress`` reports the frames
    of a video, ``phase_progress`` each phase of a file apart."""

    def __init__(self, *, frame_progress: Progress | None = None,
                 phase_progress: PhaseProgress | None = None) -> None:
        self.frame_progress = frame_progress
        self.phase_progress = phase_progress

    def run(self, tasks: Sequence[Task], options: JobOptions, *,
            on_start: OnStart | None = None) -> Stream:
        for task in tasks:
            if on_start:
                on_start(task)
            yield task, run(task, options, self.frame_progress, phases=self.phase_progress)


def _run_in_worker(task: Task, options: JobOptions) -> Outcome:
    try:
        outcome = run(task, options)
    except SystemExit as exc:
        # Terminated: the task has unwound and removed its files. Leave now; the pool's
        # worker loop would otherwise go on with the next task.
        os._exit(exc.code if isinstance(exc.code, int) else TERMINATED_EXIT)
    except KeyboardInterrupt:
        os._exit(INTERRUPTED_EXIT)  # Ctrl-C reaches the workers too (same process group)
    result = outcome.result
    result.plan = None if result.kind == "video" else result.plan  # video plans are large
    return outcome


class PoolRunner:
    """Tasks in a local pool of ``workers`` spawned processes (no forked onnxruntime
    thread pools), each with its own scanner. When interrupted (Ctrl-C, SIGTERM, or the
    consumer stops), the workers are stopped at once and each removes its partial and
    unverified files before this returns."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)

    def run(self, tasks: Sequence[Task], options: JobOptions, *,
            on_start: OnStart | None = None) -> Stream:
        import multiprocessing

        if not tasks:
            return
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=ctx,
                                   initializer=exit_on_termination)
        try:
            futures: dict[Future[Outcome], Task] = {}
            for task in tasks:
                if on_start:
                    on_start(task)
                futures[pool.submit(_run_in_worker, task, options)] = task
            for future in as_completed(futures):
                task = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001 - e.g. a worker died
                    outcome = Outcome(task, FileResult(
                        source=task.source, kind=task.kind,
                        error=f"worker failed: {type(exc).__name__}: {exc}"))
                yield task, outcome
        except BaseException:
            # Interrupted: stop the workers now (each unwinds and removes its partial and
            # unverified files, see veil.jobs.interrupt) instead of finishing the batch.
            pool.shutdown(wait=False, cancel_futures=True)
            children = multiprocessing.active_children()
            for child in children:
                child.terminate()
            for child in children:
                child.join(timeout=30)  # let each remove its files before the report is written
            raise
        pool.shutdown()


def make_runner(workers: int = 1, *, frame_progress: Progress | None = None,
                phase_progress: PhaseProgress | None = None) -> Runner:
    """The runner for ``workers`` local processes: serial for one, a pool for more.
    (The place where ``--engine ray`` will choose a Ray runner.)"""
    if workers <= 1:
        return SerialRunner(frame_progress=frame_progress, phase_progress=phase_progress)
    return PoolRunner(workers)


class BatchInterrupted(BaseException):
    """A batch stopped by Ctrl-C (SIGINT) or a termination signal (SIGTERM).

    ``outcomes`` are those of the files that finished before it (each complete and, when
    verifying, verified), in the order of the tasks; ``code`` is the exit status to leave
    with (130 or 143). Every file that was in progress has unwound and removed its partial
    and staged files.
    """

    def __init__(self, outcomes: list[Outcome], code: int, signal_name: str) -> None:
        super().__init__(signal_name)
        self.outcomes = outcomes
        self.code = code
        self.signal_name = signal_name


def _interruption(exc: BaseException) -> tuple[int, str] | None:
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED_EXIT, "interrupted"
    if isinstance(exc, SystemExit) and exc.code == TERMINATED_EXIT:
        return TERMINATED_EXIT, "terminated"
    return None


def run_all(runner: Runner, tasks: Sequence[Task], options: JobOptions, *,
            on_start: OnStart | None = None,
            on_done: Callable[[Task, Outcome], None] | None = None) -> list[Outcome]:
    """Run every task with ``runner``; return the outcomes in the order of ``tasks``.

    ``on_done(task, outcome)`` is called in this process as each finishes. Ctrl-C or
    SIGTERM raise :class:`BatchInterrupted` with the outcomes finished before it.
    """
    index = {id(task): i for i, task in enumerate(tasks)}
    outcomes: list[Outcome | None] = [None] * len(tasks)
    stream = runner.run(tasks, options, on_start=on_start)
    try:
        for task, outcome in stream:
            outcomes[index[id(task)]] = outcome
            if on_done:
                on_done(task, outcome)
    except (KeyboardInterrupt, SystemExit) as exc:
        stream.close()  # a pool stops its workers (they remove their files)
        how = _interruption(exc)
        if how is None:
            raise
        raise BatchInterrupted([o for o in outcomes if o is not None], *how) from None
    return [o for o in outcomes if o is not None]
