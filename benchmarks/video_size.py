"""Output size against quality for the video bitrate cap (README, "Video": Size).

``python -m benchmarks.video_size CLIP... [--caps none,1.0,1.5,2.0] [--work DIR]``

Each clip is scanned once with the default settings (its plan is kept in ``--work``),
then rendered from that plan with each cap (``none``: CRF 20 alone). For every tenth
frame the output is compared with the decoded original *outside* the masked pixels
(grown by 10 px): PSNR over RGB and SSIM over grey levels (Gaussian window 11, sigma
1.5). Prints one line per clip and cap: sizes, ratio, PSNR, SSIM. Quality and size
only; the machine's speed is not measured.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

from veil.jobs.video import anonymize_video
from veil.plan.record import Plan
from veil.render.masks import coverage_mask
from veil.render.video import render_video
from veil.settings import MaskSettings, ScanSettings

GROW = 10  # px around the masks left out of the comparison


def psnr_ssim_outside(a: np.ndarray, b: np.ndarray, masked: np.ndarray) -> tuple[float, float]:
    """PSNR (RGB) and mean SSIM (grey) of ``b`` against ``a`` outside ``masked``."""
    kernel = np.ones((2 * GROW + 1, 2 * GROW + 1), np.uint8)
    keep = ~cv2.dilate(masked.astype(np.uint8), kernel).astype(bool)
    d = (a.astype(np.float64) - b)[keep]
    psnr = 10 * np.log10(255.0 ** 2 / max(float(np.mean(d ** 2)), 1e-9))
    ga, gb = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float64) for x in (a, b))

    def g(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    c1, c2 = 6.5025, 58.5225
    m1, m2 = g(ga), g(gb)
    s1, s2, s12 = g(ga * ga) - m1 ** 2, g(gb * gb) - m2 ** 2, g(ga * gb) - m1 * m2
    ssim = ((2 * m1 * m2 + c1) * (2 * s12 + c2)) / ((m1 ** 2 + m2 ** 2 + c1) * (s1 + s2 + c2))
    return psnr, float(ssim[keep].mean())


def measure(src: Path, work: Path, caps: list[float | None], step: int = 10) -> list[str]:
    work.mkdir(parents=True, exist_ok=True)
    plan_path = work / f"{src.stem}.plan.json"
    if not plan_path.exists():
        res = anonymize_video(src, work / f"{src.stem}-default.mp4", scan=ScanSettings(),
                              mask=MaskSettings(), plan_path=plan_path, overwrite=True)
        if not res.ok:
            raise SystemExit(f"veil: {src}: {res.error}")
    plan = Plan.load(plan_path)
    lines = []
    for cap in caps:
        dst = work / f"{src.stem}-cap{cap}.mp4"
        st = render_video(src, plan, dst, cap=cap, rng=np.random.default_rng(0))
        ps, ss = [], []
        with av.open(str(src)) as a, av.open(str(dst)) as b:
            pairs = zip(a.decode(video=0), b.decode(video=0), strict=False)
            for i, (fa, fb) in enumerate(pairs):
                if i % step:
                    continue
                x, y = fa.to_ndarray(format="rgb24"), fb.to_ndarray(format="rgb24")
                boxes = plan.frame(i).active_boxes()
                m = (coverage_mask(x.shape[:2], boxes, plan.mask) if len(boxes)
                     else np.zeros(x.shape[:2], bool))
                p, s = psnr_ssim_outside(x, y, m)
                ps.append(p)
                ss.append(s)
        lines.append(f"{src.name} cap={cap}: in {st.input_bytes / 1e3:.0f} KB, out "
                     f"{st.output_bytes / 1e3:.0f} KB (x{st.output_bytes / st.input_bytes:.2f}), "
                     f"masked frames {st.masked_frames}, outside the masks PSNR "
                     f"{np.mean(ps):.2f} dB SSIM {np.mean(ss):.4f}")
        print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--caps", default="none,1.0,1.5,2.0")
    ap.add_argument("--work", type=Path, default=Path("video-size-work"))
    args = ap.parse_args(argv)
    caps = [None if c.strip() == "none" else float(c) for c in args.caps.split(",")]
    for clip in args.clips:
        measure(clip, args.work, caps)


if __name__ == "__main__":
    main()
