"""Moving-camera test clips with exact per-frame face boxes, made from WIDER stills.

METRICS.md ("Video"): real clips have no per-frame boxes, so a still with boxes is
filmed through a known camera path — pan, zoom, a small rotation — and each box
moves with the same affine transform. Frames get motion blur when the camera moves
fast, JPEG-like compression, and for a few frames a bar sweeps across the picture
(occlusion). A face more than half hidden by the bar in a frame is marked invalid
there (it does not count: no tool can mask what it cannot see, and no tool needs to).

The clip is H.264 (CRF 12, near lossless) in MP4; ground truth is a JSON file beside
it: ``{"width", "height", "fps", "frames": [[[x, y, w, h, invalid], ...], ...]}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class GtImage:
    """One WIDER image and its boxes (``x y w h`` float pixels, invalid flags)."""

    name: str
    boxes: np.ndarray   # (N, 4)
    invalid: np.ndarray  # (N,) bool


def read_wider_gt(gt_file: Path) -> list[GtImage]:
    """Parse a WIDER-format ground-truth file (name line, count line, box lines)."""
    lines = [ln.strip() for ln in Path(gt_file).read_text().splitlines()]
    out: list[GtImage] = []
    i = 0
    while i < len(lines):
        name = lines[i]
        if not name:
            i += 1
            continue
        count = int(lines[i + 1])
        rows = [lines[i + 2 + k].split() for k in range(count)]
        i += 2 + max(count, 1)  # WIDER writes one dummy row for images without faces
        vals = np.array([[float(v) for v in r[:10]] for r in rows], dtype=np.float64)
        vals = vals.reshape(-1, 10)
        out.append(GtImage(name, vals[:, :4], vals[:, 7] > 0))
    return out


@dataclass(frozen=True)
class CameraPath:
    """Smooth random camera motion over ``frames`` frames."""

    frames: int
    pan: tuple[float, float]      # total pan, as a fraction of the canvas
    zoom: tuple[float, float]     # start and end zoom factor
    rot_deg: float                # amplitude of the small rotation
    wobble: float                 # hand-held shake, pixels
    occlude_at: int               # first frame of the occluding bar
    occlude_len: int


def random_path(rng: np.random.Generator, frames: int) -> CameraPath:
    return CameraPath(
        frames=frames,
        pan=(float(rng.uniform(-0.35, 0.35)), float(rng.uniform(-0.2, 0.2))),
        zoom=(float(rng.uniform(0.95, 1.05)), float(rng.uniform(1.0, 1.15))),
        rot_deg=float(rng.uniform(1.0, 4.0)),
        wobble=float(rng.uniform(0.0, 3.0)),
        occlude_at=int(rng.integers(frames // 4, max(frames // 4 + 1, frames - 8))),
        occlude_len=int(rng.integers(3, 6)),
    )


def affine_at(path: CameraPath, t: int, src_wh: tuple[int, int],
              out_wh: tuple[int, int], base_scale: float) -> np.ndarray:
    """2x3 matrix mapping still-image pixels to frame ``t`` pixels."""
    u = t / max(path.frames - 1, 1)
    ease = 0.5 - 0.5 * math.cos(math.pi * u)
    sw, sh = src_wh
    ow, oh = out_wh
    zoom = path.zoom[0] + (path.zoom[1] - path.zoom[0]) * ease
    s = base_scale * zoom
    angle = path.rot_deg * math.sin(2 * math.pi * u)
    cx = sw / 2 + path.pan[0] * sw * (ease - 0.5)
    cy = sh / 2 + path.pan[1] * sh * (ease - 0.5)
    cx += path.wobble * math.sin(7.3 * u * math.pi)
    cy += path.wobble * math.cos(5.1 * u * math.pi)
    m = cv2.getRotationMatrix2D((cx, cy), angle, s)
    m[0, 2] += ow / 2 - cx
    m[1, 2] += oh / 2 - cy
    return m


def transform_boxes(boxes_xywh: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Axis-aligned boxes (``x y w h``) around the transformed corners of each box."""
    b = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    corners = np.stack([np.stack([x1, y1], 1), np.stack([x2, y1], 1),
                        np.stack([x1, y2], 1), np.stack([x2, y2], 1)], 1)  # (N,4,2)
    pts = corners @ m[:, :2].T + m[:, 2]
    lo, hi = pts.min(axis=1), pts.max(axis=1)
    return np.concatenate([lo, hi - lo], axis=1)


def clip_boxes(boxes_xywh: np.ndarray, w: int, h: int) -> np.ndarray:
    b = boxes_xywh.copy()
    x1 = np.clip(b[:, 0], 0, w)
    y1 = np.clip(b[:, 1], 0, h)
    x2 = np.clip(b[:, 0] + b[:, 2], 0, w)
    y2 = np.clip(b[:, 1] + b[:, 3], 0, h)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


