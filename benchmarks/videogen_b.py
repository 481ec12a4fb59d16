"""A second clip generator: hand-held footage with exact per-frame face boxes.

Written apart from :mod:`benchmarks.videogen` (its smooth eased pan, zoom and rotation),
so that video defaults tuned on one motion model are checked on another. Each clip films
one WIDER still through a simulated hand-held camera:

* **shake**: three random walks (Ornstein-Uhlenbeck, slow drift, body sway and hand
  tremor, time constants of about 20, 5 and 1.5 frames) on position and a small roll;
* **whip pans**: one or two fast pans of half to one view width in 4 to 8 frames, with
  motion blur along the motion (line kernel as long as the shutter was open, 30 to 80% of
  the frame's motion);
* **rolling shutter**: rows are read out one after the other, so during a pan each row
  is displaced by the motion made while the rows above it were read (a shear and a
  vertical stretch, both affine);
* **zoom** in or out over 10 to 30 frames;
* **defocus**: a disc blur whose radius hunts up and down over time;
* faces **enter and leave the frame** as the camera moves: the view stays inside the
  still, so faces cross the frame border, never the still's border;
* **occlusion**: for 3 to 6 frames a passer-by (a dark ellipse) crosses the picture;
* **compression noise**: sensor noise, JPEG at a quality that changes every frame,
  H.264 at CRF 16.

Ground truth: every box's corners go through the frame's own transform (camera and
rolling shutter), the axis-aligned box around them is clipped to the frame, and the
METRICS.md rule applies to the **visible part**: a face partly outside the frame counts
when its clipped box has a shorter side of at least 10 px (a face cut by the border is
still a face to mask; its visible part is what can leak). A face more than half covered
by the passer-by in a frame is marked invalid there, as in :mod:`benchmarks.videogen`.
Blur is not a reason to drop a face: a smeared or defocused face still has to be masked.

Deterministic: the same seed, still and size give the same clip and ground truth. Output
is the same as videogen's: MP4 plus ``.gt.json`` ``{"width", "height", "fps", "frames":
[[[x, y, w, h, invalid], ...], ...]}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from benchmarks import videogen
from benchmarks.metrics import box_window
from benchmarks.videogen import DEFAULT_DATA, GtImage, clip_boxes

SIZES = {"640x360": (640, 360), "1280x720": (1280, 720), "1920x1080": (1920, 1080)}


@dataclass(frozen=True)
class Shot:
    """Everything random about one clip, drawn once from the seed."""

    scale: np.ndarray      # (T,) still pixels -> frame pixels
    centre: np.ndarray     # (T, 2) still point at the frame centre
    roll: np.ndarray       # (T,) degrees
    defocus: np.ndarray    # (T,) disc radius, frame pixels
    readout: float         # rolling-shutter readout, fraction of a frame
    exposure: float        # shutter open, fraction of a frame (motion blur length)
    occluder: tuple[int, int, float, float, int]  # first frame, frames, width, height, grey
    quality: np.ndarray    # (T,) JPEG quality
    noise: float           # sensor noise sigma

    @property
    def frames(self) -> int:
        return len(self.scale)


def _ou(rng: np.random.Generator, n: int, tau: float, sigma: float) -> np.ndarray:
    """Ornstein-Uhlenbeck walk of ``n`` steps: time constant ``tau`` frames, stationary
    standard deviation ``sigma``."""
    a = math.exp(-1.0 / tau)
    step = sigma * math.sqrt(1 - a * a)
    x = np.empty(n)
    x[0] = rng.normal(0, sigma)
    for i in range(1, n):
        x[i] = a * x[i - 1] + rng.normal(0, step)
    return x


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def plan_shot(rng: np.random.Generator, frames: int, still_wh: tuple[int, int],
              out_wh: tuple[int, int]) -> Shot:
    """Draw a hand-held camera path over ``frames`` frames of a still of ``still_wh``."""
    sw, sh = still_wh
    ow, oh = out_wh
    unit = ow / 640.0  # shake and blur sizes grow with the frame
    cover = max(ow / sw, oh / sh)
    base = max(float(rng.uniform(1.2, 1.8)), cover * 1.15)
    t = np.arange(frames, dtype=np.float64)

    # Zoom: one move in or out, never so far out that the view leaves the still.
    z0 = float(rng.uniform(1.0, 1.3))
    z1 = float(np.clip(z0 * rng.uniform(0.75, 1.4), 0.9, 1.6))
    zl = int(rng.integers(10, 31))
    zs = int(rng.integers(0, max(1, frames - zl)))
    scale = base * (z0 + (z1 - z0) * _smoothstep((t - zs) / zl))

    # Position: slow drift, whip pans, shake (shake is in frame pixels, turned into
    # still pixels by the scale).
    view_w = ow / scale
    start = np.array([rng.uniform(0.3, 0.7) * sw, rng.uniform(0.35, 0.65) * sh])
    drift = rng.uniform(-0.25, 0.25, 2) * np.array([ow, oh]) / base
    centre = start + np.outer(t / max(frames - 1, 1), drift)
    for _ in range(int(rng.integers(1, 3))):
        at = int(rng.integers(0, max(1, frames - 8)))
        length = int(rng.integers(4, 9))
        amp = float(rng.uniform(0.5, 1.0)) * float(view_w[at])
        here = centre[min(at, frames - 1), 0]
        sign = 1.0 if (sw - here) > here else -1.0  # towards the side with more room
        ang = float(rng.uniform(-0.3, 0.3))
        move = _smoothstep((t - at) / length)
        centre[:, 0] += sign * amp * math.cos(ang) * move
        centre[:, 1] += amp * math.sin(ang) * move
    strength = float(rng.uniform(0.5, 2.0)) * unit
    for tau, sigma in ((20.0, 6.0), (5.0, 2.5), (1.5, 1.0)):
        centre[:, 0] += _ou(rng, frames, tau, sigma * strength) / scale
        centre[:, 1] += _ou(rng, frames, tau, sigma * strength) / scale
    roll = _ou(rng, frames, 8.0, float(rng.uniform(0.2, 1.2)))

    readout = float(rng.uniform(0.5, 0.9))
    # Keep the view inside the still, with room for roll and rolling-shutter shear.
    half = np.stack([ow / (2 * scale), oh / (2 * scale)], 1)
    rad = np.radians(np.abs(roll))
    ext_x = half[:, 0] * np.cos(rad) + half[:, 1] * np.sin(rad)
    ext_y = half[:, 0] * np.sin(rad) + half[:, 1] * np.cos(rad)
    vel = np.abs(np.diff(centre, axis=0, prepend=centre[:1])) * readout
    ext = np.stack([ext_x, ext_y], 1) + vel + 2.0
    lo = ext
    hi = np.array([sw, sh]) - ext
    centre = np.where(lo < hi, np.clip(centre, lo, np.maximum(lo, hi)),
                      np.array([sw, sh]) / 2.0)

    # Defocus: the lens hunts once or twice (radius in frame pixels).
    defocus = np.full(frames, float(rng.uniform(0.0, 1.0)) * unit)
    for _ in range(int(rng.integers(1, 3))):
        at = float(rng.uniform(0, frames))
        width = float(rng.uniform(3, 8))
        defocus += float(rng.uniform(2.0, 6.0)) * unit * np.exp(-0.5 * ((t - at) / width) ** 2)

    occ_len = int(rng.integers(3, 7))
    occ_at = int(rng.integers(0, max(1, frames - occ_len)))
    occluder = (occ_at, occ_len, float(rng.uniform(0.2, 0.35)), float(rng.uniform(0.9, 1.2)),
                int(rng.integers(20, 80)))
    quality = rng.integers(55, 86, frames)
    shot = Shot(scale=scale, centre=centre, roll=roll, defocus=defocus, readout=readout,
                exposure=float(rng.uniform(0.3, 0.8)), occluder=occluder, quality=quality,
                noise=float(rng.uniform(1.0, 3.0)))
    return _keep_inside(shot, still_wh, out_wh)


def _keep_inside(shot: Shot, still_wh: tuple[int, int], out_wh: tuple[int, int]) -> Shot:
    """Nudge the camera so that every frame's corners (rolling shutter included) map
    inside the still; the margin above is estimated before clamping, this makes it exact
    (moving one frame changes its neighbours' motion, hence a few rounds)."""
    ow, oh = out_wh
    corners = np.array([[0, 0, 1], [ow, 0, 1], [0, oh, 1], [ow, oh, 1]], float).T
    limit = np.array(still_wh, float)
    for _ in range(8):
        centre = shot.centre.copy()
        for t in range(shot.frames):
            m = np.vstack([frame_matrix(shot, t, out_wh), [0.0, 0.0, 1.0]])
            pts = np.linalg.solve(m, corners)[:2]
            lo, hi = pts.min(axis=1), pts.max(axis=1)
            centre[t] += np.maximum(0.0, -lo) - np.maximum(0.0, hi - limit)
        if np.allclose(centre, shot.centre, atol=1e-3):
            break
        shot = replace(shot, centre=centre)
    return shot


def camera_matrix(shot: Shot, t: int, out_wh: tuple[int, int]) -> np.ndarray:
    """3x3 matrix, still pixels -> frame pixels, of the camera alone at frame ``t``."""
    ow, oh = out_wh
    s = float(shot.scale[t])
    a = math.radians(float(shot.roll[t]))
    c, si = math.cos(a) * s, math.sin(a) * s
    cx, cy = shot.centre[t]
    return np.array([[c, -si, ow / 2 - c * cx + si * cy],
                     [si, c, oh / 2 - si * cx - c * cy],
                     [0.0, 0.0, 1.0]])


def scene_motion(shot: Shot, t: int, out_wh: tuple[int, int]) -> np.ndarray:
    """Frame-pixel displacement, since the previous frame, of the still point now at
    the frame centre (the first frame uses the motion into the second)."""
    if shot.frames < 2:
        return np.zeros(2)
    a, b = (t - 1, t) if t > 0 else (0, 1)
    p = np.linalg.solve(camera_matrix(shot, b, out_wh), [out_wh[0] / 2, out_wh[1] / 2, 1])
    return np.array(out_wh, dtype=np.float64) / 2 - (camera_matrix(shot, a, out_wh) @ p)[:2]


def frame_matrix(shot: Shot, t: int, out_wh: tuple[int, int]) -> np.ndarray:
    """2x3 matrix, still pixels -> frame ``t`` pixels: camera, then rolling shutter.

    A row at height ``y`` is read ``readout * (y / h - 1/2)`` frames after the middle
    row, so the scene has moved on by that much of the frame's motion ``v``:
    ``x' = x + vx * k * (y - h/2)``, ``y' = y + vy * k * (y - h/2)``, ``k = readout / h``.
    """
    ow, oh = out_wh
    v = scene_motion(shot, t, out_wh)
    k = shot.readout / oh
    rs = np.array([[1.0, v[0] * k, -v[0] * k * oh / 2],
                   [0.0, 1.0 + v[1] * k, -v[1] * k * oh / 2],
                   [0.0, 0.0, 1.0]])
    return (rs @ camera_matrix(shot, t, out_wh))[:2]


def transform_boxes(boxes_xywh: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Axis-aligned ``x y w h`` box around each box's four corners mapped by ``m``."""
    b = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    xs = np.stack([b[:, 0], b[:, 0] + b[:, 2], b[:, 0], b[:, 0] + b[:, 2]], 1)
    ys = np.stack([b[:, 1], b[:, 1], b[:, 1] + b[:, 3], b[:, 1] + b[:, 3]], 1)
    px = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    py = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    x1, y1 = px.min(1), py.min(1)
    return np.stack([x1, y1, px.max(1) - x1, py.max(1) - y1], 1)


def frame_boxes(boxes_xywh: np.ndarray, m: np.ndarray, out_wh: tuple[int, int]) -> np.ndarray:
    """Ground truth in the frame: transformed, then clipped to the frame (a box wholly
    outside becomes zero-sized and does not count)."""
    return clip_boxes(transform_boxes(boxes_xywh, m), *out_wh)


def _line_kernel(dx: float, dy: float) -> np.ndarray | None:
    length = math.hypot(dx, dy)
    if length < 1.5:
        return None
    r = int(math.ceil(length / 2)) + 1
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    ux, uy = dx / length * length / 2, dy / length * length / 2
    p0 = (int(round((r - ux) * 16)), int(round((r - uy) * 16)))
    p1 = (int(round((r + ux) * 16)), int(round((r + uy) * 16)))
    cv2.line(k, p0, p1, 1.0, 1, cv2.LINE_AA, shift=4)
    return k / k.sum()


def _disc_kernel(radius: float) -> np.ndarray | None:
    if radius < 0.75:
        return None
    r = int(math.ceil(radius))
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    cv2.circle(k, (r * 16, r * 16), int(round(radius * 16)), 1.0, -1, cv2.LINE_AA, shift=4)
    return k / k.sum()


def occluder_mask(shot: Shot, t: int, out_wh: tuple[int, int]) -> np.ndarray | None:
    """The passer-by's pixels in frame ``t`` (None when it is not in the picture)."""
    at, n, wf, hf, _ = shot.occluder
    if not at <= t < at + n:
        return None
    ow, oh = out_wh
    w = wf * ow
    cx = -w / 2 + (t - at + 0.5) / n * (ow + w)
    mask = np.zeros((oh, ow), np.uint8)
    cv2.ellipse(mask, (int(round(cx)), int(round(oh * 0.6))),
                (int(round(w / 2)), int(round(hf * oh / 2))), 0, 0, 360, 1, -1)
    return mask.astype(bool)


def render_frame(still: np.ndarray, shot: Shot, t: int, out_wh: tuple[int, int],
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Frame ``t`` (RGB): warped still, motion blur, defocus, passer-by, noise, JPEG.
    Without ``rng`` the noise and JPEG steps are left out (for tests)."""
    m = frame_matrix(shot, t, out_wh)
    frame = cv2.warpAffine(still, m, out_wh, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    v = scene_motion(shot, t, out_wh) * shot.exposure
    for k in (_line_kernel(float(v[0]), float(v[1])), _disc_kernel(float(shot.defocus[t]))):
        if k is not None:
            frame = cv2.filter2D(frame, -1, k, borderType=cv2.BORDER_REPLICATE)
    occ = occluder_mask(shot, t, out_wh)
    if occ is not None:
        frame[occ] = shot.occluder[4]
    if rng is not None:
        noisy = frame.astype(np.float32) + rng.normal(0, shot.noise, frame.shape)
        frame = np.clip(noisy, 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(shot.quality[t])])
        if ok:
            frame = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(frame)


def frame_truth(gt: GtImage, shot: Shot, t: int, out_wh: tuple[int, int]) -> np.ndarray:
    """``(N, 5)`` rows ``x y w h invalid`` of frame ``t``."""
    boxes = frame_boxes(gt.boxes, frame_matrix(shot, t, out_wh), out_wh)
    invalid = gt.invalid.copy()
    occ = occluder_mask(shot, t, out_wh)
    if occ is not None:
        ow, oh = out_wh
        for i, box in enumerate(boxes):
            x1, y1, x2, y2 = box_window(box, ow, oh)
            if x2 > x1 and y2 > y1 and occ[y1:y2, x1:x2].mean() > 0.5:
                invalid[i] = True
    return np.column_stack([boxes, invalid.astype(np.float64)])


def make_clip(image_path: Path, gt: GtImage, out: Path, *, seed: int, frames: int = 60,
              size: tuple[int, int] = (640, 360), fps: int = 30) -> Path:
    """Write ``out`` (MP4) and ``out.gt.json`` for one still; returns the GT path."""
    import av

    still = cv2.imread(str(image_path), cv2.IMREAD_COLOR)[:, :, ::-1]
    still = np.ascontiguousarray(still)
    sh, sw = still.shape[:2]
    rng = np.random.default_rng([seed, 0xB])
    shot = plan_shot(rng, frames, (sw, sh), size)
    noise_rng = np.random.default_rng([seed, 0xB, 1])
    gt_frames = []
    # Unique temporary names, moved into place: two benchmark processes that make the
    # same (deterministic) clip at once do not trip over each other.
    tmp = out.with_name(f"{out.name}.{os.getpid()}.part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "16", "preset": "veryfast"}
        for t in range(frames):
            frame = render_frame(still, shot, t, size, noise_rng)
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = t, Fraction(1, fps)
            for pkt in stream.encode(vf):
                container.mux(pkt)
            rows = frame_truth(gt, shot, t, size)
            gt_frames.append([[round(float(v), 2) for v in r[:4]] + [int(r[4])] for r in rows])
        for pkt in stream.encode(None):
            container.mux(pkt)
    tmp.replace(out)
    gt_path = Path(str(out) + ".gt.json")
    gt_tmp = gt_path.with_name(f"{gt_path.name}.{os.getpid()}.part")
    gt_tmp.write_text(json.dumps({"source": gt.name, "generator": "videogen_b",
                                  "width": size[0], "height": size[1], "fps": fps,
                                  "frames": gt_frames}))
    gt_tmp.replace(gt_path)
    return gt_path


def make_clips(data: Path, out_dir: Path, *, count: int = 12, frames: int = 60,
               size: tuple[int, int] = (640, 360), seed: int = 0, first: int = 0) -> list[Path]:
    """Clips from ``count`` images of ``wider-val-dev`` from index ``first`` (0-based;
    cached in ``out_dir`` as ``clipb...``): :func:`benchmarks.videogen.make_clips` with
    this generator's :func:`make_clip`."""
    return videogen.make_clips(data, out_dir, count=count, frames=frames, size=size,
                               seed=seed, first=first, maker=make_clip, prefix="clipb")


def parse_size(text: str) -> tuple[int, int]:
    """``640x360`` -> ``(640, 360)``."""
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.videogen_b",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder for the clips and their .gt.json")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", default="640x360", help="frame size, e.g. 640x360, 1280x720, "
                    "1920x1080")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--first", type=int, default=0, help="0-based index of the first image")
    a = ap.parse_args(argv)
    for clip in make_clips(a.data, a.out, count=a.count, frames=a.frames,
                           size=parse_size(a.size), seed=a.seed, first=a.first):
        print(clip)


if __name__ == "__main__":
    main()
