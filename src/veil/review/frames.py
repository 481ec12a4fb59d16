"""Video frames on demand, for the page: decoded from the original when asked for and kept
in memory only (a small cache of recent frames, bounded in count and bytes), never written
to disk.

Frames are numbered as the plan numbers them: in decode-output order, upright
(:class:`veil.media.video.VideoReader`). The first request for a frame past the start reads
the file's packets once, without decoding them (:meth:`FrameSource._index`), which gives
every frame's timestamp and where the keyframes are. A request then decodes from the
keyframe at or before the frame asked for (or goes on from the decoder's position when
that is nearer), so any frame of a long video costs at most one group of pictures, and a
long video is never decoded from its start. Going backwards, the frames decoded on the
way are kept as well, so stepping back frame by frame costs one group of pictures per
half cache, not one per frame. Every landing is checked against the index
(the timestamp of the frame decoded must be the one the index gives): a file whose index
does not match what decodes (damaged, edit lists) falls back to decoding forward from the
keyframes seen so far, which is always right.
"""

from __future__ import annotations

import bisect
import io
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image

from veil.errors import MediaError
from veil.media.video import probe_video


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes of an RGB array (in memory)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class _IndexMismatch(Exception):
    """A decoded frame's timestamp is not the one the packet index gave."""


class FrameSource:
    """Random access to the upright RGB frames of one video, decoded on demand."""

    def __init__(self, path: Path, cache_frames: int = 48,
                 cache_bytes: int = 96 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.info = probe_video(self.path)
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_frames = cache_frames
        self._cache_bytes = cache_bytes
        self._cached = 0                   # bytes held by the cache
        self._container: av.container.InputContainer | None = None
        self._iter: Iterator[av.VideoFrame] | None = None
        self._next = 0                     # index of the frame self._iter yields next
        self._pts: dict[int, int] = {}     # frame index -> pts, learnt while decoding
        self._keyframes: list[int] = [0]   # indices of keyframes seen so far
        self._pending: av.VideoFrame | None = None  # read ahead while checking a seek
        self._indexed: bool | None = None  # packet index: None not read, False unusable
        self.decoded = 0                   # frames decoded so far (for tests and figures)
        self.opened = 0                    # times the file was opened (for tests)

    def close(self) -> None:
        with self._lock:
            self._drop()
            self._cache.clear()
            self._cached = 0

    def _drop(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._iter, self._pending = None, None, None

    def _index(self) -> None:
        """Read every packet's timestamp and keyframe flag once (no decoding): frame
        ``i`` is the ``i``-th smallest timestamp. Unusable (a packet without one): the
        keyframes are then learnt while decoding, as before."""
        if self._indexed is not None:
            return
        self._indexed = False
        pts: list[int] = []
        keys: list[int] = []
        try:
            with av.open(str(self.path)) as container:
                for packet in container.demux(container.streams.video[0]):
                    if packet.size == 0:
                        continue  # the demuxer's flush packet
                    if packet.pts is None:
                        return
                    pts.append(int(packet.pts))
                    if packet.is_keyframe:
                        keys.append(int(packet.pts))
        except av.error.FFmpegError:
            return
        pts.sort()
        if len(set(pts)) != len(pts):
            return
        if any(self._pts.get(i, p) != p for i, p in enumerate(pts)):
            return  # what decoded so far disagrees with the index: it is not used at all
        self._pts.update(enumerate(pts))
        for p in keys:
            i = bisect.bisect_left(pts, p)
            if i not in self._keyframes:
                self._keyframes.append(i)
        self._keyframes.sort()
        self._indexed = True

    def _keyframe_before(self, index: int) -> int:
        """The last keyframe known at or before ``index`` whose timestamp is known."""
        start = 0
        for k in self._keyframes:
            if k <= index and k in self._pts:
                start = max(start, k)
        return start

    def _open_at(self, index: int) -> None:
        """Position the decoder so that its next frame is ``index`` or earlier."""
        self._drop()
        self.opened += 1
        self._container = av.open(str(self.path))
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        start = self._keyframe_before(index)
        if start > 0:
            self._container.seek(self._pts[start], stream=stream, backward=True,
                                 any_frame=False)
        self._iter = self._container.decode(stream)
        self._next = start
        if start > 0:
            # Check that the seek landed on the keyframe (an open GOP may not): else
            # decode from the start, which is always right.
            first = next(self._iter, None)
            if first is None or first.pts != self._pts[start]:
                self._keyframes.remove(start)
                self._open_at(index)
                return
            self._pending = first

    def _upright(self, frame: av.VideoFrame) -> np.ndarray:
        img: np.ndarray = frame.to_ndarray(format="rgb24")
        if self.info.quarter_turns:
            img = np.ascontiguousarray(np.rot90(img, self.info.quarter_turns))
        return img

    def frame(self, index: int) -> np.ndarray:
        """The upright RGB pixels of frame ``index`` (raises :class:`MediaError` past the end)."""
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
            try:
                return self._decode_to(index)
            except _IndexMismatch:
                # the index does not number the frames as the decoder does: forget it
                # and all it taught, and decode forward as without one
                self._drop()
                self._cache.clear()
                self._cached = 0
                self._indexed, self._pts, self._keyframes = False, {}, [0]
                return self._decode_to(index)

    def _decode_to(self, index: int) -> np.ndarray:
        if index > 0:
            self._index()
        # stepping backwards (the page's previous-frame key, a face followed back in
        # time): the frames decoded on the way to this one are the next ones asked for,
        # so they are kept too (half the cache) rather than decoded again from the keyframe
        keep_from = index - self._cache_frames // 2 if index < self._next else index
        if (self._iter is None or index < self._next
                or (self._indexed and self._keyframe_before(index) > self._next)
                or (not self._indexed and index - self._next > 250)):
            self._open_at(index)
        assert self._iter is not None
        try:
            while True:
                frame, self._pending = self._pending or next(self._iter), None
                i = self._next
                self._next += 1
                self.decoded += 1
                if frame.pts is not None:
                    known = self._pts.setdefault(i, int(frame.pts))
                    if known != frame.pts and self._indexed:
                        raise _IndexMismatch
                if frame.key_frame and i not in self._keyframes:
                    self._keyframes.append(i)
                if i == index:
                    rgb = self._upright(frame)
                    self._remember(i, rgb)
                    return rgb
                if i >= keep_from and i not in self._cache:
                    self._remember(i, self._upright(frame))
        except (StopIteration, av.error.FFmpegError) as exc:
            self._drop()
            raise MediaError(self.path, f"no frame {index}") from exc

    def _remember(self, index: int, rgb: np.ndarray) -> None:
        self._cache[index] = rgb
        self._cached += rgb.nbytes
        while len(self._cache) > 1 and (len(self._cache) > self._cache_frames
                                        or self._cached > self._cache_bytes):
            _, old = self._cache.popitem(last=False)
            self._cached -= old.nbytes
