"""The Ray runner (``--engine ray``, extra ``veil[ray]``): the batch as a Ray Data pipeline
of stages, read → scan → plan → render → verify (:mod:`veil.jobs.photo_stages`).

- **read** (tasks): decodes each photo; a video, an animation or a saved plan to render
  is marked to go through in one piece;
- **scan** (a pool of actors, each loading the detector once; with GPUs when asked, see
  ``scan_gpus``): finds the faces; also runs the files that go through in one piece
  (videos are one task each: :func:`veil.jobs.pipeline.run`);
- **plan**, **render** (tasks): the plan record, then the masked picture written under
  its staging name;
- **verify** (a pool of actors, each loading the verification models once): verifies,
  repairs, publishes and makes the report entry.

Photos flow through the stages one per row (the decoded pixels, the detections and the
plan travel between them), and each stage calls the local engine's own functions in the
same order, so each file's output, plan and verification are the local engine's, byte for
byte.

Inputs and outputs are local paths that every node sees (one machine, or a filesystem the
nodes share), or URIs of any filesystem pyarrow understands (:mod:`veil.jobs.remote`): a
remote file's bytes travel with its row, each stage works on a local copy in a temporary
folder of its node, and the output and plan are uploaded only once verified (temporary
name, then moved).

The Ray instance is ``address`` (``--ray-address``), else ``RAY_ADDRESS``, else a local
instance started for the batch (one CPU per available core). Every node needs veil
installed in the same version.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from veil.jobs.photo_stages import STAGE_FUNCTIONS, PhotoState, run_whole
from veil.jobs.pipeline import JobOptions, Outcome, Task
from veil.jobs.result import FileResult
from veil.jobs.runners import (
    OnStart,
    Stream,
    available_cores,
    set_worker_threads,
    threads_per_worker,
)


@dataclass
class Row:
    """One file's state between stages. ``remote``: the task's locations are URIs
    (:class:`veil.jobs.remote.Uri`); ``task`` then names local copies under ``scratch``."""

    index: int
    state: PhotoState
    remote: Task | None = None
    data: bytes | None = None                     # a remote source's bytes
    files: dict[str, bytes] = field(default_factory=dict)  # staged output and plan
    scratch: str = ""
    uploaded: bool = False                        # a remote row's outcome is final


def _scratch(row: Row) -> Path:
    return Path(tempfile.gettempdir()) / row.scratch


def _local_task(remote: Task, scratch: str) -> Task:
    root = Path(tempfile.gettempdir()) / scratch
    return Task(root / "in" / remote.source.name, root / "out" / remote.output.name,
                remote.kind,
                None if remote.plan_path is None else root / "plan" / remote.plan_path.name,
                remote.plan)


@contextlib.contextmanager
def _materialised(row: Row) -> Iterator[None]:
    """For a remote row: its source (and staged files) written under the scratch folder
    of this node for the stage, removed after it (the bytes travel with the row)."""
    if row.remote is None:
        yield
        return
    root = _scratch(row)
    try:
        task = row.state.task
        for folder in ("in", "out", "plan"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        if row.data is not None:
            task.source.write_bytes(row.data)
        for rel, data in row.files.items():
            (root / rel).write_bytes(data)
        yield
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _keep_staged(row: Row) -> None:
    """After the render stage of a remote row: the staged output and plan file's bytes
    into the row (the next stage may run on another node)."""
    result = row.state.result
    if row.remote is None or result is None or row.state.done:
        return
    root = _scratch(row)
    for path in (result.output, result.plan_path):
        if path is not None and Path(path).is_file():
            row.files[str(Path(path).relative_to(root))] = Path(path).read_bytes()


def _upload(row: Row, outcome: Outcome) -> Outcome:
    """A remote row's finished outcome: its output and plan file uploaded (temporary
    name, then moved), its paths turned into the URIs. Nothing is uploaded for a file that
    failed; an output that failed verification keeps its ``.verification-failed`` name."""
    from veil.jobs import remote as rfs

    assert row.remote is not None
    where = row.remote
    result = outcome.result
    entry = outcome.report_entry()  # the SHA-256 of the local copies, read now
    out_uri = plan_uri = None
    try:
        if result.ok and result.output is not None:
            out_uri = rfs.Uri(str(where.output)).parent / Path(result.output).name
            if result.plan_path is not None and where.plan_path is not None:
                plan_uri = rfs.Uri(str(where.plan_path))
                rfs.write_bytes(plan_uri, Path(result.plan_path).read_bytes())
            rfs.write_bytes(out_uri, Path(result.output).read_bytes())
    except OSError as exc:
        if plan_uri is not None:
            rfs.delete(plan_uri)
        result.error = entry.error = f"cannot upload: {exc}"
        out_uri = plan_uri = None
    src = rfs.Uri(str(where.source))
    result.source, entry.input = cast(Path, src), cast(Path, src)
    result.output = entry.output = cast(Path, out_uri)
    result.plan_path = cast(Path, plan_uri)
    if result.kind == "video":
        result.plan = None
    return Outcome(where, result, entry)


def _step(name: str, row: Row, options: JobOptions) -> Row:
    state = row.state
    if name == "read" and row.remote is not None and row.data is None:
        from veil.jobs import remote as rfs

        try:
            row.data = rfs.read_bytes(str(row.remote.source))
        except OSError as exc:
            state.outcome = Outcome(state.task, FileResult(
                source=state.task.source, kind=state.task.kind,
                error=f"cannot read: {exc}"))
            return row
    if state.outcome is not None and (name != "verify" or row.remote is None or row.uploaded):
        return row
    with _materialised(row):
        if name == "scan" and state.whole:
            row.state = run_whole(state, options)  # a video, an animation: in one piece
        else:
            row.state = STAGE_FUNCTIONS[name](state, options)
        if name == "render":
            _keep_staged(row)
        outcome = row.state.outcome
        if name in ("scan", "verify") and outcome is not None and row.remote is not None \
                and not row.uploaded:
            row.state.outcome = _upload(row, outcome)
            row.files, row.data, row.uploaded = {}, None, True
    if row.state.outcome is not None and row.remote is None \
            and row.state.outcome.result.kind == "video":
        row.state.outcome.result.plan = None  # video plans are large; the plan file has it
    return row


class _StageUDF:
    """A Ray Data stage: runs ``names`` on each row (one file per batch)."""

    def __init__(self, names: tuple[str, ...], options_blob: bytes, threads: int,
                 load: str = "") -> None:
        set_worker_threads(threads)
        self.names = names
        self.options: JobOptions = pickle.loads(options_blob)
        if load == "scanner":
            from veil.jobs.image import shared_scanner

            shared_scanner(self.options.scan)  # the models, loaded once per actor
        elif load == "verifier" and self.options.verify:
            with contextlib.suppress(Exception):  # loaded at the first file otherwise
                from veil.verify.recognition import calibration

                calibration()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        rows = []
        for blob in batch["row"]:
            row: Row = pickle.loads(blob)
            for name in self.names:
                try:
                    row = _step(name, row, self.options)
                except BaseException as exc:  # noqa: BLE001 - answer for each file
                    if row.state.result is not None and row.state.result.output is not None:
                        Path(row.state.result.output).unlink(missing_ok=True)
                    task = row.remote or row.state.task
                    outcome = Outcome(task, FileResult(
                        source=task.source, kind=task.kind,
                        error=f"worker failed in the {name} stage: {exc!r}"))
                    outcome.report_entry().input = task.source  # a URI stays one
                    row.state.outcome = outcome
                    row.files, row.data, row.uploaded = {}, None, row.remote is not None
            rows.append(pickle.dumps(row))
        return {"row": rows}


def _udf(names: tuple[str, ...], options_blob: bytes, threads: int, load: str = "") -> type:
    """The stage class with this batch's options built in (sent with the class, by value,
    rather than as constructor arguments kept in Ray's object store)."""

    class Stage(_StageUDF):
        def __init__(self) -> None:
            super().__init__(names, options_blob, threads, load)

    Stage.__name__ = Stage.__qualname__ = "veil_" + "_".join(names)
    return Stage


