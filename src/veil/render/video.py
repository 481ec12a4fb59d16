"""Render a video from its original and a plan: decode again, mask, encode, copy sound.

Every frame goes through the plan: regions are masked with
:func:`veil.render.masks.mask_regions`; a frame the plan marks ``mask_whole``, a frame
the decoder flags as corrupt, or a frame beyond the plan's frame count becomes a flat
fill. Nothing is written under the final name unless every frame was written.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veil.errors import MediaError
from veil.jobs.result import Progress
from veil.media.atomic import atomic_path
from veil.media.video import (
    AudioMode,
    DecodedFrame,
    VideoReader,
    VideoWriter,
    audio_mode_for,
    muxer_for,
    prefetch,
)
from veil.plan.record import Plan
from veil.render.image import mask_planned
from veil.render.masks import mask_whole_frame


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
    dropped_streams: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "frames": self.frames, "masked_frames": self.masked_frames,
            "whole_frames": self.whole_frames, "audio": self.audio, "padded": self.padded,
            "rotation_applied": self.rotation, "dropped_streams": list(self.dropped_streams),
        }


def render_video(src: Path, plan: Plan, dst: Path, *, audio: bool = True, crf: int = 20,
                 preset: str = "veryfast", progress: Progress | None = None,
                 progress_offset: int = 0, progress_total: int | None = None,
                 rng: np.random.Generator | None = None) -> RenderStats:
    """Decode ``src`` again and write ``dst`` (atomically) masked as ``plan`` says.

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
        stats.dropped_streams = info.other_streams
        audio_stream = reader.audio if mode in ("copy", "aac") else None
        writer = VideoWriter(tmp, width=info.width, height=info.height,
                             time_base=info.time_base, rate=info.fps, crf=crf, preset=preset,
                             audio_stream=audio_stream, audio_mode=mode, muxer=muxer)
        stats.padded = writer.padded
        passthrough = info.quarter_turns == 0 and not writer.padded
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
        if len(boxes):
            writer.write_rgb(mask_planned(item.rgb(), plan, item.index, rng), item.pts)
            stats.masked_frames += 1
            stats.face_regions += len(boxes)
        elif passthrough:
            writer.write_frame(item.frame, item.pts)
        else:
            writer.write_rgb(item.rgb(), item.pts)
    stats.frames += 1
