"""What a job reports back about one input file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from veil.plan.record import Plan

# progress(done, total): total is None when unknown (e.g. a video with no frame count).
Progress = Callable[[int, int | None], None]


@dataclass
class FileResult:
    """Outcome for one input: where it went, what was masked, or why it failed."""

    source: Path
    output: Path | None = None
    kind: Literal["image", "video"] = "image"
    faces: int = 0            # regions masked (for video: face-frames)
    frames: int = 1
    seconds: float = 0.0
    plan: Plan | None = None
    plan_path: Path | None = None
    error: str | None = None  # one line; None on success
    verification: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None
