"""Video frames on demand, for the page: decoded from the original when asked for and kept
in memory only (a small cache of recent frames), never written to disk.

Frames are numbered as the plan numbers them: in decode-output order, upright
(:class:`veil.media.video.VideoReader`). A request ahead of the last decoded frame decodes
forward; one behind it seeks to the nearest keyframe before it (by timestamp) and decodes
forward from there, so a long video never has to be decoded from its start.
"""

from __future__ import annotations

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


class FrameSource:
    """Random access to the upright RGB frames of one video, decoded on demand."""

    def __init__(self, path: Path, cache_frames: int = 48) -> None:
        self.path = Path(path)
        self.info = probe_video(self.path)
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_frames = cache_frames
        self._container: av.container.InputContainer | None = None
        self._iter: Iterator[av.VideoFrame] | None = None
        self._next = 0                     # index of the frame self._iter yields next
        self._pts: dict[int, int] = {}     # frame index -> pts, learnt while decoding
        self._keyframes: list[int] = [0]   # indices of keyframes seen so far
        self._pending: av.VideoFrame | None = None  # read ahead while checking a seek

    def close(self) -> None:
        with self._lock:
            self._drop()
            self._cache.clear()

    def _drop(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._iter, self._pending = None, None, None

    def _open_at(self, index: int) -> None:
        """Position the decoder so that its next frame is ``index`` or earlier."""
        self._drop()
        self._container = av.open(str(self.path))
        stream = self._container.streams.video[0]
        start = 0
        for k in self._keyframes:
            if k <= index and k in self._pts:
                start = max(start, k)
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
            if self._iter is None or index < self._next or index - self._next > 250:
                self._open_at(index)
            assert self._iter is not None
            try:
                while True:
                    frame, self._pending = self._pending or next(self._iter), None
                    i = self._next
                    self._next += 1
                    if frame.pts is not None:
                        self._pts.setdefault(i, int(frame.pts))
                    if frame.key_frame and i not in self._keyframes:
                        self._keyframes.append(i)
                    if i == index:
                        rgb = self._upright(frame)
                        self._remember(i, rgb)
                        return rgb
            except (StopIteration, av.error.FFmpegError) as exc:
                self._drop()
                raise MediaError(self.path, f"no frame {index}") from exc

    def _remember(self, index: int, rgb: np.ndarray) -> None:
        self._cache[index] = rgb
        while len(self._cache) > self._cache_frames:
            self._cache.popitem(last=False)
