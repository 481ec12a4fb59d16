"""dlib's face-recognition ResNet, with its own weights, run by onnxruntime.

The re-identification check (:mod:`veil.verify.recognition`) embeds aligned 150x150 face
chips with ``dlib_face_recognition_resnet_model_v1`` (the installed
``face_recognition_models`` package, CC0). dlib's own forward pass is slow where dlib was
built without a BLAS (the ``dlib-bin`` wheel): about 74 ms a chip. This module reads the
very same weights from the ``.dat`` file and builds an ONNX graph of the same network,
which onnxruntime runs many times faster; the embeddings match dlib's
``compute_face_descriptor(chip)`` to float rounding (``tests/test_resnet_onnx.py``).

The file is dlib's own serialisation of the network type ``anet_type`` of dlib's
``dnn_face_recognition_ex.cpp`` (a ResNet-29 variant). dlib writes a network by its C++
type, not self-describing, so the reader follows that type layer by layer and checks
every version tag and size on the way; a file of any other shape is refused
(:class:`ResnetFormatError`). What the reader relies on:

- integers: one byte holding the count of the bytes that follow (bit 7 set for a negative
  value), then the magnitude, little-endian;
- ``float``/``double`` scalars: an integer mantissa then an integer exponent
  (value = mantissa * 2 ** exponent);
- strings: an integer length, then the bytes; ``bool``: one byte, ``'0'`` or ``'1'``;
- tensors: version 2, then num_samples, k, nr, nc, then the values as little-endian IEEE
  float32 (version 1 wrote each value as a scalar float, above);
- a network is written outside-in: every layer's version first, from the loss layer down
  to the input layer, then the input layer, then each layer's details from the input
  upwards (a computational layer's details are followed by three ``bool`` and its cached
  tensors, all empty in a shipped model).

The graph: ``uint8`` RGB chips ``(N, 150, 150, 3)`` in; per pixel ``(value - mean) / 256``
in float32 as dlib's ``input_rgb_image_sized`` does (the means are in the file); out the
128 values of the last fully connected layer, unnormalised, as dlib returns them.
dlib's residual additions (``add_prev``) add tensors of different shapes by treating
missing channels, rows and columns as zeros (the down-sampling blocks add a 256-channel
3x3 map to a 128-channel 4x4 one); the graph pads both to the larger shape the same way.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: The chip side the network was built for (``input_rgb_image_sized<150>``).
CHIP = 150
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"


class ResnetFormatError(ValueError):
    """The ``.dat`` file is not dlib's face-recognition ResNet as this reader knows it."""


