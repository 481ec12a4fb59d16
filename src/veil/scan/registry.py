"""The detectors veil knows by name, one model session per process per detector.

    get_detector("yunet", floor=0.1)

A detector is loaded on first use and then shared by every scanner of the process
(photo jobs, video jobs, verification): loading a model costs time and memory, and
its results do not depend on who asks. A scanner that needs fainter candidates lowers
the shared detector's floor; the others filter by their own thresholds anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from veil.errors import VeilError
from veil.scan.base import Detector


def _centerface(device: str) -> Detector:
    from veil.scan.centerface import CenterFace

    return CenterFace(device=device)


def _yunet(device: str) -> Detector:
    # YuNet-n is small enough that the CPU is the right place for it: it runs on
    # onnxruntime's CPU provider whatever the device asked for.
    from veil.scan.yunet import YuNet

    return YuNet()


#: Registry name -> factory (called once per process and device).
FACTORIES: dict[str, Callable[[str], Detector]] = {
    "centerface": _centerface,
    "yunet": _yunet,
}

DETECTORS: tuple[str, ...] = tuple(FACTORIES)

_loaded: dict[tuple[str, str], Detector] = {}
_lock = threading.Lock()


def get_detector(name: str, floor: float | None = None, device: str = "auto") -> Detector:
    """The process's detector called ``name`` on ``device`` (``auto``, ``cpu``, ``cuda``),
    reporting candidates down to ``floor`` at least (the shared floor only ever goes
    down)."""
    if name not in FACTORIES:
        raise VeilError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")
    with _lock:
        det = _loaded.get((name, device))
        if det is None:
            det = _loaded[(name, device)] = FACTORIES[name](device)
        if floor is not None and floor < det.floor:
            det.floor = floor
    return det


def loaded() -> dict[tuple[str, str], Detector]:
    """The detectors this process has loaded so far, by name and device."""
    return dict(_loaded)
