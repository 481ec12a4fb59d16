"""Video in and out with PyAV: upright RGB frames streamed from a file, clean files written.

Reading: :class:`VideoReader` decodes one frame at a time (never a list of frames),
applies the stream's whole display matrix (rotation and mirror) so detection sees the
picture the way a viewer does, converts to RGB with the stream's own colour matrix and
range (:mod:`veil.media.colour`), and can hand audio packets through untouched. A file
is complete when its frames reach the end its container promises (edit list and
timestamps), not when a header's frame count is met: an edit list may hide packets.

Writing: :class:`VideoWriter` encodes H.264 (libx264, ``yuv420p``, CRF, optionally
capped at a bitrate) with each frame's timestamp taken from the input, so variable
frame rate survives, and tags the colour of the input. It writes no container or
stream tags (``fflags=+bitexact``: no creation time, no encoder string), removes
x264's SEI message (its version and options) and MOV's vendor code, keeps only one
video and at most one audio stream, and copies audio packets when the container allows
the codec (otherwise it transcodes to AAC).
"""

from __future__ import annotations

import os
import queue
import struct
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, TypeVar

import av
import av.error
import numpy as np

from veil.errors import MediaError
from veil.media.colour import Colour, colour_of

# Audio codecs copied as they are into MP4/MOV; anything else is transcoded to AAC.
MP4_COPY_AUDIO: frozenset[str] = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})

_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}

#: swscale threads of the writer's conversions: one, so that the bytes written never
#: depend on how swscale splits a frame (measured at 720p: no more CPU per frame than
#: its automatic threads; BENCHMARKS.md, "Render without the colour round trip")
SWS_THREADS = 1

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
    frame_count: int  # from the container; 0 when it does not say (may count hidden packets)
    fps: float | None  # average frame rate
    time_base: Fraction
    duration: float | None  # seconds
    codec: str
    pix_fmt: str | None
    audio_codec: str | None  # first audio stream's codec, None when silent
    other_streams: tuple[str, ...]  # data / subtitle / attachment streams (never written)
    orientation: Orientation = field(default_factory=lambda: Orientation())
    colour: Colour | None = None  # how the pixels are read (None: FFmpeg's defaults)
    end_pts: int | None = None  # where the container says the video ends (time_base)
    bit_rate: int | None = None  # of the video stream, bits per second, when known
    size: int = 0  # bytes of the file

    @property
    def quarter_turns(self) -> int:
        """How many times ``np.rot90`` turns a decoded picture to make it upright."""
        return int(round(self.rotation / 90.0)) % 4

    @property
    def mirrored(self) -> bool:
        """Whether the display matrix also mirrors the picture."""
        return self.orientation is not None and self.orientation.mirrored


@dataclass(frozen=True)
class Orientation:
    """The display matrix as a pixel operation: transpose, then flip columns / rows.

    FFmpeg's matrix maps a coded pixel ``(x, y)`` to ``(a*x + c*y, b*x + d*y)`` on
    screen (plus a shift). Every rotation by a multiple of 90 degrees, with or without
    a mirror, is one of the eight combinations of the three flags.
    """

    transpose: bool = False
    flip_x: bool = False
    flip_y: bool = False

    @classmethod
    def from_matrix(cls, m: tuple[int, ...] | None) -> Orientation:
        if not m or len(m) < 5:
            return cls()
        a, b, c, d = m[0], m[1], m[3], m[4]
        if abs(a) + abs(d) >= abs(b) + abs(c):
            return cls(False, a < 0, d < 0)
        return cls(True, c < 0, b < 0)

    @property
    def identity(self) -> bool:
        return not (self.transpose or self.flip_x or self.flip_y)

    @property
    def mirrored(self) -> bool:
        """A reflection (determinant -1) rather than a rotation."""
        return self.transpose != (self.flip_x != self.flip_y)

    def apply(self, img: np.ndarray) -> np.ndarray:
        if self.identity:
            return img
        out = img.transpose(1, 0, 2) if self.transpose else img
        if self.flip_x:
            out = out[:, ::-1]
        if self.flip_y:
            out = out[::-1]
        return np.ascontiguousarray(out)


def _display_matrix(frame: Any) -> tuple[int, ...] | None:
    try:
        for sd in frame.side_data:
            if "DISPLAYMATRIX" in str(sd.type) and sd.buffer_size >= 36:
                return struct.unpack("<9i", bytes(sd)[:36])
    except (AttributeError, TypeError, ValueError, struct.error):
        return None
    return None


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
        matrix = _display_matrix(first)
        orientation = (Orientation.from_matrix(matrix) if matrix is not None else
                       Orientation.from_matrix(_rotation_matrix(rotation)))
        w, h = (ch, cw) if orientation.transpose else (cw, ch)
        rate = stream.average_rate or stream.guessed_rate
        duration: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        tb = stream.time_base or Fraction(1, 90000)
        end_pts: int | None = None
        if stream.duration is not None:
            end_pts = int(stream.start_time or 0) + int(stream.duration)
        elif container.duration is not None:
            end_pts = int(Fraction(container.duration, 1_000_000) / tb)
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
            orientation=orientation,
            colour=colour_of(first, cw, ch),
            end_pts=end_pts,
            bit_rate=int(stream.bit_rate) if stream.bit_rate else None,
            size=os.path.getsize(path),
        )
    finally:
        container.close()