# --------------------------------------------------------------------------------------
# dlib's serialisation


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)  # slices are views: the weights are not copied
        self.pos = 0

    def _take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ResnetFormatError("the file ends early")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def integer(self) -> int:
        head = self._take(1)[0]
        size, negative = head & 0x7F, bool(head & 0x80)
        if size > 8:
            raise ResnetFormatError(f"bad integer at byte {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little")
        return -value if negative else value

    def version(self, expected: tuple[int, ...], what: str) -> int:
        v = self.integer()
        if v not in expected:
            raise ResnetFormatError(f"unexpected version {v} of {what}")
        return v

    def scalar(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        if exponent >= 32000:  # dlib's marks for inf and nan
            raise ResnetFormatError("a non-finite number where a finite one belongs")
        return math.ldexp(mantissa, exponent)

    def string(self) -> str:
        n = self.integer()
        return bytes(self._take(n)).decode("latin-1")

    def tag(self, *expected: str) -> str:
        s = self.string()
        if s not in expected:
            raise ResnetFormatError(f"expected layer {' or '.join(expected)}, found {s!r}")
        return s

    def boolean(self) -> bool:
        b = bytes(self._take(1))
        if b not in (b"0", b"1"):
            raise ResnetFormatError(f"bad bool at byte {self.pos - 1}")
        return b == b"1"

    def tensor(self) -> np.ndarray:
        version = self.version((1, 2), "a tensor")
        shape = tuple(self.integer() for _ in range(4))
        if min(shape) < 0:
            raise ResnetFormatError("negative tensor size")
        count = math.prod(shape)
        if version == 2:
            values = np.frombuffer(self._take(4 * count), dtype="<f4")
        else:
            values = np.array([self.scalar() for _ in range(count)], dtype=np.float32)
        return values.reshape(shape)

    def alias(self) -> tuple[int, int, int, int]:
        self.version((1,), "an alias tensor")
        n, k, nr, nc = (self.integer() for _ in range(4))
        return n, k, nr, nc


# --------------------------------------------------------------------------------------
# The network type: dlib's anet_type, forward order (input first)


@dataclass
class Layer:
    kind: str  # input, con, affine, relu, max_pool, avg_pool, add_prev, tag, skip, fc
    arg: int = 0  # con: filters; tag/skip/add_prev: the tag id; fc: outputs
    stride: int = 1  # con: the expected stride
    values: dict[str, Any] = field(default_factory=dict)


def _block(layers: list[Layer], n: int, stride: int) -> None:
    layers += [Layer("con", n, stride), Layer("affine"), Layer("relu"),
               Layer("con", n, 1), Layer("affine")]


def _ares(layers: list[Layer], n: int) -> None:
    layers.append(Layer("tag", 1))
    _block(layers, n, 1)
    layers += [Layer("add_prev", 1), Layer("relu")]


def _ares_down(layers: list[Layer], n: int) -> None:
    layers.append(Layer("tag", 1))
    _block(layers, n, 2)
    layers += [Layer("tag", 2), Layer("skip", 1), Layer("avg_pool"), Layer("add_prev", 2),
               Layer("relu")]


def architecture() -> list[Layer]:
    """The layers of dlib's face-recognition ResNet, input first."""
    layers = [Layer("input"), Layer("con", 32, 2), Layer("affine"), Layer("relu"),
              Layer("max_pool")]
    for n, plain, down in ((32, 3, False), (64, 3, True), (128, 2, True), (256, 2, True),
                           (256, 0, True)):
        if down:
            _ares_down(layers, n)
        for _ in range(plain):
            _ares(layers, n)
    layers += [Layer("avg_pool"), Layer("fc", 128)]
    return layers


def _pool_details(r: _Reader, layer: Layer) -> None:
    nr, nc, sy, sx, py, px = (r.integer() for _ in range(6))
    layer.values.update(window=(nr, nc), stride=(sy, sx), pad=(py, px))


def _details(r: _Reader, layer: Layer) -> None:
    """One layer's own serialised details (the part dlib's layer class writes)."""
    k = layer.kind
    if k == "con":
        r.tag("con_4")
        params = r.tensor()
        filters, nr, nc, sy, sx, py, px = (r.integer() for _ in range(7))
        fshape, bshape = r.alias(), r.alias()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            r.scalar()
        if filters != layer.arg or (sy, sx) != (layer.stride, layer.stride):
            raise ResnetFormatError(f"a convolution of {filters} filters, stride {sy}, "
                                    f"where {layer.arg}, stride {layer.stride} belongs")
        nw = math.prod(fshape)
        if params.size != nw + math.prod(bshape) or fshape[0] != filters or \
                fshape[2:] != (nr, nc) or math.prod(bshape) != filters:
            raise ResnetFormatError("convolution sizes do not agree")
        flat = params.reshape(-1)
        layer.values.update(weight=flat[:nw].reshape(fshape), bias=flat[nw:].copy(),
                            stride=(sy, sx), pad=(py, px))
    elif k == "affine":
        r.tag("affine_")
        params = r.tensor()
        gshape, bshape = r.alias(), r.alias()
        mode = r.integer()
        n = math.prod(gshape)
        if mode != 0 or params.size != 2 * n or math.prod(bshape) != n:
            raise ResnetFormatError("an affine layer that is not per channel")
        flat = params.reshape(-1)
        layer.values.update(gamma=flat[:n].copy(), beta=flat[n:].copy())
    elif k == "relu":
        r.tag("relu_")
    elif k in ("max_pool", "avg_pool"):
        r.tag(f"{k}_2")
        _pool_details(r, layer)
    elif k == "add_prev":
        r.tag("add_prev_")
    elif k == "fc":
        r.tag("fc_2")
        outputs, inputs = r.integer(), r.integer()
        params = r.tensor()
        wshape, _ = r.alias(), r.alias()
        bias_mode = r.integer()
        for _ in range(4):
            r.scalar()
        if outputs != layer.arg or bias_mode != 1 or wshape[:2] != (inputs, outputs) or \
                params.size != inputs * outputs:
            raise ResnetFormatError("the fully connected layer is not 128 outputs without bias")
        layer.values.update(weight=params.reshape(inputs, outputs).copy())
    else:  # pragma: no cover - architecture() makes no other kind
        raise AssertionError(k)


def read_dat(data: bytes) -> list[Layer]:
    """The layers of the network serialised in ``data`` (a ``.dat`` file's bytes), input
    first, with their weights; :class:`ResnetFormatError` when it is not this network."""
    r = _Reader(data)
    layers = architecture()
    r.version((1,), "the loss layer")
    r.tag("loss_metric_2")
    r.scalar(), r.scalar()  # the training loss's margin and distance threshold
    versions: dict[int, int] = {}
    for i in range(len(layers) - 1, 0, -1):  # outside-in: the input's own layer last
        kind = layers[i].kind
        if kind in ("tag", "skip"):
            r.version((1,), f"a {kind} layer")
        elif i == 1:  # the layer on the input (dlib's add_layer over an input layer)
            versions[i] = r.version((2, 3), "the first layer")
        else:
            r.version((2,), "a layer")
    r.tag("input_rgb_image_sized")
    mean = [r.scalar() for _ in range(3)]
    if (r.integer(), r.integer()) != (CHIP, CHIP):
        raise ResnetFormatError(f"the input is not {CHIP}x{CHIP}")
    layers[0].values["mean"] = np.array(mean, dtype=np.float32)
    for i, layer in enumerate(layers[1:], start=1):
        if layer.kind in ("tag", "skip"):
            continue
        _details(r, layer)
        for _ in range(3):
            r.boolean()
        r.tensor(), r.tensor(), r.tensor()  # gradients and cached output (empty)
        if versions.get(i) == 3:
            r.integer()  # sample expansion factor
    if r.pos != len(r.data):
        raise ResnetFormatError(f"{len(r.data) - r.pos} bytes left after the network")
    return layers


# --------------------------------------------------------------------------------------
# The ONNX graph


def _out_side(side: int, window: int, stride: int, pad: int) -> int:
    return 1 + (side + 2 * pad - window) // stride


def build_onnx(layers: list[Layer], check: bool = False) -> bytes:
    """A serialised ONNX model computing the network of ``layers`` (:func:`read_dat`);
    ``check``: run ONNX's model checker on it (the tests do; at run time it would only hold
    one more copy of the weights while it runs)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    def const(value: np.ndarray, prefix: str = "w") -> str:
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), n))
        return n

    def node(op: str, inputs: list[str], **attrs: Any) -> str:
        out = name(op.lower())
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def pad_to(x: str, shape: tuple[int, int, int], target: tuple[int, int, int]) -> str:
        if shape == target:
            return x
        ends = [0, *(t - s for s, t in zip(shape, target, strict=True))]
        return node("Pad", [x, const(np.array([0, 0, 0, 0, *ends], np.int64), "pads")])

    mean = layers[0].values["mean"].reshape(1, 1, 1, 3)
    x = node("Cast", [INPUT_NAME], to=TensorProto.FLOAT)
    x = node("Sub", [x, const(mean.astype(np.float32), "mean")])
    x = node("Mul", [x, const(np.array(1 / 256, np.float32), "scale")])
    x = node("Transpose", [x], perm=[0, 3, 1, 2])
    shape = (3, CHIP, CHIP)  # channels, rows, columns
    tags: dict[int, tuple[str, tuple[int, int, int]]] = {}
    for layer in layers[1:]:
        v, k = layer.values, layer.kind
        if k == "con":
            w = v["weight"]
            (sy, sx), (py, px) = v["stride"], v["pad"]
            x = node("Conv", [x, const(w), const(v["bias"])], kernel_shape=list(w.shape[2:]),
                     strides=[sy, sx], pads=[py, px, py, px])
            shape = (w.shape[0], _out_side(shape[1], w.shape[2], sy, py),
                     _out_side(shape[2], w.shape[3], sx, px))
        elif k == "affine":
            x = node("Mul", [x, const(v["gamma"].reshape(1, -1, 1, 1))])
            x = node("Add", [x, const(v["beta"].reshape(1, -1, 1, 1))])
        elif k == "relu":
            x = node("Relu", [x])
        elif k in ("max_pool", "avg_pool"):
            (wy, wx), (sy, sx), (py, px) = v["window"], v["stride"], v["pad"]
            if (wy, wx) == (0, 0):  # dlib's avg_pool_everything
                x = node("GlobalAveragePool", [x])
                shape = (shape[0], 1, 1)
            else:
                op = "MaxPool" if k == "max_pool" else "AveragePool"
                if (py, px) != (0, 0):
                    raise ResnetFormatError("a padded pooling layer")
                x = node(op, [x], kernel_shape=[wy, wx], strides=[sy, sx])
                shape = (shape[0], _out_side(shape[1], wy, sy, 0),
                         _out_side(shape[2], wx, sx, 0))
        elif k == "tag":
            tags[layer.arg] = (x, shape)
        elif k == "skip":
            x, shape = tags[layer.arg]
        elif k == "add_prev":
            other, oshape = tags[layer.arg]
            target = (max(shape[0], oshape[0]), max(shape[1], oshape[1]),
                      max(shape[2], oshape[2]))
            x = node("Add", [pad_to(x, shape, target), pad_to(other, oshape, target)])
            shape = target
        elif k == "fc":
            x = node("Flatten", [x], axis=1)
            x = node("MatMul", [x, const(v["weight"])])
    nodes[-1].output[0] = OUTPUT_NAME
    graph = helper.make_graph(
        nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["n", CHIP, CHIP, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["n", 128])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="veil")
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def convert(dat: Path) -> bytes:
    """The ONNX model of the ResNet in the ``.dat`` file ``dat``."""
    return build_onnx(read_dat(dat.read_bytes()))


class ResnetEmbedder:
    """The network on onnxruntime's CPU provider: :meth:`embed` one aligned chip at a time.

    ``threads``: onnxruntime's intra-op threads (default: the detectors' count,
    :func:`veil.scan.base.default_threads`, one in each worker of a batch). Chips are run
    one by one, never batched, so that a chip's embedding does not depend on what else is
    embedded with it; the same chip gives the same bytes.
    """

    def __init__(self, dat: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        from veil.scan.base import default_threads

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.use_deterministic_compute = True
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(convert(dat), sess_options=opts,
                                             providers=["CPUExecutionProvider"])
        # onnxruntime's Python session keeps the bytes it was made from, to make itself
        # again on a fallback between providers, which a CPU-only session never does:
        # 22 MB a process (a batch's every worker) for nothing. Its copy of the weights
        # is its own.
        if getattr(self._session, "_model_bytes", None) is not None:
            self._session._model_bytes = None
        self._lock = threading.Lock()
        self.path = dat

    def embed(self, chip: np.ndarray) -> np.ndarray:
        """The 128 values dlib's ``compute_face_descriptor(chip)`` returns for one aligned
        ``(150, 150, 3)`` uint8 RGB chip, as float64."""
        chip = np.asarray(chip)
        if chip.shape != (CHIP, CHIP, 3) or chip.dtype != np.uint8:
            raise ValueError(f"expected a ({CHIP}, {CHIP}, 3) uint8 RGB chip")
        with self._lock:
            (out,) = self._session.run([OUTPUT_NAME],
                                       {INPUT_NAME: np.ascontiguousarray(chip[None])})
        return np.asarray(out[0], dtype=np.float64)
