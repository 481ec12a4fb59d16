"""YuNet-n on onnxruntime, with veil's own pre-processing and decoding.

The weights (``veil/models/yunet/yunet_n_dynamic.onnx``, Apache-2.0, see PROVENANCE.md
there) ship inside veil. The network is anchor-free: for each stride (8, 16, 32) it
predicts, per cell of the input grid, a class score, an objectness score, a box (centre
offset in cells and log-size in strides) and five landmarks (offsets in strides). A
candidate's score is ``sqrt(cls * obj)``. Input: BGR float 0..255, height and width
multiples of 32 (veil pads, never stretches).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import cv2
import numpy as np

from veil.detections import Detections
from veil.models import shipped_file
from veil.scan.base import default_threads

MODEL_FILE = "yunet_n_dynamic.onnx"
MODEL_SHA256 = "104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12"
STRIDES = (8, 16, 32)
_INPUT = "input"
_OUTPUTS = [f"{kind}_{s}" for s in STRIDES for kind in ("cls", "obj", "bbox", "kps")]
#: Overlapping candidates of one face (neighbouring cells, several strides) are merged by
#: non-maximum suppression at this IoU; faces in a crowd overlap less.
NMS_IOU = 0.4


def bundled_model_path() -> Path:
    """Path of the YuNet-n file inside the installed veil package."""
    return shipped_file("yunet", MODEL_FILE, "YuNet weights")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class YuNet:
    """The YuNet-n detector at one input size per call.

    ``detect(frame)`` runs the network on the RGB frame as given (padded to multiples of
    32) and returns every candidate whose score is at least ``floor``, overlapping
    candidates of one face merged.
    """

    name = "yunet"
    version = f"yunet-n/{MODEL_SHA256[:12]}"

    def __init__(self, model_path: str | Path | None = None, floor: float = 0.05,
                 threads: int | None = None) -> None:
        import onnxruntime as ort

        ort.set_default_logger_severity(3)
        path = Path(model_path) if model_path is not None else bundled_model_path()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or default_threads()
        self.floor = floor
        self._session = ort.InferenceSession(str(path), sess_options=opts,
                                             providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()
        self.model_path = path

    def detect(self, frame: np.ndarray) -> Detections:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError("YuNet expects an (H, W, 3) uint8 RGB frame")
        h, w = frame.shape[:2]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
        blob[0, :, :h, :w] = frame[:, :, ::-1].transpose(2, 0, 1)  # RGB -> BGR planes
        with self._lock:
            maps = self._session.run(_OUTPUTS, {_INPUT: blob})
        dets = decode(maps, pw, ph, self.floor)
        return suppress(dets, NMS_IOU).clipped(w, h)


def decode(maps: list[np.ndarray], width: int, height: int, floor: float) -> Detections:
    """Candidates of the padded ``width`` x ``height`` input from the twelve output maps
    (``cls, obj, bbox, kps`` per stride, in ``STRIDES`` order)."""
    parts: list[Detections] = []
    for k, stride in enumerate(STRIDES):
        cls, obj, bbox, kps = (m.reshape(m.shape[-2], m.shape[-1]) for m in maps[4 * k: 4 * k + 4])
        cols = width // stride
        score = np.sqrt(np.clip(cls[:, 0], 0, 1) * np.clip(obj[:, 0], 0, 1))
        idx = np.nonzero(score >= floor)[0]
        if not len(idx):
            continue
        row, col = np.divmod(idx, cols)
        b = bbox[idx]
        cx = (col + b[:, 0]) * stride
        cy = (row + b[:, 1]) * stride
        bw = np.exp(b[:, 2]) * stride
        bh = np.exp(b[:, 3]) * stride
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        lm = kps[idx].reshape(-1, 5, 2).copy()
        lm[:, :, 0] = (lm[:, :, 0] + col[:, None]) * stride
        lm[:, :, 1] = (lm[:, :, 1] + row[:, None]) * stride
        parts.append(Detections(boxes.astype(np.float32), score[idx].astype(np.float32),
                                lm.astype(np.float32)))
    return Detections.concatenate(parts) if parts else Detections()


def suppress(dets: Detections, iou: float) -> Detections:
    """Greedy non-maximum suppression (best score first)."""
    if len(dets) <= 1:
        return dets
    b = dets.boxes
    kept = cv2.dnn.NMSBoxes([[float(x1), float(y1), float(x2 - x1), float(y2 - y1)]
                             for x1, y1, x2, y2 in b], dets.scores.tolist(), 0.0, iou)
    keep = np.sort(np.asarray(kept, dtype=np.int64).reshape(-1))
    return dets[keep]
