"""Render a video from its original and a plan: decode again, mask, encode, copy sound.

Every frame goes through the plan: regions are masked with
:func:`veil.render.masks.mask_regions`; a frame the plan marks ``mask_whole``, a frame
the decoder flags as corrupt, or a frame beyond the plan's frame count becomes a flat
fill. Nothing is written under the final name unless every frame was written.

Colour: every frame is read and written with the input's colour matrix and range
(:mod:`veil.media.colour`); a frame without a mask is passed on in Y'CbCr as decoded
(same levels). A masked frame that could pass so is masked in place
(:mod:`veil.render.inplace`): only the windows the masks touch go to RGB and back, every
other pixel stays as decoded; any other masked frame (HDR, more than 8 bits, rotated,
odd size) goes to RGB and back whole with the same conversion.

Size: the video bitrate is capped at :data:`BITRATE_CAP` x the source's video bitrate
(x264's VBV), so a re-encode does not come out many times the size of its input.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veil.errors import MediaError
from veil.media.atomic import atomic_path
from veil.media.video import (
    SWS_THREADS,
    AudioMode,
    DecodedFrame,
    VideoInfo,
    VideoReader,
    VideoWriter,
    audio_mode_for,
    muxer_for,
    prefetch,
)
from veil.plan.record import Plan
from veil.progress import Progress
from veil.render.image import mask_planned
from veil.render.inplace import mask_frame_yuv
from veil.render.masks import mask_whole_frame

#: The output's video bitrate is capped at this multiple of the source's (see
#: :func:`source_video_bitrate`); measured on the shared clips (README, "Video").
BITRATE_CAP = 1.0
#: ... but never below this (bits per second): a tiny source bitrate would starve masks.
MIN_BITRATE = 300_000


def source_video_bitrate(info: VideoInfo) -> int | None:
    """The source's video bitrate in bits per second: the stream's own figure, else the
    file's size over its duration (audio included: a slight over-estimate)."""
    if info.bit_rate:
        return int(info.bit_rate)
    if info.duration and info.duration > 0 and info.size:
        return int(info.size * 8 / info.duration)
    return None


def bitrate_cap(info: VideoInfo, factor: float | None) -> int | None:
    """The ``maxrate`` for the writer (bits per second), or ``None`` for no cap."""
    rate = source_video_bitrate(info)
    if not factor or not rate:
        return None
    return max(MIN_BITRATE, int(rate * factor))


@dataclass
class RenderStats:
    """What a render did: frames written, how many masked, audio handling."""

    frames: int = 0
    masked_frames: int = 0
    whole_frames: int = 0
    face_regions: int = 0
    audio: AudioMode = "none"
    padded: bool = False
    rotation: int = 0
    mirrored: bool = False
    dropped_streams: tuple[str, ...] = ()
    colour: str = ""
    output_colour: str = ""
    input_bytes: int = 0
    output_bytes: int = 0
    maxrate: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "frames": self.frames, "masked_frames": self.masked_frames,
            "whole_frames": self.whole_frames, "audio": self.audio, "padded": self.padded,
            "rotation_applied": self.rotation, "mirror_applied": self.mirrored,
            "dropped_streams": list(self.dropped_streams),
            "colour": self.colour, "output_colour": self.output_colour,
            "input_bytes": self.input_bytes, "output_bytes": self.output_bytes,
            "video_maxrate": self.maxrate,
        }


def render_video(src: Path, plan: Plan, dst: Path, *, audio: bool = True, crf: int = 20,
                 preset: str = "veryfast", progress: Progress | None = None,
                 progress_offset: int = 0, progress_total: int | None = None,
                 rng: np.random.Generator | None = None,
                 cap: float | None = BITRATE_CAP) -> RenderStats:
    """Decode ``src`` again and write ``dst`` (atomically) masked as ``plan`` says.

    ``cap``: the video bitrate is capped at this multiple of the source's (``None``:
    no cap, CRF alone decides the size).

    Raises :class:`MediaError` when the source cannot be read completely or does not
    match the plan's frame count; nothing is then left under ``dst``.
    """
    src, dst = Path(src), Path(dst)
    stats = RenderStats()
    planned = plan.media.frame_count
    total = progress_total if progress_total is not None else (planned or None)
    muxer = muxer_for(dst)
    with VideoReader(src) as reader, atomic_path(dst) as tmp:
        info = reader.info
        if (info.width, info.height) != (plan.media.width, plan.media.height):
            raise MediaError(src, f"the plan is for {plan.media.width}x{plan.media.height}, "
                                  f"the video is {info.width}x{info.height}")
        mode = audio_mode_for(info.audio_codec, muxer, audio)
        stats.audio, stats.rotation = mode, info.rotation
        stats.mirrored = info.mirrored
        stats.dropped_streams = info.other_streams
        if info.colour is not None:
            stats.colour = info.colour.describe()
            stats.output_colour = info.colour.out.describe()
        stats.input_bytes = info.size
        stats.maxrate = bitrate_cap(info, cap)
        audio_stream = reader.audio if mode in ("copy", "aac") else None
        writer = VideoWriter(tmp, width=info.width, height=info.height,
                             time_base=info.time_base, rate=info.fps, crf=crf, preset=preset,
                             audio_stream=audio_stream, audio_mode=mode, muxer=muxer,
                             colour=info.colour, maxrate=stats.maxrate)
        stats.padded = writer.padded
        passthrough = info.orientation.identity and not writer.padded
        items = prefetch(reader.items(audio=audio_stream is not None))
        # closing(): the decode thread stops before the reader is closed, even on error.
        with writer, contextlib.closing(items):
            for item in items:
                if not isinstance(item, DecodedFrame):
                    writer.write_audio(item)
                    continue
                _render_frame(item, plan, writer, stats, passthrough, planned, rng)
                if progress is not None:
                    progress(progress_offset + stats.frames, total)
        if planned and stats.frames != planned:
            raise MediaError(src, f"decoded {stats.frames} frames but the plan has {planned}")
        stats.output_bytes = os.path.getsize(tmp)
    return stats


def _render_frame(item: DecodedFrame, plan: Plan, writer: VideoWriter, stats: RenderStats,
                  passthrough: bool, planned: int, rng: np.random.Generator | None) -> None:
    fp = plan.frame(item.index)
    whole = fp.mask_whole or item.corrupt or (planned > 0 and item.index >= planned)
    if whole:
        blank = np.zeros((writer.height, writer.width, 3), dtype=np.uint8)
        writer.write_rgb(mask_whole_frame(blank, plan.mask), item.pts)
        stats.whole_frames += 1
    else:
        boxes = fp.active_boxes()
        colour = writer.colour
        base = (colour.passthrough(item.frame, threads=SWS_THREADS)
                if len(boxes) and passthrough and colour is not None else None)
        if base is not None and colour is not None and base.format.name == "yuv420p":
            # in place: only the masked windows go to RGB and back (render/inplace.py)
            writer.write_frame(mask_frame_yuv(base, plan, item.index, colour, rng), item.pts)
            stats.masked_frames += 1
            stats.face_regions += len(boxes)
        elif len(boxes):
            writer.write_rgb(mask_planned(item.rgb(threads=SWS_THREADS), plan, item.index, rng),
                             item.pts)
            stats.masked_frames += 1
            stats.face_regions += len(boxes)
        elif passthrough and writer.can_pass(item.frame):
            writer.write_frame(item.frame, item.pts)
        else:
            writer.write_rgb(item.rgb(threads=SWS_THREADS), item.pts)
    stats.frames += 1
