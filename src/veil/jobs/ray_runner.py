"""The Ray runner (``--engine ray``, extra ``veil[ray]``): the batch's tasks as a Ray Data
dataset, processed by a pool of actors that each load the detector once and take each
file through :func:`veil.jobs.pipeline.run`, the same pipeline as the local runners.

What it is, honestly: one Ray Data stage, ``map_batches`` over the tasks (one file per
batch) with an actor class that holds the scanner, not a chain of read → scan → plan →
render → verify stages. Each file's stages run inside that actor, so its output is the
local engine's, byte for byte. Inputs and outputs are paths that every node must see
(one machine, or a filesystem shared by the nodes); S3/GCS URIs are not read.

The Ray instance is ``address`` (``--ray-address``), else ``RAY_ADDRESS``, else a local
instance started for the batch (one CPU per available core). Every node needs veil
installed in the same version.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from typing import Any

from veil.jobs.pipeline import JobOptions, Outcome, Task, run
from veil.jobs.result import FileResult
from veil.jobs.runners import (
    OnStart,
    Stream,
    available_cores,
    set_worker_threads,
    threads_per_worker,
)


class _PipelineActor:
    """A Ray Data actor: loads the scanner once, then runs the pipeline per file."""

    def __init__(self, options_blob: bytes, threads: int) -> None:
        from veil.jobs.image import shared_scanner

        set_worker_threads(threads)
        self.options: JobOptions = pickle.loads(options_blob)
        shared_scanner(self.options.scan)  # the models, loaded once per actor

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        outcomes = []
        for blob in batch["task"]:
            task: Task = pickle.loads(blob)
            try:
                outcome = run(task, self.options)
            except BaseException as exc:  # noqa: BLE001 - an actor must answer for each file
                outcome = Outcome(task, FileResult(source=task.source, kind=task.kind,
                                                   error=f"worker failed: {exc!r}"))
            if outcome.result.kind == "video":
                outcome.result.plan = None  # video plans are large; the plan file has it
            outcomes.append(pickle.dumps(outcome))
        return {"index": batch["index"], "outcome": outcomes}


def _actor_class(options_blob: bytes, threads: int) -> type:
    """The actor class with this batch's options built in (sent with the class, by value,
    rather than as constructor arguments kept in Ray's object store)."""

    class BatchActor(_PipelineActor):
        def __init__(self) -> None:
            super().__init__(options_blob, threads)

    return BatchActor


class RayRunner:
    """Tasks on Ray: ``workers`` actors (each with ``cores // workers`` inference
    threads on a local instance), fed one file at a time by Ray Data."""

    def __init__(self, workers: int, *, address: str | None = None) -> None:
        self.workers = max(1, workers)
        self.address = address or os.environ.get("RAY_ADDRESS") or None

    def _start(self) -> None:
        import logging

        import ray

        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING)
        if ray.is_initialized():
            return
        if self.address:
            ray.init(address=self.address, log_to_driver=False, include_dashboard=False,
                     logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=available_cores(), log_to_driver=False, include_dashboard=False,
                     logging_level=logging.WARNING)

    def run(self, tasks: Sequence[Task], options: JobOptions, *,
            on_start: OnStart | None = None) -> Stream:
        if not tasks:
            return
        import ray.data

        self._start()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        workers = min(self.workers, len(tasks))
        cpus = max(1, int(ray.cluster_resources().get("CPU", available_cores())))
        threads = threads_per_worker(workers, cpus) if not self.address else 1
        items = [{"index": i, "task": pickle.dumps(t)} for i, t in enumerate(tasks)]
        source = ray.data.from_items(items, override_num_blocks=len(items))
        dataset = source.map_batches(
            _actor_class(pickle.dumps(options), threads), batch_size=1, num_cpus=threads,
            compute=ray.data.ActorPoolStrategy(size=workers), batch_format="numpy")
        for row in dataset.iter_rows():
            task = tasks[int(row["index"])]
            if on_start:
                on_start(task)
            yield task, pickle.loads(row["outcome"])
