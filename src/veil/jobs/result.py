"""What a job reports back about one input file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from veil.plan.counts import faint_tracks, plan_counts
from veil.plan.record import Plan
from veil.progress import PhaseProgress, Progress

if TYPE_CHECKING:
    from veil.verify.check import Verification

__all__ = ["FileResult", "PhaseProgress", "Progress", "Verdict", "finish_counts", "plan_counts"]

@dataclass
class Verdict:
    """The verification of one output veil made (after self-repair): whether it passed,
    the :class:`~veil.verify.check.Verification` (``None`` when verification could not
    run, ``error`` then says why) and what the self-repair did (``repair``: rounds, regions
    added, regions strengthened; see docs/report-schema.md)."""

    passed: bool
    verification: Verification | None = None
    repair: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def checks(self) -> dict[str, str]:
        """Each check's status (``pass``, ``fail``, ``skipped``...); empty on error."""
        return dict(self.verification.checks) if self.verification is not None else {}

    @property
    def reasons(self) -> list[str]:
        """Why it failed, one line each (empty when it passed)."""
        if self.verification is None:
            return [self.error] if self.error else []
        return list(self.verification.reasons)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``--json``'s ``verification``): the verification's fields plus
        ``repair``; or ``passed``, ``error`` and ``repair`` when it could not run."""
        if self.verification is None:
            return {"passed": self.passed, "error": self.error, "repair": self.repair}
        return {**self.verification.to_dict(), "repair": self.repair}


@dataclass
class FileResult:
    """Outcome for one input: where it went, what was masked, or why it failed."""

    source: Path
    output: Path | None = None
    kind: Literal["image", "video"] = "image"
    faces: int = 0            # faces masked (see count_faces); the jobs set regions here first
    frames: int = 1
    seconds: float = 0.0
    plan: Plan | None = None
    plan_path: Path | None = None
    error: str | None = None  # one line; None on success
    verification: Verdict | None = None  # set when the output was verified
    extra: dict[str, Any] = field(default_factory=dict)
    regions: int | None = None  # regions masked (video: summed over frames); see count_faces
    input_bytes: int = 0
    output_bytes: int = 0
    faint: int = 0  # a video's faint tracks, masked as a precaution (not in ``faces``)

    @property
    def ok(self) -> bool:
        return self.error is None


def finish_counts(result: FileResult) -> FileResult:
    """Set ``faces`` (faces masked) and ``regions`` (regions masked) from the result's
    plan, and the sizes of input and output. The jobs put the regions they drew in
    ``faces``; this runs once, at the end of a job (after verification and repair)."""
    if result.regions is None:
        result.regions = result.faces
        if result.ok and result.plan is not None:
            result.faces, result.regions = plan_counts(result.plan)
            result.faint = faint_tracks(result.plan)
    for attr, path in (("input_bytes", result.source), ("output_bytes", result.output)):
        try:
            setattr(result, attr, Path(path).stat().st_size if path is not None else 0)
        except OSError:
            setattr(result, attr, 0)
    return result
