"""Runners: where tasks are run. A runner takes tasks and yields their outcomes, and
owns nothing else: every step of a file is :func:`veil.jobs.pipeline.run`.

- :class:`SerialRunner` runs the tasks one after the other in this process (with phase
  progress: scanning, rendering, verifying frames);
- :class:`PoolRunner` runs them in a local pool of spawned processes, each with its own
  scanner; SIGTERM unwinds a worker like Ctrl-C (:mod:`veil.jobs.interrupt`), so no
  partial or unverified file stays behind.

**A new runner plugs in here**: a class with ``run(tasks, options)`` that yields
``(task, outcome)`` pairs as tasks finish, calling ``pipeline.run(task, options)`` for each
wherever it runs it. The Ray runner (``--engine ray``, :mod:`veil.jobs.ray_runner`) is
one, chosen by :func:`make_runner`.

**How the cores are divided.** By default a batch runs one worker per core this process
may use (:func:`available_cores`), and each worker's detector gets
``max(1, cores // workers)`` onnxruntime threads (:func:`threads_per_worker`): whole
files in parallel scale almost linearly (nothing is shared between them), whereas one
file's intra-op threads idle during decoding, masking, encoding and verification; and
more threads than cores only adds switching.
:func:`run_all` drives any runner and turns Ctrl-C / SIGTERM into :class:`BatchInterrupted`;
the report is one step after it (:func:`veil.jobs.report.write_run_report`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from veil.jobs.interrupt import INTERRUPTED_EXIT, TERMINATED_EXIT, exit_on_termination
from veil.jobs.pipeline import JobOptions, Outcome, Task, run
from veil.jobs.result import FileResult, PhaseProgress, Progress
from veil.progress import FilePhaseProgress
from veil.report.spool import Mapped, OutcomeSpool
from veil.scan.base import available_cores

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


ENGINES = ("local", "ray")


def default_workers() -> int:
    """``--workers`` when not given: one per available core."""
    return available_cores()


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Inference threads for each of ``workers`` so that together they use the cores
    without oversubscribing them."""
    cores = available_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