def _fn(names: tuple[str, ...], options_blob: bytes) -> Callable[[dict[str, Any]],
                                                                  dict[str, Any]]:
    state: dict[str, _StageUDF] = {}

    def stage(batch: dict[str, Any]) -> dict[str, Any]:
        if "udf" not in state:
            state["udf"] = _StageUDF(names, options_blob, 1)
        return state["udf"](batch)

    return stage


def gpu_scan_default() -> float:
    """GPUs per scan actor when not asked: 1 when the cluster has GPUs and onnxruntime
    offers CUDA here, else 0."""
    import ray

    try:
        import onnxruntime as ort

        cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    except ImportError:  # pragma: no cover - a dependency
        cuda = False
    return 1.0 if cuda and ray.cluster_resources().get("GPU", 0) >= 1 else 0.0


class RayRunner:
    """Tasks on Ray as stages: ``workers`` scan actors and ``workers`` verify actors
    (each with ``cores // workers`` inference threads on a local instance), the read, plan
    and render stages as tasks; rows move one file at a time. ``scan_gpus``: GPUs for each
    scan actor (``None``: :func:`gpu_scan_default`)."""

    def __init__(self, workers: int, *, address: str | None = None,
                 scan_gpus: float | None = None) -> None:
        self.workers = max(1, workers)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.scan_gpus = scan_gpus

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

        from veil.jobs.remote import is_uri

        self._start()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        workers = min(self.workers, len(tasks))
        cpus = max(1, int(ray.cluster_resources().get("CPU", available_cores())))
        threads = threads_per_worker(workers, cpus) if not self.address else 1
        gpus = gpu_scan_default() if self.scan_gpus is None else self.scan_gpus
        # Logical CPUs: the two actor pools take two thirds of the cluster, the tasks of
        # the other stages share the rest (the pools would otherwise starve them).
        actor_cpus = max(0.05, cpus / (3 * workers))
        task_cpus = max(0.05, cpus / (3 * max(2, workers)))
        blob = pickle.dumps(options)
        items = []
        for i, task in enumerate(tasks):
            remote = is_uri(str(task.source)) or is_uri(str(task.output))
            scratch = f"veil-ray-{uuid.uuid4().hex}" if remote else ""
            local = _local_task(task, scratch) if remote else task
            row = Row(i, PhotoState(replace(local)), task if remote else None,
                      scratch=scratch)
            items.append({"row": pickle.dumps(row)})
        data: ray.data.Dataset = ray.data.from_items(items, override_num_blocks=len(items))
        common: dict[str, Any] = {"batch_size": 1, "batch_format": "numpy"}
        data = data.map_batches(_fn(("read",), blob), num_cpus=task_cpus, **common)
        data = data.map_batches(_udf(("scan",), blob, threads, "scanner"), num_cpus=actor_cpus,
                                num_gpus=gpus or None,
                                compute=ray.data.ActorPoolStrategy(size=workers), **common)
        data = data.map_batches(_fn(("plan",), blob), num_cpus=task_cpus, **common)
        data = data.map_batches(_fn(("render",), blob), num_cpus=task_cpus, **common)
        data = data.map_batches(_udf(("verify",), blob, threads, "verifier"),
                                num_cpus=actor_cpus,
                                compute=ray.data.ActorPoolStrategy(size=workers), **common)
        for item in data.iter_rows():
            row = pickle.loads(item["row"])
            task = tasks[row.index]
            if on_start:
                on_start(task)
            outcome = row.state.outcome
            assert outcome is not None
            yield task, replace(outcome, task=task) if row.remote is None else outcome
