"""Colour range, matrix and transfer: converted once, the same way for every frame.

Clips are written here with PyAV: full-range BT.709, limited-range BT.601, and 10-bit
HDR (PQ, HLG). A green square (the fake face) is present in some frames only, so that
frames with a mask and frames without one can be compared with the input.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from test_video_pipeline import SOLID, fake_scanner, run
from veil.media.colour import RANGE_FULL, RANGE_LIMITED, colour_of, tone_map_hdr
from veil.media.video import probe_video
from veil.plan.record import Plan
from veil.verify.check import verify_pair
from veil.verify.fidelity import luma

W, H, N = 160, 120, 40
FACE_FRAMES = range(16, 24)  # the green square is in these frames only


def scene(i: int) -> np.ndarray:
    """A picture with dark and bright parts (levels 10..245) and, in FACE_FRAMES, a
    green square."""
    img = np.zeros((H, W, 3), np.uint8)
    ramp = np.linspace(10, 245, W).astype(np.uint8)
    img[:, :, 0] = ramp[None, :]
    img[:, :, 1] = ramp[None, ::-1]
    img[:, :, 2] = np.linspace(100, 220, H).astype(np.uint8)[:, None]
    img[:12, :12] = 250
    if i in FACE_FRAMES:
        img[40:70, 60:90] = (0, 255, 0)
    return img


def write_clip(path: Path, *, full: bool, matrix: int, swsm: int) -> Path:
    """H.264 clip of :func:`scene` with the given range and matrix, tagged as such."""
    rng = RANGE_FULL if full else RANGE_LIMITED
    c = av.open(str(path), "w")
    v = c.add_stream("libx264", rate=25)
    v.width, v.height, v.pix_fmt = W, H, "yuv420p"
    v.options = {"crf": "8"}
    ctx = v.codec_context
    ctx.color_range, ctx.colorspace = rng, matrix
    ctx.color_primaries = ctx.color_trc = 1 if matrix == 1 else 6
    for i in range(N):
        f = av.VideoFrame.from_ndarray(scene(i), format="rgb24").reformat(
            format="yuv420p", src_colorspace=swsm, dst_colorspace=swsm,
            src_color_range=RANGE_FULL, dst_color_range=rng)
        f.pts = i
        for p in v.encode(f):
            c.mux(p)
    for p in v.encode(None):
        c.mux(p)
    c.close()
    return path


def frames_as_shown(path: Path) -> list[np.ndarray]:
    """RGB frames as a player shows them: read with the stream's own tags."""
    out = []
    with av.open(str(path)) as c:
        colour = None
        for f in c.decode(video=0):
            colour = colour or colour_of(f, f.width, f.height)
            out.append(colour.to_rgb(f))
    return out


def outside_levels(rgb: np.ndarray) -> tuple[float, float, float]:
    """1st/99th percentile and mean luma away from the square's place."""
    keep = np.ones(rgb.shape[:2], bool)
    keep[30:80, 50:100] = False
    y = luma(rgb)[keep]
    p1, p99 = np.percentile(y, (1, 99))
    return float(p1), float(p99), float(y.mean())


@pytest.mark.parametrize("full,matrix,swsm", [(True, 1, 1), (False, 6, 5)],
                         ids=["full-range-bt709", "limited-bt601"])
def test_levels_same_in_frames_with_and_without_masks(tmp_path, full, matrix, swsm):
    src = write_clip(tmp_path / "in.mp4", full=full, matrix=matrix, swsm=swsm)
    res = run(src, tmp_path / "out.mp4", mask=SOLID, scanner=fake_scanner())
    assert res.ok, res.error
    assert 0 < res.extra["masked_frames"] < N - 4  # tracks are extended a little
    with av.open(str(res.output)) as c:  # the output says what it holds
        ctx = c.streams.video[0].codec_context
        assert ctx.color_range == (RANGE_FULL if full else RANGE_LIMITED)
        assert ctx.colorspace == matrix
    ins, outs = frames_as_shown(src), frames_as_shown(res.output)
    assert len(ins) == len(outs) == N
    for i, (a, b) in enumerate(zip(ins, outs, strict=True)):
        la, lb = outside_levels(a), outside_levels(b)
        assert max(abs(x - y) for x, y in zip(la, lb, strict=True)) < 2.5, (i, la, lb)
    # no flicker: the step between a frame without a mask and one with a mask is as
    # small as between two frames without
    means = [outside_levels(b)[2] for b in outs]
    assert max(abs(means[i + 1] - means[i]) for i in range(N - 1)) < 1.0