def set_worker_threads(threads: int) -> None:
    """Limit this process's compute threads: the detectors' onnxruntime intra-op pools
    (CenterFace and YuNet made from now on) and OpenCV's."""
    from veil.scan.base import set_default_threads

    set_default_threads(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:  # pragma: no cover - a dependency
        pass


def _die_with_parent(parent: int) -> None:
    """Have this worker terminated (SIGTERM: it unwinds and removes its staged files)
    when the batch's process dies, even by ``kill -9``: an orphaned worker would go on
    publishing outputs that the batch never records."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):  # no prctl: the check below
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before that
        os._exit(TERMINATED_EXIT)


#: In a pool worker: where its files' phase progress goes (a queue the batch reads).
_phase_queue: Any = None
#: A worker sends a phase's progress at most this often (seconds), and its last value.
PHASE_INTERVAL = 0.25


def _init_worker(threads: int, parent: int | None = None, phases: Any = None) -> None:
    global _phase_queue
    exit_on_termination()
    if parent is not None:
        _die_with_parent(parent)
    set_worker_threads(threads)
    _phase_queue = phases


def _queued_phases(task: Task, queue: Any) -> PhaseProgress:
    """A phase callback that sends ``(file, label, done, total)`` to the batch's queue,
    at most every :data:`PHASE_INTERVAL` seconds within a phase (and its end)."""
    name = str(task.source)
    last: dict[str, Any] = {"label": None, "at": 0.0}

    def send(label: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if label == last["label"] and now - last["at"] < PHASE_INTERVAL \
                and (total is None or done < total):
            return
        last["label"], last["at"] = label, now
        with contextlib.suppress(Exception):  # progress never stops a file
            queue.put_nowait((name, label, done, total))

    return send


def _run_in_worker(task: Task, options: JobOptions) -> Outcome:
    try:
        phases = _queued_phases(task, _phase_queue) if _phase_queue is not None else None
        outcome = run(task, options, phases=phases)
    except SystemExit as exc:
        # Terminated: the task has unwound and removed its files. Leave now; the pool's
        # worker loop would otherwise go on with the next task.
        os._exit(exc.code if isinstance(exc.code, int) else TERMINATED_EXIT)
    except KeyboardInterrupt:
        os._exit(INTERRUPTED_EXIT)  # Ctrl-C reaches the workers too (same process group)
    result = outcome.result
    result.plan = None if result.kind == "video" else result.plan  # video plans are large
    _trim()
    return outcome


def _trim() -> None:
    """Give the C heap's free pages back to the system after a file (glibc's
    ``malloc_trim``; elsewhere nothing): a worker's resident memory then stays near
    what the next file needs instead of what the largest one left free."""
    global _malloc_trim
    if _malloc_trim is None:
        _malloc_trim = False
        if sys.platform.startswith("linux"):
            import ctypes

            with contextlib.suppress(OSError, AttributeError):
                _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
    if callable(_malloc_trim):
        _malloc_trim(0)


_malloc_trim: Callable[[int], int] | bool | None = None


#: Files a pool worker takes before it is replaced by a fresh one (``None``: never, the
#: default). Measured on 1,030 photos (BENCHMARKS.md, session 7): workers replaced after
#: 50 files peaked at 564-612 MB each against 581-586 MB for two workers kept all along
#: (a fresh worker's onnxruntime arena grows along its own path), and cost about 0.9
#: CPU-seconds each to load their models again; so a worker is kept.
RECYCLE_AFTER: int | None = None


class PoolRunner:
    """Tasks in a local pool of ``workers`` spawned processes (no forked onnxruntime
    thread pools), each with its own scanner (replaced by a fresh process after
    ``recycle`` files when given; :data:`RECYCLE_AFTER`). When interrupted
    (Ctrl-C, SIGTERM, or the consumer stops), the workers are stopped at once and each
    removes its partial and unverified files before this returns."""

    def __init__(self, workers: int, *, queue: int | None = None,
                 recycle: int | None = RECYCLE_AFTER,
                 file_progress: FilePhaseProgress | None = None) -> None:
        self.workers = max(1, workers)
        #: tasks handed to the pool at once (running + waiting): bounded, so that memory
        #: stays flat however many files the batch has
        self.queue = max(self.workers, queue or 2 * self.workers)
        self.recycle = recycle
        #: gets each running file's phases (scanning, rendering, verifying...) from the
        #: workers, called on a thread of this process
        self.file_progress = file_progress

    def _phase_reader(self, ctx: Any) -> tuple[Any, threading.Thread | None]:
        """A queue for the workers' phase progress and the thread that passes it on to
        :attr:`file_progress` (``(None, None)`` without one)."""
        report = self.file_progress
        if report is None:
            return None, None
        queue = ctx.Queue()

        def drain() -> None:
            while (item := queue.get()) is not None:
                with contextlib.suppress(Exception):  # a display problem stops no file
                    report(*item)

        thread = threading.Thread(target=drain, name="veil-phases", daemon=True)
        thread.start()
        return queue, thread

    def run(self, tasks: Sequence[Task], options: JobOptions, *,
            on_start: OnStart | None = None) -> Stream:
        import multiprocessing

        if not tasks:
            return
        ctx = multiprocessing.get_context("spawn")
        workers = min(self.workers, len(tasks))
        phases, reader = self._phase_reader(ctx)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                   initializer=_init_worker,
                                   initargs=(threads_per_worker(workers), os.getpid(), phases),
                                   max_tasks_per_child=self.recycle)
        try:
            futures: dict[Future[Outcome], Task] = {}
            pending = iter(tasks)

            def submit(count: int) -> None:
                for task in itertools.islice(pending, count):
                    if on_start:
                        on_start(task)
                    futures[pool.submit(_run_in_worker, task, options)] = task

            submit(self.queue)
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = futures.pop(future)
                    try:
                        outcome = future.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. a worker died
                        outcome = Outcome(task, FileResult(
                            source=task.source, kind=task.kind,
                            error=f"worker failed: {type(exc).__name__}: {exc}"))
                    yield task, outcome
                submit(len(finished))
            pool.shutdown()  # the workers exit, flushing their last phase messages
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
        finally:
            if reader is not None:
                phases.put(None)  # after the workers' last messages: the reader stops
                reader.join(timeout=5)


def require_ray() -> None:
    """Raise :class:`UsageError` when the Ray engine cannot be used here."""
    import importlib.util

    from veil.errors import UsageError

    if importlib.util.find_spec("ray") is None:
        raise UsageError("--engine ray needs Ray: pip install 'veil[ray]'")


def make_runner(workers: int = 1, *, engine: str = "local", ray_address: str | None = None,
                ray_gpus: float | None = None, frame_progress: Progress | None = None,
                phase_progress: PhaseProgress | None = None,
                file_progress: FilePhaseProgress | None = None) -> Runner:
    """The runner for ``engine``: ``local`` gives serial for one worker (its phases to
    ``phase_progress``), a process pool for more (each running file's phases to
    ``file_progress``); ``ray`` the Ray runner (``workers`` actors per pool) on
    ``ray_address``, with ``ray_gpus`` GPUs for each scan actor (``None``: one when the
    cluster has GPUs)."""
    if engine == "ray":
        from veil.jobs.ray_runner import RayRunner

        return RayRunner(workers, address=ray_address, scan_gpus=ray_gpus)
    if workers <= 1:
        return SerialRunner(frame_progress=frame_progress, phase_progress=phase_progress)
    return PoolRunner(workers, file_progress=file_progress)


class BatchInterrupted(BaseException):
    """A batch stopped by Ctrl-C (SIGINT) or a termination signal (SIGTERM).

    ``outcomes`` are those of the files that finished before it (each complete and, when
    verifying, verified), in the order of the tasks; ``code`` is the exit status to leave
    with (130 or 143). Every file that was in progress has unwound and removed its partial
    and staged files.
    """

    def __init__(self, outcomes: Sequence[Outcome], code: int, signal_name: str) -> None:
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


def lighten(outcome: Outcome) -> Outcome:
    """Drop what a finished file's outcome no longer needs once it has been reported:
    its plan (the regions of a picture: about 0.5 KB each, 65 KB for a crowd of 140
    faces; a video's plan is on disk). The report entry is made first (it reads the
    plan's counts), so the report is the same; ``faces``, ``regions``, the verification
    and the thumbnail stay. Returns ``outcome``, changed in place."""
    if outcome.result.plan is not None:
        outcome.report_entry()
        outcome.result.plan = None
    return outcome


class SpooledOutcomes(Mapped[tuple[Task, "Outcome | int"], Outcome]):
    """A batch's outcomes, most of them waiting on disk in an :class:`OutcomeSpool`:
    each item is ``(task, outcome)`` held in memory or ``(task, number in the spool)``;
    reading an item reads a spooled outcome back (a new object each time: nothing of it
    stays in memory once the caller lets it go)."""

    def __init__(self, spool: OutcomeSpool, items: list[tuple[Task, Outcome | int]]) -> None:
        super().__init__(items, self._read)
        self.spool = spool
        self.items: list[tuple[Task, Outcome | int]] = items

    def _read(self, item: tuple[Task, Outcome | int]) -> Outcome:
        held = item[1]
        return held if isinstance(held, Outcome) else self.spool.get(held)

    def task(self, i: int) -> Task:
        return self.items[i][0]


def join_outcomes(*parts: Sequence[Outcome]) -> Sequence[Outcome]:
    """``parts`` one after the other: a list, or (when one is spooled) a
    :class:`SpooledOutcomes` that reads the spooled ones back as asked."""
    spooled = [p for p in parts if isinstance(p, SpooledOutcomes)]
    if not spooled:
        return [o for p in parts for o in p]
    items: list[tuple[Task, Outcome | int]] = []
    for p in parts:
        if isinstance(p, SpooledOutcomes):
            assert p.spool is spooled[0].spool, "one spool per batch"
            items.extend(p.items)
        else:
            items.extend((o.task, o) for o in p)
    return SpooledOutcomes(spooled[0].spool, items)


def run_all(runner: Runner, tasks: Sequence[Task], options: JobOptions, *,
            on_start: OnStart | None = None,
            on_done: Callable[[Task, Outcome], None] | None = None,
            keep_plans: bool = True) -> Sequence[Outcome]:
    """Run every task with ``runner``; return the outcomes in the order of ``tasks``.

    ``on_done(task, outcome)`` is called in this process as each finishes. With
    ``keep_plans=False`` each outcome is then :func:`lighten`-ed (its plan dropped, its
    report entry made) and written to a temporary file (:class:`OutcomeSpool`): what
    the batch holds until its report is then a few dozen bytes a file, and the result is
    a :class:`SpooledOutcomes` that reads each back when asked. Ctrl-C or SIGTERM raise
    :class:`BatchInterrupted` with the outcomes finished before it.
    """
    index = {id(task): i for i, task in enumerate(tasks)}
    held: list[Outcome | int | None] = [None] * len(tasks)
    spool = None if keep_plans else OutcomeSpool()
    stream = runner.run(tasks, options, on_start=on_start)

    def finished() -> Sequence[Outcome]:
        if spool is None:
            return [o for o in held if isinstance(o, Outcome)]
        return SpooledOutcomes(spool, [(t, o) for t, o in zip(tasks, held, strict=True)
                                       if o is not None])

    try:
        for task, outcome in stream:
            i = index[id(task)]
            held[i] = outcome
            if on_done:
                on_done(task, outcome)
            if spool is not None:
                held[i] = spool.put(lighten(outcome))
            del outcome
    except (KeyboardInterrupt, SystemExit) as exc:
        stream.close()  # a pool stops its workers (they remove their files)
        how = _interruption(exc)
        if how is None:
            raise
        raise BatchInterrupted(finished(), *how) from None
    return finished()