def _rotation_matrix(rotation: int) -> tuple[int, ...]:
    """FFmpeg's display matrix of a rotation counter-clockwise by ``rotation`` degrees."""
    turns = int(round(rotation / 90.0)) % 4
    a, b, c, d = [(1, 0, 0, 1), (0, -1, 1, 0), (-1, 0, 0, -1), (0, 1, -1, 0)][turns]
    return (a, b, 0, c, d, 0, 0, 0, 1)


@dataclass
class DecodedFrame:
    """One decoded picture: its index in decode-output order, timestamp and pixels."""

    index: int
    pts: int | None
    time_base: Fraction
    frame: Any  # av.VideoFrame as decoded (coded orientation)
    orientation: Orientation = Orientation()
    colour: Colour | None = None
    corrupt: bool = False

    def rgb(self, threads: int | None = None) -> np.ndarray:
        """Upright RGB ``uint8`` pixels ``(H, W, 3)``, read with the stream's colour
        (the same conversion for every frame of the stream). ``threads``: swscale's
        threads (``None``: PyAV's default, automatic)."""
        if self.colour is not None:
            img = self.colour.to_rgb(self.frame, threads=threads)
        else:
            img = self.frame.to_ndarray(format="rgb24", threads=threads)
        return self.orientation.apply(img)


