"""Video in and out with PyAV: upright RGB frames streamed from a file, clean files written.

Reading: :class:`VideoReader` decodes one frame at a time (never a list of frames),
applies the stream's rotation (display matrix) so detection sees the picture the
way a viewer does, and can hand audio packets through untouched.

Writing: :class:`VideoWriter` encodes H.264 (libx264, ``yuv420p``, CRF) with each
frame's timestamp taken from the input, so variable frame rate survives. It writes
no container or stream tags (``fflags=+bitexact``: no creation time, no encoder
string), keeps only one video and at most one audio stream, and copies audio packets
when the container allows the codec (otherwise it transcodes to AAC).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import av.error
import numpy as np

from veil.errors import MediaError

VIDEO_SUFFIXES: frozenset[str] = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".3gp"}
)

# Audio codecs copied as they are into MP4/MOV; anything else is transcoded to AAC.
MP4_COPY_AUDIO: frozenset[str] = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})

_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}

AudioMode = Literal["copy", "aac", "dropped", "none"]


def _reason(exc: BaseException) -> str:
    """One short line from a PyAV / FFmpeg error."""
    if isinstance(exc, av.error.FFmpegError):
        text = exc.strerror or str(exc)
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds, as a viewer sees it (``width``/``height`` after rotation)."""

    path: Path
    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation: int  # degrees counter-clockwise to make the picture upright
    frame_count: int  # from the container; 0 when it does not say
    fps: float | None  # average frame rate
    time_base: Fraction
    duration: float | None  # seconds
    codec: str
    pix_fmt: str | None
    audio_codec: str | None  # first audio stream's codec, None when silent
    other_streams: tuple[str, ...]  # data / subtitle / attachment streams (never written)

    @property
    def quarter_turns(self) -> int:
        """How many times ``np.rot90`` turns a decoded picture to make it upright."""
        return int(round(self.rotation / 90.0)) % 4


def _open(path: Path) -> Any:
    if not path.exists():
        raise MediaError(path, "file not found")
    try:
        return av.open(str(path), metadata_errors="replace")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(path, f"not a readable video ({_reason(exc)})") from exc


_STILL = av.stream.Disposition.attached_pic | av.stream.Disposition.timed_thumbnails


def _video_stream(container: Any, path: Path) -> Any:
    """The first moving-picture stream (cover art and thumbnails are not the video)."""
    moving = [s for s in container.streams.video if not (s.disposition & _STILL)]
    if not moving:
        kinds = sorted({s.type for s in container.streams}) or ["nothing"]
        what = "only a cover picture" if container.streams.video else ", ".join(kinds)
        raise MediaError(path, f"no video stream (contains {what})")
    return moving[0]


def _describe(stream: Any) -> str:
    ctx = getattr(stream, "codec_context", None)
    name = getattr(ctx, "name", None) if ctx is not None else None
    return f"{stream.type}:{name}" if name else str(stream.type)


def _first_frame(container: Any, stream: Any, path: Path) -> Any:
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                return frame
    except av.error.FFmpegError as exc:
        raise MediaError(path, f"video cannot be decoded ({_reason(exc)})") from exc
    raise MediaError(path, "the video stream holds no decodable frame")


def probe_video(path: Path) -> VideoInfo:
    """Describe a video file; raises :class:`MediaError` (one line) when it cannot be read."""
    path = Path(path)
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        first = _first_frame(container, stream, path)
        rotation = int(first.rotation or 0)
        cw, ch = int(first.width), int(first.height)
        turns = int(round(rotation / 90.0)) % 4
        w, h = (ch, cw) if turns % 2 else (cw, ch)
        rate = stream.average_rate or stream.guessed_rate
        duration: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        audio = container.streams.audio
        kept = {stream.index} | ({audio[0].index} if audio else set())
        others = tuple(_describe(s) for s in container.streams if s.index not in kept)
        return VideoInfo(
            path=path,
            width=w,
            height=h,
            coded_width=cw,
            coded_height=ch,
            rotation=rotation,
            frame_count=int(stream.frames or 0),
            fps=float(rate) if rate else None,
            time_base=stream.time_base or Fraction(1, 90000),
            duration=duration,
            codec=stream.codec_context.name,
            pix_fmt=first.format.name,
            audio_codec=audio[0].codec_context.name if audio else None,
            other_streams=others,
        )
    finally:
        container.close()


