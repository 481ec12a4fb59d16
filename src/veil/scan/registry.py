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
from veil.settings import VIDEO_DETECTORS


def _centerface(device: str) -> Detector:
    from veil.scan.centerface import CenterFace

    return CenterFace(device=device)


def _centerface_int8(device: str) -> Detector:
    from veil.scan.centerface import CenterFaceInt8

    return CenterFaceInt8(device=device)


def _yunet(device: str) -> Detector:
    # YuNet-n is small enough that the CPU is the right place for it: it runs on
    # onnxruntime's CPU provider whatever the device asked for.
    from veil.scan.yunet import YuNet

    return YuNet()


#: Registry name -> factory (called once per process and device).
FACTORIES: dict[str, Callable[[str], Detector]] = {
    "centerface": _centerface,
    "centerface-int8": _centerface_int8,
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


def video_detector_name(choice: str, device: str = "auto") -> str:
    """The registry name of the detector a video job's frames are searched with, for
    ``ScanSettings.video_detector`` = ``choice``: ``fp32`` is ``centerface``, ``int8``
    is ``centerface-int8`` (the int8 graph shipped with veil, half the CPU per pass);
    ``auto`` is ``centerface-int8`` on the CPU of an x86-64 machine with
    AVX512-VNNI (:func:`veil.scan.centerface.int8_exact_here`) and ``centerface``
    elsewhere: on CUDA, and on CPUs where onnxruntime's int8 kernels can saturate or
    were not measured."""
    if choice not in VIDEO_DETECTORS:
        raise VeilError(f"unknown video detector {choice!r}; choose from "
                        f"{', '.join(VIDEO_DETECTORS)}")
    if choice == "fp32":
        return "centerface"
    if choice == "int8":
        return "centerface-int8"
    from veil.scan.centerface import int8_exact_here, resolve_device

    if resolve_device(device) == "cuda" or not int8_exact_here():
        return "centerface"
    return "centerface-int8"


def is_shared(detector: object) -> bool:
    """Whether ``detector`` is one this registry loaded (not one a caller made)."""
    with _lock:
        return any(detector is d for d in _loaded.values())


def loaded() -> dict[tuple[str, str], Detector]:
    """The detectors this process has loaded so far, by name and device."""
    return dict(_loaded)