def test_verification_catches_levels_moved_outside_the_masks(tmp_path):
    src = write_clip(tmp_path / "in.mp4", full=True, matrix=1, swsm=1)
    res = run(src, tmp_path / "out.mp4", mask=SOLID, scanner=fake_scanner())
    assert res.ok, res.error
    plan = Plan.load(res.plan_path)
    good = verify_pair(src, res.output, plan, reid=False, residual=False, metadata=False)
    assert good.checks["fidelity"] == "pass", good.reasons
    assert good.fidelity["frames_compared"] >= 2 and good.passed

    # the same output with its levels stretched in the frames without a mask (what a
    # full-range clip read as limited range looks like)
    bad = tmp_path / "stretched.mp4"
    c = av.open(str(bad), "w")
    v = c.add_stream("libx264", rate=25)
    v.width, v.height, v.pix_fmt = W, H, "yuv420p"
    v.options = {"crf": "8"}
    ctx = v.codec_context
    ctx.color_range, ctx.colorspace, ctx.color_primaries, ctx.color_trc = RANGE_FULL, 1, 1, 1
    masked = {i for i in range(N) if len(plan.frame(i).active_boxes())}
    for i, rgb in enumerate(frames_as_shown(res.output)):
        if i not in masked:
            rgb = np.clip((rgb.astype(np.float32) - 16) * 255 / 219, 0, 255).astype(np.uint8)
        f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
            format="yuv420p", src_colorspace=1, dst_colorspace=1,
            src_color_range=RANGE_FULL, dst_color_range=RANGE_FULL)
        f.pts = i
        for p in v.encode(f):
            c.mux(p)
    for p in v.encode(None):
        c.mux(p)
    c.close()
    v2 = verify_pair(src, bad, plan, reid=False, residual=False, metadata=False)
    assert v2.checks["fidelity"] == "fail" and not v2.passed
    assert any("changed outside its masks" in r for r in v2.reasons)
    assert v2.fidelity["frames_failed"] >= 1


# --- HDR -----------------------------------------------------------------------------

def _pq_code(nits: float) -> float:
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    y = (nits / 10000) ** m1
    return ((c1 + c2 * y) / (1 + c3 * y)) ** m2


def _hlg_code(scene: float) -> float:
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    return np.sqrt(3 * scene) if scene <= 1 / 12 else a * np.log(12 * scene - b) + c


def hdr_patches(kind: str) -> np.ndarray:
    """16-bit R'G'B' (BT.2020): left half a 1-nit grey, middle a 203-nit (reference
    white) grey, right a 1000-nit white (HLG: the same share of its 1000-nit peak)."""
    if kind == "pq":
        codes = [_pq_code(1.0), _pq_code(203.0), _pq_code(1000.0)]
    else:  # HLG reference white is signal 0.75; 1 nit is about signal 0.07
        codes = [0.07, 0.75, 1.0]
    img = np.zeros((H, W, 3), np.uint16)
    thirds = [slice(0, W // 3), slice(W // 3, 2 * W // 3), slice(2 * W // 3, W)]
    for code, cols in zip(codes, thirds, strict=True):
        img[:, cols] = int(round(code * 65535))
    return img


def write_hdr_clip(path: Path, kind: str) -> Path:
    c = av.open(str(path), "w")
    v = c.add_stream("libx264", rate=25)
    v.width, v.height, v.pix_fmt = W, H, "yuv420p10le"
    v.options = {"crf": "8"}
    ctx = v.codec_context
    ctx.color_range, ctx.colorspace, ctx.color_primaries = RANGE_LIMITED, 9, 9
    ctx.color_trc = 16 if kind == "pq" else 18
    pic = hdr_patches(kind)
    for i in range(6):
        f = av.VideoFrame.from_ndarray(pic, format="rgb48le").reformat(
            format="yuv420p10le", src_colorspace=9, dst_colorspace=9,
            src_color_range=RANGE_FULL, dst_color_range=RANGE_LIMITED)
        f.pts = i
        for p in v.encode(f):
            c.mux(p)
    for p in v.encode(None):
        c.mux(p)
    c.close()
    return path


@pytest.mark.parametrize("kind", ["pq", "hlg"])
def test_hdr_is_tone_mapped_to_watchable_sdr(tmp_path, kind):
    src = write_hdr_clip(tmp_path / f"{kind}.mp4", kind)
    info = probe_video(src)
    assert info.colour.hdr == kind and info.colour.bits == 10
    res = run(src, tmp_path / "out.mp4", mask=SOLID, scanner=fake_scanner())
    assert res.ok, res.error
    assert "HDR" not in res.extra["output_colour"] and "8-bit" in res.extra["output_colour"]
    with av.open(str(res.output)) as c:
        ctx = c.streams.video[0].codec_context
        assert (ctx.colorspace, ctx.color_primaries, ctx.color_trc) == (1, 1, 1)
        assert ctx.color_range == RANGE_LIMITED
        f = next(c.decode(video=0))
        assert f.format.name == "yuv420p"
    out = frames_as_shown(res.output)[0]
    y = luma(out)
    dark, white, peak = (float(y[20:100, x].mean()) for x in (W // 6, W // 2, 5 * W // 6))
    # not washed out: 1 nit is near black, reference white is bright, peak is white
    assert dark < 40, dark
    assert 200 < white < 250, white
    assert peak > 245 and peak >= white, peak
    # a naive read (PQ/HLG codes shown as if SDR gamma) would put the reference white
    # at mid-grey; the tone map is what lifts it
    assert tone_map_hdr(hdr_patches(kind)[:1, W // 2:W // 2 + 1], kind)[0, 0, 1] > 200
