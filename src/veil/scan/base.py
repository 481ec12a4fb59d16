"""The small interface every face detector implements."""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import numpy as np

from veil.detections import Detections


@runtime_checkable
class Detector(Protocol):
    """Finds faces in one upright RGB ``uint8`` frame of shape ``(H, W, 3)``.

    ``name`` is the registry name (``veil.scan.registry``), ``version`` says which weights
    and decoder made the detections (recorded in plans and reports). Implementations
    return *all* candidates at or above ``floor``; :class:`veil.settings.ScanSettings`
    decides which are kept. Lowering ``floor`` only ever adds candidates.
    """

    name: str
    version: str
    floor: float

    def detect(self, frame: np.ndarray) -> Detections: ...


_default_threads: int | None = None


def set_default_threads(threads: int | None) -> None:
    """onnxruntime intra-op threads of every detector made from now on in this process
    (``None``: the cores this process may use). A batch's workers each
    take their share of the cores (:func:`veil.jobs.runners.threads_per_worker`): a
    detector left at onnxruntime's choice in each of two workers on two cores would run
    four spinning threads on two cores."""
    global _default_threads
    _default_threads = threads


def default_threads() -> int:
    """The thread count set by :func:`set_default_threads`, else the cores this process
    may use (its CPU affinity, as ``taskset`` sets it). Never onnxruntime's own default:
    that is one thread per physical core of the machine, each pinned to its core, which
    ignores ``taskset`` and oversubscribes a worker's share."""
    return _default_threads or available_cores()


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under ``taskset``)."""
    count = getattr(os, "process_cpu_count", None)  # Python 3.13
    if count is not None:
        return max(1, count() or 1)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