@dataclass
class DecodedFrame:
    """One decoded picture: its index in decode-output order, timestamp and pixels."""

    index: int
    pts: int | None
    time_base: Fraction
    frame: Any  # av.VideoFrame as decoded (coded orientation)
    quarter_turns: int = 0
    corrupt: bool = False

    def rgb(self) -> np.ndarray:
        """Upright RGB ``uint8`` pixels ``(H, W, 3)``."""
        img = self.frame.to_ndarray(format="rgb24")
        if self.quarter_turns:
            img = np.ascontiguousarray(np.rot90(img, self.quarter_turns))
        return img


class VideoReader:
    """Streams the frames (and optionally audio packets) of one video file.

    Use as a context manager. ``frames()`` yields :class:`DecodedFrame` objects one
    at a time; ``items()`` also yields the audio packets of the first audio stream
    in file order, for copying. Structural damage (unreadable packets, fewer frames
    than the container declares) raises :class:`MediaError`; frames the decoder flags
    as corrupt are yielded with ``corrupt=True`` so the caller can mask them whole.
    """

    def __init__(self, path: Path, *, threads: bool = True) -> None:
        self.path = Path(path)
        self.info = probe_video(self.path)
        self._container = _open(self.path)
        self.video = _video_stream(self._container, self.path)
        if threads:
            self.video.thread_type = "AUTO"
        self.audio = self._container.streams.audio[0] if self._container.streams.audio else None
        self.frames_read = 0

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def _decode(self, packet: Any) -> Iterator[DecodedFrame]:
        tb = self.video.time_base or Fraction(1, 90000)
        try:
            decoded = packet.decode()
        except av.error.FFmpegError as exc:
            raise MediaError(
                self.path, f"damaged video data near frame {self.frames_read} ({_reason(exc)})"
            ) from exc
        for frame in decoded:
            item = DecodedFrame(
                index=self.frames_read,
                pts=frame.pts,
                time_base=tb,
                frame=frame,
                quarter_turns=self.info.quarter_turns,
                corrupt=bool(frame.is_corrupt),
            )
            self.frames_read += 1
            yield item

    def items(self, *, audio: bool = True) -> Iterator[DecodedFrame | Any]:
        """Video frames and (when ``audio``) audio packets, in file order."""
        streams = [self.video] + ([self.audio] if audio and self.audio is not None else [])
        try:
            for packet in self._container.demux(*streams):
                if packet.stream.index == self.video.index:
                    yield from self._decode(packet)  # a None-dts packet flushes
                elif packet.dts is not None:
                    yield packet
        except av.error.FFmpegError as exc:
            raise MediaError(
                self.path,
                f"damaged or truncated file near frame {self.frames_read} ({_reason(exc)})",
            ) from exc
        declared = self.info.frame_count
        if self.frames_read == 0:
            raise MediaError(self.path, "the video stream holds no decodable frame")
        if declared and self.frames_read < declared:
            raise MediaError(
                self.path, f"truncated or damaged: decoded {self.frames_read} of {declared} frames"
            )

    def frames(self) -> Iterator[DecodedFrame]:
        """Only the video frames."""
        for item in self.items(audio=False):
            if isinstance(item, DecodedFrame):
                yield item


_DONE = object()