class VideoReader:
    """Streams the frames (and optionally audio packets) of one video file.

    Use as a context manager. ``frames()`` yields :class:`DecodedFrame` objects one
    at a time; ``items()`` also yields the audio packets of the first audio stream
    in file order, for copying. Structural damage (unreadable packets, frames that
    stop short of the end the container promises) raises :class:`MediaError`; frames
    the decoder flags as corrupt are yielded with ``corrupt=True`` so the caller can
    mask them whole. A header frame count larger than what decodes is not damage when
    the frames reach the promised end: an edit list hides packets, an AVI counts
    dropped frames.
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
        self.last_end: int | None = None  # end of the last decoded frame (time_base)
        self._last_pts: int | None = None
        self._step: int | None = None

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
                orientation=self.info.orientation,
                colour=self.info.colour,
                corrupt=bool(frame.is_corrupt),
            )
            self._track_end(frame)
            self.frames_read += 1
            yield item

    def _track_end(self, frame: Any) -> None:
        """Remember where the decoded frames end (pts plus the frame's duration)."""
        if frame.pts is None:
            return
        pts = int(frame.pts)
        if self._last_pts is not None and pts > self._last_pts:
            self._step = pts - self._last_pts
        dur = int(getattr(frame, "duration", 0) or 0) or self._step or 0
        if dur <= 0 and self.info.fps:
            dur = max(1, round(1 / (self.info.fps * float(self.info.time_base))))
        self._last_pts = pts if self._last_pts is None else max(self._last_pts, pts)
        self.last_end = max(self.last_end or 0, pts + dur)

    def complete(self) -> bool:
        """Whether the decoded frames reach the end the container promises (within half
        a frame); ``True`` when it promises none."""
        promised = self.info.end_pts
        if promised is None or self.last_end is None:
            return True
        slack = max(1, (self._step or 1) // 2)
        return self.last_end + slack >= promised

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
        if declared and self.frames_read < declared and not self.complete():
            raise MediaError(
                self.path, f"truncated or damaged: decoded {self.frames_read} of {declared} "
                           "frames, ending before the time the file declares"
            )

    def frames(self) -> Iterator[DecodedFrame]:
        """Only the video frames."""
        for item in self.items(audio=False):
            if isinstance(item, DecodedFrame):
                yield item


_DONE = object()
_T = TypeVar("_T")


def prefetch(iterator: Iterator[_T], depth: int = 4) -> Generator[_T, None, None]:
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
    Timestamps are taken from the caller (``pts`` in ``time_base``). ``colour`` is the
    input's colour: RGB frames are converted back with it and the stream is tagged
    with it (HDR input: with SDR BT.709, see :mod:`veil.media.colour`). ``maxrate``
    (bits per second) caps the bitrate with x264's VBV (buffer: two seconds of it).
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
        colour: Colour | None = None,
        maxrate: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.width, self.height = width, height
        self.enc_width, self.enc_height = width + (width % 2), height + (height % 2)
        self.padded = (self.enc_width, self.enc_height) != (width, height)
        self.time_base = time_base
        self.audio_mode = audio_mode
        self.muxer = muxer
        self.colour = colour
        self._last_pts: int | None = None
        self._closed = False
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
        options: dict[str, object] = {"crf": str(int(crf)), "preset": preset, "aq-mode": "0"}
        if maxrate:
            kbit = max(1, int(maxrate) // 1000)
            options.update({"maxrate": f"{kbit}k", "bufsize": f"{2 * kbit}k"})
        v.options = options
        # One encoder thread: x264's frame threads made the same frames encode to
        # different bytes from run to run (4 renders of one plan: 2 different files;
        # one thread: 8 of 8 identical). Outputs must be deterministic; decoding,
        # masking and the scan already keep the other core busy.
        v.codec_context.thread_count = 1
        if colour is not None:
            out = colour.out
            ctx = v.codec_context
            ctx.color_range, ctx.colorspace = out.range, out.matrix
            ctx.color_primaries, ctx.color_trc = out.primaries, out.trc
        self._v = v
        # x264 writes its version and every option into an SEI message of the first
        # frame; filter_units drops SEI NAL units (type 6) from the packets.
        self._bsf = av.bitstream.BitStreamFilterContext("filter_units=remove_types=6", v)
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
            # bitexact: FFmpeg's AAC encoder then leaves out its "Lavc<version>" string
            self._a.codec_context.flags |= av.codec.context.Flags.bitexact
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
        step = 1
        if self._v.average_rate:
            step = max(1, round(1 / (float(self._v.average_rate) * self.time_base)))
        if pts is None:
            pts = 0 if self._last_pts is None else self._last_pts + step
        if self._last_pts is not None and pts <= self._last_pts:
            # Encoders need strictly increasing timestamps. A frame that repeats or goes
            # back (a broken cut: every timestamp 0) is shown one frame after the last,
            # at the stream's rate, not one tick after it (which played 50 frames in 4 ms).
            pts = self._last_pts + step
        self._last_pts = pts
        return pts

    def _encode(self, frame: Any) -> None:
        try:
            packets: list[av.Packet | None] = [*self._v.encode(frame)]
            if frame is None:
                packets.append(None)
            for packet in packets:
                for out in self._bsf.filter(packet):
                    out.stream = self._v
                    self._c.mux(out)
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
        if self.colour is not None:
            frame = self.colour.from_rgb(rgb, threads=SWS_THREADS)
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame = frame.reformat(format="yuv420p", threads=SWS_THREADS)
        self._put(frame, pts)

    def can_pass(self, frame: Any) -> bool:
        """Whether :meth:`write_frame` can take this decoded frame without RGB."""
        return self.colour is None or \
            self.colour.passthrough(frame, threads=SWS_THREADS) is not None

    def write_frame(self, frame: Any, pts: int | None) -> None:
        """Encode a decoded frame as it is (no rotation, same size, same levels)."""
        if self.colour is not None:
            same = self.colour.passthrough(frame, threads=SWS_THREADS)
            if same is None:
                raise MediaError(self.path, f"cannot pass {frame.format.name} frames through")
            frame = same
        elif frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p", threads=SWS_THREADS)
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
        if self._closed:
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
            c, self._closed = self._c, True
            try:
                c.close()
            except av.error.FFmpegError as exc:
                if ok:
                    raise MediaError(
                        self.path, f"finishing the file failed ({_reason(exc)})"
                    ) from exc
        if ok and self.muxer == "mov":
            clear_mov_vendor(self.path)


_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def clear_mov_vendor(path: Path) -> int:
    """Zero the vendor code (``FFMP``) of every sample description of a MOV file, in
    place (4 bytes each; only box headers and ``moov`` are read, never the media data).
    Returns how many were cleared."""
    spots: list[int] = []
    with open(path, "r+b") as fh:
        fh.seek(0, os.SEEK_END)

        def walk(start: int, end: int) -> None:
            pos = start
            while pos + 8 <= end:
                fh.seek(pos)
                size, kind = struct.unpack(">I4s", fh.read(8))
                head = 8
                if size == 1:
                    size, head = struct.unpack(">Q", fh.read(8))[0], 16
                elif size == 0:
                    size = end - pos
                if size < head or pos + size > end:
                    return
                if kind in _CONTAINERS:
                    walk(pos + head, pos + size)
                elif kind == b"stsd":
                    body = fh.read(min(size - head, 1 << 20))
                    count = struct.unpack(">I", body[4:8])[0] if len(body) >= 8 else 0
                    entry = 8
                    for _ in range(count):
                        if entry + 24 > len(body):
                            break
                        # sample entry: size, format, 6 reserved, data reference (2),
                        # version (2), revision (2), vendor (4)
                        if body[entry + 20:entry + 24] == b"FFMP":
                            spots.append(pos + head + entry + 20)
                        esize = struct.unpack(">I", body[entry:entry + 4])[0]
                        if esize < 8:
                            break
                        entry += esize
                pos += size

        walk(0, fh.tell())
        for spot in spots:
            fh.seek(spot)
            fh.write(b"\0\0\0\0")
    return len(spots)
