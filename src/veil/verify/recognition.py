"""Re-identification distance: the dlib ResNet embedding of a face and of its masked version.

The embedding is dlib's face-recognition ResNet with its own weights, run by onnxruntime
(:mod:`veil.verify.resnet_onnx`: the same 128 values as dlib's
``compute_face_descriptor`` to float rounding, about ten times faster than the installed
dlib); dlib still finds the landmarks and cuts the aligned chip.

Protection, never identification: an embedding is only ever compared with the embedding
of the *same* face's original. Nothing here stores, prints or returns an embedding to
callers outside verify; there are no galleries and no search. While one original is
being verified (:func:`memo_for`), the embeddings of its aligned chips stay in this
process's memory, keyed by a hash of the chip's pixels, so that a repair round (the same
original, its output rendered again) does not compute again what did not change; they are
dropped as soon as another original is verified, and never written anywhere.

Alignment follows METRICS.md: the 5 landmarks are found on the ORIGINAL (dlib's 5-point
shape predictor inside the original face box) and the very same landmark set is used to
cut the aligned chip from the output, so both embeddings describe the same region.

The model files come from the installed ``face_recognition_models`` package. That package
imports ``pkg_resources`` (missing from current setuptools), so it is never imported: its
folder is found with :func:`importlib.util.find_spec`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from veil.verify.resnet_onnx import ResnetEmbedder, ResnetFormatError

MIN_REID_SIDE = 40.0  # METRICS.md: re-id is measured on faces at least 40 px on the shorter side
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
RESNET_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
CALIBRATION_FILE = "reid_calibration.json"
FLOOR_THRESHOLD = 0.6  # METRICS.md: the calibrated threshold is never below 0.6
# A masked face fails only when it is also closer to its original than a solid fill of
# the same region is, by more than this margin: the spread of the distance between
# equally irreversible fills (see ``benchmarks.reid_table --noise`` and the calibration
# file, key ``reference_margin``).
DEFAULT_REFERENCE_MARGIN = 0.21


class RecognitionUnavailable(RuntimeError):
    """dlib or the face_recognition_models files are not installed."""


def model_dir() -> Path:
    """Folder holding the dlib model files of the installed ``face_recognition_models``."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RecognitionUnavailable(
            "the re-identification check needs the 'face_recognition_models' package, "
            "a dependency of veil: reinstall veil"
        )
    for loc in spec.submodule_search_locations:
        folder = Path(loc) / "models"
        if (folder / SHAPE_MODEL).is_file() and (folder / RESNET_MODEL).is_file():
            return folder
    raise RecognitionUnavailable("face_recognition_models is installed but its model files "
                                 "are missing")


@functools.lru_cache(maxsize=1)
def _models() -> tuple[Any, ResnetEmbedder]:
    """Load (once per process) the 5-point shape predictor and the ResNet (its weights read
    from the installed ``.dat`` file and run by onnxruntime)."""
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - dlib-bin is a dependency of veil
        raise RecognitionUnavailable("the re-identification check needs dlib (the "
                                     "'dlib-bin' package, a dependency of veil): "
                                     "reinstall veil") from exc
    folder = model_dir()
    try:
        resnet = ResnetEmbedder(folder / RESNET_MODEL)
    except ResnetFormatError as exc:
        raise RecognitionUnavailable(f"{folder / RESNET_MODEL}: not the face-recognition "
                                     f"ResNet veil knows ({exc}): reinstall veil") from exc
    return dlib.shape_predictor(str(folder / SHAPE_MODEL)), resnet


def _rgb(frame: np.ndarray) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.dtype != np.uint8 or arr.shape[2] != 3:
        raise ValueError("expected an RGB uint8 frame")
    return np.ascontiguousarray(arr)


def _rectangle(box: tuple[float, float, float, float] | np.ndarray, w: int, h: int) -> Any:
    import dlib

    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = max(0, round(x1)), min(w - 1, round(x2))
    y1, y2 = max(0, round(y1)), min(h - 1, round(y2))
    return dlib.rectangle(int(x1), int(y1), int(x2), int(y2))