def prefetch(iterator: Iterator[Any], depth: int = 4) -> Iterator[Any]:
    """Run ``iterator`` in a background thread, ``depth`` items ahead of the consumer.

    Decoding (FFmpeg releases the GIL) then overlaps with scanning or encoding.
    Exceptions are re-raised in the consumer; memory stays bounded by ``depth``.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def worker() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=worker, name="veil-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def muxer_for(dst: Path) -> str:
    """FFmpeg muxer for an output name: mp4 unless the suffix asks for mov or mkv."""
    return _MUXERS.get(Path(dst).suffix.lower(), "mp4")


def audio_mode_for(codec: str | None, muxer: str, keep: bool) -> AudioMode:
    """What happens to the audio: copied, transcoded to AAC, dropped on request, or none."""
    if codec is None:
        return "none"
    if not keep:
        return "dropped"
    if muxer == "matroska" or codec in MP4_COPY_AUDIO:
        return "copy"
    return "aac"


class VideoWriter:
    """H.264 (+ audio) writer with no identifying metadata.

    ``width``/``height`` are the picture size; odd sizes are padded by one
    replicated row/column to the even size ``yuv420p`` needs (see ``padded``).
    Timestamps are taken from the caller (``pts`` in ``time_base``).
    """

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        time_base: Fraction,
        rate: float | None,
        crf: int = 20,
        preset: str = "veryfast",
        audio_stream: Any = None,
        audio_mode: AudioMode = "none",
        muxer: str = "mp4",
    ) -> None:
        self.path = Path(path)
        self.width, self.height = width, height
        self.enc_width, self.enc_height = width + (width % 2), height + (height % 2)
        self.padded = (self.enc_width, self.enc_height) != (width, height)
        self.time_base = time_base
        self.audio_mode = audio_mode
        self._last_pts: int | None = None
        try:
            self._c = av.open(str(self.path), "w", format=muxer, options={"fflags": "+bitexact"})
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(self.path, f"cannot write ({_reason(exc)})") from exc
        self._c.metadata.clear()
        fr = Fraction(rate).limit_denominator(1001 * 1000) if rate else Fraction(30, 1)
        v = self._c.add_stream("libx264", rate=fr)
        v.width, v.height = self.enc_width, self.enc_height
        v.pix_fmt = "yuv420p"
        v.time_base = time_base
        v.codec_context.time_base = time_base
        # aq-mode 0: x264's adaptive quantisation takes bits from textured areas, which
        # then drift visibly from the original (on a busy 640x360 clip at CRF 20: 10% of
        # pixels changed by more than 12 levels with it, 1.7% without).
        v.options = {"crf": str(int(crf)), "preset": preset, "aq-mode": "0"}
        self._v = v
        self._a = None
        self._resampler = None
        if audio_stream is not None and audio_mode == "copy":
            self._a = self._c.add_stream_from_template(audio_stream)
            self._a.metadata.clear()
        elif audio_stream is not None and audio_mode == "aac":
            ictx = audio_stream.codec_context
            self._a = self._c.add_stream("aac", rate=ictx.sample_rate or 48000)
            layout = ictx.layout.name if ictx.layout else "stereo"
            self._a.codec_context.layout = layout
            self._resampler = av.AudioResampler(
                format="fltp", layout=layout, rate=ictx.sample_rate or 48000
            )
            self._a_dec = audio_stream
        self._frames = 0

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close(ok=exc_type is None)

    def _next_pts(self, pts: int | None) -> int:
        if pts is None:
            step = 1
            if self._v.average_rate:
                step = max(1, round(1 / (float(self._v.average_rate) * self.time_base)))
            pts = 0 if self._last_pts is None else self._last_pts + step
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders need strictly increasing timestamps
        self._last_pts = pts
        return pts

    def _encode(self, frame: Any) -> None:
        try:
            for packet in self._v.encode(frame):
                self._c.mux(packet)
        except av.error.FFmpegError as exc:
            raise MediaError(self.path, f"video encoding failed ({_reason(exc)})") from exc

    def write_rgb(self, rgb: np.ndarray, pts: int | None) -> None:
        """Encode one upright RGB frame (``(height, width, 3)`` uint8)."""
        if rgb.shape[:2] != (self.height, self.width):
            raise MediaError(
                self.path,
                f"frame of {rgb.shape[1]}x{rgb.shape[0]} in a {self.width}x{self.height} video",
            )
        if self.padded:
            rgb = np.pad(
                rgb,
                ((0, self.enc_height - self.height), (0, self.enc_width - self.width), (0, 0)),
                mode="edge",
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        self._put(frame, pts)

    def write_frame(self, frame: Any, pts: int | None) -> None:
        """Encode a decoded frame as it is (no rotation, same size): the fast path."""
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        self._put(frame, pts)

    def _put(self, frame: Any, pts: int | None) -> None:
        frame.pts = self._next_pts(pts)
        frame.time_base = self.time_base
        frame.pict_type = av.video.frame.PictureType.NONE
        self._encode(frame)
        self._frames += 1

    def write_audio(self, packet: Any) -> None:
        """Copy (or transcode) one packet of the source's audio stream."""
        if self._a is None:
            return
        try:
            if self.audio_mode == "copy":
                packet.stream = self._a
                self._c.mux(packet)
                return
            for frame in packet.decode():
                frame.pts = None
                for rs in self._resampler.resample(frame):  # type: ignore[union-attr]
                    for out in self._a.encode(rs):
                        self._c.mux(out)
        except av.error.FFmpegError as exc:
            raise MediaError(self.path, f"audio could not be written ({_reason(exc)})") from exc

    def close(self, ok: bool = True) -> None:
        """Flush encoders and finish the file (``ok=False``: just release it)."""
        if self._c is None:
            return
        try:
            if ok:
                self._encode(None)
                if self._a is not None and self.audio_mode == "aac":
                    for rs in self._resampler.resample(None):  # type: ignore[union-attr]
                        for out in self._a.encode(rs):
                            self._c.mux(out)
                    for out in self._a.encode(None):
                        self._c.mux(out)
        finally:
            c, self._c = self._c, None
            try:
                c.close()
            except av.error.FFmpegError as exc:
                if ok:
                    raise MediaError(
                        self.path, f"finishing the file failed ({_reason(exc)})"
                    ) from exc