def motion_blur(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Blur along the camera's motion (length = pixels moved during one frame)."""
    length = int(round(math.hypot(dx, dy)))
    if length < 2:
        return img
    k = np.zeros((length * 2 + 1, length * 2 + 1), np.float32)
    c = length
    ux, uy = dx / math.hypot(dx, dy), dy / math.hypot(dx, dy)
    for s in np.linspace(-length / 2, length / 2, length * 2 + 1):
        k[int(round(c + s * uy)), int(round(c + s * ux))] = 1.0
    k /= k.sum()
    return cv2.filter2D(img, -1, k)


def jpeg_like(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover
        return img
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]


def make_clip(image_path: Path, gt: GtImage, out: Path, *, seed: int, frames: int = 60,
              size: tuple[int, int] = (640, 360), upscale: float = 1.5,
              fps: int = 30) -> Path:
    """Write ``out`` (MP4) and ``out.gt.json`` for one still; returns the GT path."""
    import av

    rng = np.random.default_rng(seed)
    still = cv2.imread(str(image_path), cv2.IMREAD_COLOR)[:, :, ::-1]
    sh, sw = still.shape[:2]
    ow, oh = size
    # x1.5 of the still, but never smaller than what fills the canvas.
    base = max(upscale, ow / sw, oh / sh)
    path = random_path(rng, frames)
    quality = int(rng.integers(70, 91))
    gt_frames: list[list[list[float]]] = []
    # Written under a unique name and moved into place, so that two benchmark processes
    # making the same (deterministic) clip at once do not write one file together.
    tmp = out.with_name(f"{out.name}.{os.getpid()}.part.mp4")
    container = av.open(str(tmp), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = ow, oh, "yuv420p"
    stream.options = {"crf": "12", "preset": "veryfast"}
    prev_centre: np.ndarray | None = None
    for t in range(frames):
        m = affine_at(path, t, (sw, sh), (ow, oh), base)
        frame = cv2.warpAffine(still, m, (ow, oh), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        centre = m @ np.array([sw / 2, sh / 2, 1.0])
        if prev_centre is not None:
            d = centre - prev_centre
            frame = motion_blur(frame, float(d[0]), float(d[1]))
        prev_centre = centre
        boxes = clip_boxes(transform_boxes(gt.boxes, m), ow, oh)
        invalid = gt.invalid.copy()
        if path.occlude_at <= t < path.occlude_at + path.occlude_len:
            k = t - path.occlude_at
            bw = ow // 5
            bx = int((k + 0.5) / path.occlude_len * (ow - bw))
            frame = frame.copy()
            frame[:, bx:bx + bw] = (60, 60, 60)
            covered = (np.clip(boxes[:, 0] + boxes[:, 2], bx, bx + bw)
                       - np.clip(boxes[:, 0], bx, bx + bw)) / np.maximum(boxes[:, 2], 1e-6)
            invalid |= covered > 0.5
        frame = jpeg_like(np.ascontiguousarray(frame), quality)
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts, vf.time_base = t, Fraction(1, fps)
        for pkt in stream.encode(vf):
            container.mux(pkt)
        gt_frames.append([[round(float(v), 2) for v in b] + [int(bad)]
                          for b, bad in zip(boxes, invalid, strict=True)])
    for pkt in stream.encode(None):
        container.mux(pkt)
    container.close()
    tmp.replace(out)
    gt_path = Path(str(out) + ".gt.json")
    gt_tmp = gt_path.with_name(f"{gt_path.name}.{os.getpid()}.part")
    gt_tmp.write_text(json.dumps({"source": gt.name, "width": ow, "height": oh, "fps": fps,
                                  "frames": gt_frames}))
    gt_tmp.replace(gt_path)
    return gt_path


def make_clips(data: Path, out_dir: Path, *, count: int = 12, frames: int = 60,
               size: tuple[int, int] = (640, 360), seed: int = 0, first: int = 0,
               maker: Callable[..., Path] | None = None, prefix: str = "clip") -> list[Path]:
    """Clips from ``count`` images of ``wider-val-dev`` starting at index ``first``
    (0-based; cached in ``out_dir`` as ``<prefix><index>_<image>.mp4``), each made by
    ``maker`` (default :func:`make_clip`; ``benchmarks.videogen_b`` passes its own)."""
    maker = maker or make_clip
    root = Path(data) / "wider-val-dev"
    images = read_wider_gt(root / "gt.txt")[first:first + count]
    out_dir.mkdir(parents=True, exist_ok=True)
    clips: list[Path] = []
    for k, gt in enumerate(images, start=first):
        clip = out_dir / f"{prefix}{k:03d}_{Path(gt.name).stem}.mp4"
        if not (clip.exists() and Path(str(clip) + ".gt.json").exists()):
            maker(root / "images" / gt.name, gt, clip, seed=seed + k, frames=frames, size=size)
        clips.append(clip)
    return clips


def make_long_clip(source: Path, out: Path, seconds: float) -> Path:
    """A clip of ``seconds`` made by playing ``source`` over and over (for memory runs).

    The source is decoded again for each loop, so no frames are held; each restart is a
    jump cut (which also exercises shot-change detection).
    """
    import av

    with av.open(str(source)) as src:
        vs = src.streams.video[0]
        rate = vs.average_rate or Fraction(30)
        w, h = vs.codec_context.width, vs.codec_context.height
    n = int(round(seconds * float(rate)))
    i = 0
    with av.open(str(out), "w") as dst:
        st = dst.add_stream("libx264", rate=rate)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": "23", "preset": "ultrafast"}
        while i < n:
            with av.open(str(source)) as src:
                for f in src.decode(video=0):
                    if i >= n:
                        break
                    vf = f.reformat(format="yuv420p")
                    vf.pts, vf.time_base = i, 1 / rate
                    for pkt in st.encode(vf):
                        dst.mux(pkt)
                    i += 1
        for pkt in st.encode(None):
            dst.mux(pkt)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder for the clips and their .gt.json")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--first", type=int, default=0, help="0-based index of the first image")
    a = ap.parse_args(argv)
    w, h = (int(v) for v in a.size.lower().split("x"))
    for clip in make_clips(a.data, a.out, count=a.count, frames=a.frames, size=(w, h),
                           seed=a.seed, first=a.first):
        print(clip)


if __name__ == "__main__":
    main()