def shorter_side(box: tuple[float, float, float, float] | np.ndarray) -> float:
    """Shorter side of an xyxy box in pixels."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return min(x2 - x1, y2 - y1)


def reid_distance(original: np.ndarray, output: np.ndarray,
                  box: tuple[float, float, float, float] | np.ndarray) -> float:
    """Euclidean distance between the embeddings of one face and the same aligned region
    of the output.

    ``original`` and ``output`` are RGB uint8 frames of the same size; ``box`` is the face
    box (xyxy) in the original. Landmarks are located on the original only. Returns the
    distance (0 = the output still shows the very same face); the embeddings themselves
    never leave this module.
    """
    return reid_distances(original, [output], box)[0]


def reid_distances(original: np.ndarray, outputs: list[np.ndarray],
                   box: tuple[float, float, float, float] | np.ndarray) -> list[float]:
    """:func:`reid_distance` of one face against several masked versions of the same frame
    (the original's embedding is computed once). Used by the re-id benchmark table."""
    original = _rgb(original)
    shape_predictor, resnet = _models()
    h, w = original.shape[:2]
    landmarks = shape_predictor(original, _rectangle(box, w, h))
    a = _embedding(resnet, original, landmarks, None)
    out = []
    for img in outputs:
        img = _rgb(img)
        if img.shape != original.shape:
            raise ValueError(f"frame sizes differ: {original.shape} and {img.shape}")
        b = _embedding(resnet, img, landmarks, None)
        out.append(float(np.linalg.norm(a - b)))
    return out


#: dlib cuts the aligned chip from a square around the face (``padding`` 0.25 of it on each
#: side) that may be rotated; the window that :func:`chip_window` gives holds that square
#: at any angle, grown by this share of its half-diagonal and CHIP_WINDOW_PAD pixels (the
#: interpolation's and anti-aliasing's reach).
CHIP_WINDOW_GROW = 0.25
CHIP_WINDOW_PAD = 8


def chip_window(landmarks: Any, width: int, height: int) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)``, end exclusive: the part of a ``width`` x ``height`` picture
    that the aligned chip of these landmarks is cut from, with a margin. Pixels outside it
    do not change the face's embedding."""
    import math

    import dlib

    r = dlib.get_face_chip_details(landmarks, size=150, padding=0.25).rect
    cx, cy = (r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2
    half = math.hypot(r.width(), r.height()) / 2 * (1 + CHIP_WINDOW_GROW) + CHIP_WINDOW_PAD
    return (max(0, math.floor(cx - half)), max(0, math.floor(cy - half)),
            min(width, math.ceil(cx + half) + 1), min(height, math.ceil(cy + half) + 1))


#: The embeddings of the chips of the original being verified (see the module's text).
_MEMO: dict[bytes, np.ndarray] = {}
_MEMO_SCOPE: list[object] = [None]
_MEMO_LOCK = threading.Lock()
#: At most this many embeddings are kept (1 KB each); beyond it the memo starts afresh.
MEMO_SIZE = 4096


def memo_for(scope: object) -> dict[bytes, np.ndarray]:
    """The embedding memo of the original ``scope`` names (its SHA-256, or its path): the
    one of the previous call when the scope is the same, else an empty one (the previous
    original's embeddings are dropped)."""
    with _MEMO_LOCK:
        if _MEMO_SCOPE[0] != scope or len(_MEMO) > MEMO_SIZE:
            _MEMO.clear()
            _MEMO_SCOPE[0] = scope
        return _MEMO


def _embed(resnet: ResnetEmbedder, chip: np.ndarray) -> np.ndarray:
    """The ResNet embedding of one aligned 150x150 chip."""
    return resnet.embed(chip)


def _embedding(resnet: ResnetEmbedder, image: np.ndarray, landmarks: Any,
               memo: dict[bytes, np.ndarray] | None) -> np.ndarray:
    """The embedding of the chip these landmarks cut from ``image`` (the very chip dlib's
    ``compute_face_descriptor(image, landmarks)`` embeds), from ``memo`` when the same chip
    was embedded before."""
    import dlib

    chip = dlib.get_face_chip(image, landmarks, size=150, padding=0.25)
    if memo is None:
        return _embed(resnet, chip)
    key = hashlib.blake2b(chip.tobytes(), digest_size=16).digest()
    with _MEMO_LOCK:
        hit = memo.get(key)
    if hit is None:
        hit = _embed(resnet, chip)
        with _MEMO_LOCK:
            memo[key] = hit
    return hit


def reid_check(original: np.ndarray, output: np.ndarray,
               box: tuple[float, float, float, float] | np.ndarray, threshold: float,
               reference: Callable[[tuple[int, int, int, int]], np.ndarray],
               memo: dict[bytes, np.ndarray] | None = None) -> tuple[float, float | None]:
    """The re-id distance of one face and, only when it is under ``threshold``, the
    distance of its solid reference: ``reference(window)`` builds that picture on demand,
    and need only be the reference inside ``window`` (:func:`chip_window`), the part of
    the picture its chip is cut from.

    Returns ``(distance, reference_distance or None)``; the original's embedding is
    computed once. ``memo`` (:func:`memo_for`): embeddings of chips met before.
    """
    original, output = _rgb(original), _rgb(output)
    if original.shape != output.shape:
        raise ValueError(f"frame sizes differ: {original.shape} and {output.shape}")
    shape_predictor, resnet = _models()
    h, w = original.shape[:2]
    landmarks = shape_predictor(original, _rectangle(box, w, h))
    a = _embedding(resnet, original, landmarks, memo)
    b = _embedding(resnet, output, landmarks, memo)
    d = float(np.linalg.norm(a - b))
    if d >= threshold:
        return d, None
    ref = _rgb(reference(chip_window(landmarks, w, h)))
    r = _embedding(resnet, ref, landmarks, memo)
    return d, float(np.linalg.norm(a - r))


def solid_reference(original: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``original`` with the pixels of ``region`` (boolean ``(H, W)``) filled with one
    colour, the mean colour of the original there: a mask that certainly keeps nothing of
    the face but its average colour. Its re-id distance is the yardstick a real mask is
    compared with (:func:`reidentifiable`)."""
    original = _rgb(original)
    out = original.copy()
    if region.any():
        out[region] = original[region].reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    return out


def reidentifiable(distance: float, reference: float | None, threshold: float,
                   margin: float | None = None) -> bool:
    """The re-identification verdict for one masked face.

    ``distance``: the METRICS.md re-id distance of the output; ``reference``: the same
    distance for the solid-fill reference of the same region (:func:`solid_reference`).
    A face is re-identifiable when it is under ``threshold`` AND closer to its original
    than the reference by more than ``margin`` (the measurement's noise): dlib's aligned
    chip reaches beyond any face mask into hair and background, so even a solid fill can
    fall under the threshold, and that residue is not what a mask can remove. Without a
    reference, the threshold alone decides.
    """
    if distance >= threshold:
        return False
    if reference is None:
        return True
    m = reference_margin() if margin is None else margin
    return distance < reference - m


def calibration_embedding(image: np.ndarray,
                          box: tuple[float, float, float, float] | np.ndarray) -> np.ndarray:
    """The 128-D embedding of one face, aligned on its own landmarks.

    For *calibrating* the threshold on labelled research pairs only
    (``benchmarks.calibrate_reid``), where it is kept in memory for the run and never
    written anywhere. Verification never compares two different faces and never calls this.
    """
    shape_predictor, resnet = _models()
    img = _rgb(image)
    h, w = img.shape[:2]
    lm = shape_predictor(img, _rectangle(box, w, h))
    return _embedding(resnet, img, lm, None)


@dataclass(frozen=True)
class Calibration:
    """The shipped re-identification threshold and the numbers behind it."""

    threshold: float
    data: dict[str, Any]


@functools.lru_cache(maxsize=1)
def calibration() -> Calibration:
    """The calibration shipped in ``veil/data/reid_calibration.json``.

    Falls back to the METRICS.md floor of 0.6 (and says so in ``data``) when the file is
    missing, which only happens in a broken install.
    """
    try:
        text = resources.files("veil").joinpath("data", CALIBRATION_FILE).read_text("utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return Calibration(FLOOR_THRESHOLD, {"threshold": FLOOR_THRESHOLD,
                                             "note": "calibration file missing; floor used"})
    data = json.loads(text)
    return Calibration(max(FLOOR_THRESHOLD, float(data["threshold"])), data)


def reid_threshold() -> float:
    """Distances below this mean the masked face is still re-identifiable."""
    return calibration().threshold


def reference_margin() -> float:
    """How much closer than the solid reference a masked face must be to fail."""
    return float(calibration().data.get("reference_margin", DEFAULT_REFERENCE_MARGIN))
