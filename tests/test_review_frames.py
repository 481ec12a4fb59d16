"""Frames on demand for the review page (:class:`veil.review.frames.FrameSource`): any frame
of a long video costs at most one group of pictures, whatever was decoded before, and the
pixels are those of a plain decode from the start; the cache of recent frames is bounded."""

from __future__ import annotations

import random
from pathlib import Path

import av
import numpy as np
import pytest

from veil.review.frames import FrameSource

GOP = 25
N = 300


def _clip(path: Path, n: int = N, gop: int = GOP, bframes: bool = True) -> Path:
    """An H.264 clip whose frames all differ (a bar that moves, a shade that changes), a
    keyframe every ``gop`` frames (no scene-cut keyframes in between)."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        s.codec_context.gop_size = gop
        s.options = {"preset": "veryfast", "sc_threshold": "0", "bf": "2" if bframes else "0"}
        for i in range(n):
            rgb = np.full((96, 160, 3), (i * 7) % 200 + 20, np.uint8)
            x = (i * 3) % 150
            rgb[20:70, x:x + 10] = (250, 30, 30)
            for p in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def _reference(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = _clip(tmp_path_factory.mktemp("frames") / "long.mp4")
    return path, _reference(path)


def test_a_far_frame_decodes_at_most_a_gop(clip):
    path, ref = clip
    src = FrameSource(path)
    try:
        target = N - 20  # far from the start, never decoded before
        assert np.array_equal(src.frame(target), ref[target])
        assert src.decoded <= GOP
    finally:
        src.close()


@pytest.mark.parametrize("bframes", [True, False])
def test_random_seeks_give_the_frames_of_a_plain_decode(tmp_path, bframes):
    path = _clip(tmp_path / "c.mp4", n=160, bframes=bframes)
    ref = _reference(path)
    src = FrameSource(path)
    try:
        order = random.Random(5).sample(range(len(ref)), 40) + [0, len(ref) - 1, 3, 2, 1]
        before = 0
        for i in order:
            assert np.array_equal(src.frame(i), ref[i]), i
            # each request decoded at most one group of pictures
            assert src.decoded - before <= GOP, i
            before = src.decoded
    finally:
        src.close()


def test_stepping_forward_goes_on_without_reopening(clip):
    path, ref = clip
    src = FrameSource(path)
    try:
        src.frame(100)
        opened = src.opened
        for i in range(101, 140):  # across keyframes 125: decoding on is cheaper than a seek
            assert np.array_equal(src.frame(i), ref[i])
        assert src.opened == opened
        assert src.decoded <= GOP + 40
    finally:
        src.close()


def test_the_cache_is_bounded_in_bytes(clip):
    path, _ = clip
    one = 160 * 96 * 3
    src = FrameSource(path, cache_frames=1000, cache_bytes=5 * one)
    try:
        for i in range(0, 60):
            src.frame(i)
        assert len(src._cache) == 5
        assert src._cached == 5 * one
    finally:
        src.close()


def test_past_the_end_is_an_error(clip):
    from veil.errors import MediaError

    path, _ = clip
    src = FrameSource(path)
    try:
        with pytest.raises(MediaError):
            src.frame(N + 5)
        src.frame(N - 1)  # still usable afterwards
    finally:
        src.close()


def test_stepping_backwards_does_not_decode_a_gop_per_frame(clip):
    path, ref = clip
    src = FrameSource(path)
    try:
        for i in range(120, 99, -1):  # the previous-frame key, 20 times
            assert np.array_equal(src.frame(i), ref[i]), i
        # 120 from keyframe 100, then 119 with 95..118 kept on the way: two decodes of
        # about 20 frames, not one per step (about 230)
        assert src.decoded <= 2 * GOP
    finally:
        src.close()


def test_an_index_that_does_not_match_the_decoder_is_dropped(clip):
    path, ref = clip
    src = FrameSource(path)
    try:
        assert np.array_equal(src.frame(50), ref[50])
        assert src._indexed
        for i in range(51, N):  # as if the packets' timestamps were not the frames'
            src._pts[i] += 7
        # the next frame decoded disagrees with the index: it is forgotten, and the frame
        # is decoded forward as without one, with the right pixels
        assert np.array_equal(src.frame(55), ref[55])
        assert src._indexed is False
        assert np.array_equal(src.frame(20), ref[20])
    finally:
        src.close()
