"""Containers as phones and cameras write them: mirrored display matrices, edit lists
that hide a packet, AVI headers that count dropped frames; encoder fingerprints; size."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from test_video_pipeline import SOLID, fake_scanner, make_clip, run
from veil.media.video import Orientation, clear_mov_vendor, probe_video

W, H = 96, 64


def marker_picture() -> np.ndarray:
    """Asymmetric: white top-left block, red top-right block, grey elsewhere."""
    img = np.full((H, W, 3), 100, np.uint8)
    img[:16, :16] = 250
    img[:16, -16:] = (230, 20, 20)
    return img


@pytest.mark.parametrize("matrix,expect", [
    ((0, 65536, 0, 65536, 0, 0, 0, 0, 1 << 30), lambda p: p.transpose(1, 0, 2)),
    ((-65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30), lambda p: p[:, ::-1]),
    ((0, -65536, 0, -65536, 0, 0, 0, 0, 1 << 30), lambda p: p.transpose(1, 0, 2)[::-1, ::-1]),
], ids=["transpose", "mirror", "rotate-and-mirror"])
def test_whole_display_matrix_is_applied(tmp_path, matrix, expect):
    src = tmp_path / "m.mp4"
    c = av.open(str(src), "w")
    v = c.add_stream("libx264", rate=25)
    v.width, v.height, v.pix_fmt = W, H, "yuv420p"
    v.options = {"crf": "5"}
    v.set_display_matrix(list(matrix))
    for i in range(4):
        f = av.VideoFrame.from_ndarray(marker_picture(), format="rgb24")
        f.pts = i
        for p in v.encode(f):
            c.mux(p)
    for p in v.encode(None):
        c.mux(p)
    c.close()
    info = probe_video(src)
    assert info.mirrored == (matrix[0] * matrix[4] - matrix[1] * matrix[3] < 0)
    res = run(src, tmp_path / "out.mp4", mask=SOLID, scanner=fake_scanner())
    assert res.ok, res.error
    assert res.extra["mirror_applied"] == info.mirrored
    want = expect(marker_picture()).astype(int)
    with av.open(str(res.output)) as out:
        f = next(out.decode(video=0))
        assert not f.rotation
        got = f.to_ndarray(format="rgb24").astype(int)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 4


def test_orientation_of_plain_rotations_matches_rot90():
    img = marker_picture()
    for turns, m in enumerate([(1, 0, 0, 1), (0, -1, 1, 0), (-1, 0, 0, -1), (0, 1, -1, 0)]):
        o = Orientation.from_matrix((m[0], m[1], 0, m[2], m[3], 0, 0, 0, 1))
        assert not o.mirrored
        assert np.array_equal(o.apply(img), np.rot90(img, turns))


# --- completeness: what the container promises, not the header's count -----------------

def _h264_packets(n: int) -> tuple[bytes, list]:
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, 25), 25
    ctx.flags |= av.codec.context.Flags.global_header
    ctx.options = {"bframes": "0", "crf": "10"}
    packets = []
    for i in range(n):
        img = marker_picture()
        img[30:40, 5 + 5 * i:15 + 5 * i] = 200
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts, f.time_base = i, ctx.time_base
        packets += ctx.encode(f)
    packets += ctx.encode(None)
    return bytes(ctx.extradata), packets


def _mux(path: Path, fmt: str, extradata: bytes, packets: list, shift: int = 0,
         skip: set[int] = frozenset()) -> Path:  # type: ignore[assignment]
    c = av.open(str(path), "w", format=fmt)
    s = c.add_stream("h264", rate=25)
    s.width, s.height, s.time_base = W, H, Fraction(1, 25)
    s.codec_context.extradata = extradata
    for k, p in enumerate(packets):
        if k in skip:
            continue
        p.pts, p.dts = p.pts + shift, p.dts + shift
        p.stream, p.time_base = s, Fraction(1, 25)
        c.mux(p)
    c.close()
    return path


def test_edit_list_hiding_a_packet_is_not_damage(tmp_path):
    extradata, packets = _h264_packets(8)
    # the first frame starts before time 0: the MP4 muxer writes an edit list that hides it
    src = _mux(tmp_path / "edit.mp4", "mp4", extradata, packets, shift=-1)
    info = probe_video(src)
    with av.open(str(src)) as c:
        decoded = sum(1 for _ in c.decode(video=0))
    assert info.frame_count == 8 and decoded == 7  # the header counts the hidden packet
    res = run(src, tmp_path / "out.mp4", mask=SOLID, scanner=fake_scanner())
    assert res.ok, res.error
    out = probe_video(res.output)
    assert res.frames == 7 and out.frame_count == 7
    assert out.duration == pytest.approx(info.duration, abs=0.05)  # edit-list timing kept


def test_avi_header_counting_dropped_frames_is_not_damage(tmp_path):
    extradata, packets = _h264_packets(10)
    # the AVI muxer writes an empty chunk for each timestamp that has no packet: the
    # header counts 10 frames, 8 decode (ffmpeg decodes 8 too)
    packets = [p for p in packets]
    for p in packets[6:]:
        p.pts, p.dts = p.pts + 2, p.dts + 2
    src = _mux(tmp_path / "drop.avi", "avi", extradata, packets)
    info = probe_video(src)
    with av.open(str(src)) as c:
        decoded = sum(1 for _ in c.decode(video=0))
    assert info.frame_count > decoded
    res = run(src, tmp_path / "out.mp4", mask=SOLID, scanner=fake_scanner())
    assert res.ok, res.error
    assert res.frames == decoded


def test_truncated_file_still_fails_closed(tmp_path):
    # moov first, then the media data cut short
    src = make_clip(tmp_path / "fs.mp4", faststart=True, audio=None, n=30)
    data = src.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 3 // 4])
    res = run(cut, tmp_path / "out.mp4", mask=SOLID, scanner=fake_scanner())
    assert not res.ok and ("truncated" in res.error or "damaged" in res.error)
    assert not (tmp_path / "out.mp4").exists()
    # an AVI cut short: its header still promises every frame
    extradata, packets = _h264_packets(30)
    avi = _mux(tmp_path / "a.avi", "avi", extradata, packets)
    raw = avi.read_bytes()
    movi = raw.index(b"movi")
    cut_avi = tmp_path / "cut.avi"
    cut_avi.write_bytes(raw[: movi + (len(raw) - movi) // 2])
    res = run(cut_avi, tmp_path / "out2.mp4", mask=SOLID, scanner=fake_scanner())
    assert not res.ok and res.error and "\n" not in res.error
    assert not (tmp_path / "out2.mp4").exists()


# --- encoder fingerprints ---------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_no_x264_sei_and_no_ffmpeg_vendor(tmp_path, suffix):
    # PCM audio: veil encodes the AAC itself (copied AAC keeps whatever its encoder wrote)
    src = make_clip(tmp_path / "in.mov", audio="pcm", n=10, fmt="mov")
    res = run(src, tmp_path / f"out{suffix}", mask=SOLID, scanner=fake_scanner())
    assert res.ok, res.error
    data = res.output.read_bytes()
    assert b"x264" not in data and b"videolan" not in data
    assert b"FFMP" not in data and b"Lavc" not in data
    if suffix != ".mkv":  # Matroska requires MuxingApp/WritingApp: "Lavf" (README)
        assert b"Lavf" not in data
    with av.open(str(res.output)) as c:
        f = next(c.decode(video=0))
        assert not [sd for sd in f.side_data if "SEI_UNREGISTERED" in str(sd.type)]
    assert probe_video(res.output).frame_count in (0, 10)


def test_clear_mov_vendor_only_touches_the_vendor_field(tmp_path):
    src = make_clip(tmp_path / "in.mov", audio="aac", n=5, fmt="mov")
    before = src.read_bytes()
    n = clear_mov_vendor(src)
    after = src.read_bytes()
    assert len(after) == len(before)
    assert before.count(b"FFMP") == n and b"FFMP" not in after
    diff = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(diff) <= 4 * n
    assert probe_video(src).frame_count == 5


# --- size --------------------------------------------------------------------------------

def test_sizes_are_reported_and_bitrate_is_capped(tmp_path):
    src = make_clip(tmp_path / "in.mp4", audio=None, n=30)
    res = run(src, tmp_path / "out.mp4", mask=SOLID, scanner=fake_scanner())
    assert res.ok, res.error
    assert res.extra["input_bytes"] == src.stat().st_size
    assert res.extra["output_bytes"] == res.output.stat().st_size
    assert res.extra["video_maxrate"] >= 300_000


@pytest.mark.shared
def test_real_clip_stays_near_its_size(faceless_s18):
    clip, res = faceless_s18
    assert res.ok, res.error
    # was 9.4 MB from 652 KB with CRF 20 alone
    assert res.extra["output_bytes"] < 1.6 * res.extra["input_bytes"]


def test_display_matrix_bytes_are_parsed():
    m = struct.pack("<9i", 0, 65536, 0, 65536, 0, 0, 0, 0, 1 << 30)
    o = Orientation.from_matrix(struct.unpack("<9i", m))
    assert o.transpose and o.mirrored


def test_size_bench_compares_outside_the_masks_only():
    from benchmarks.video_size import psnr_ssim_outside

    rng = np.random.default_rng(1)
    a = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    b = a.copy()
    b[10:30, 10:30] = 0  # a "mask"
    masked = np.zeros((60, 80), bool)
    masked[10:30, 10:30] = True
    psnr, ssim = psnr_ssim_outside(a, b, masked)
    assert psnr > 80 and ssim > 0.999
    psnr2, ssim2 = psnr_ssim_outside(a, b, np.zeros((60, 80), bool))
    assert psnr2 < 20 and ssim2 < ssim


def test_timestamps_that_do_not_increase_play_at_the_stream_rate(tmp_path):
    """A broken cut can give every frame the timestamp 0: the copy plays its frames at the
    stream's rate, not one clock tick apart (50 frames in 4 ms)."""
    from veil.media.video import VideoWriter

    path = tmp_path / "zero.mp4"
    with VideoWriter(path, width=W, height=H, time_base=Fraction(1, 12800), rate=25.0) as w:
        for i in range(10):
            w.write_rgb(np.full((H, W, 3), 20 * i, np.uint8), pts=0)
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        times = [float(f.pts * stream.time_base) for f in c.decode(video=0)]
    assert len(times) == 10
    assert np.allclose(np.diff(times), 0.04, atol=0.002)  # 25 frames a second
