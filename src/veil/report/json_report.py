"""The audit report as data: one :class:`ReportEntry` per file, ``report.json`` on disk.

The schema is documented in ``docs/report-schema.md``. The report holds hashes, counts,
distances, metadata *names* and pass/fail reasons; it never holds an embedding, a
metadata value or a pixel of an original. :func:`write_report` writes ``report.json``
and ``report.html`` side by side, each atomically.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veil.media.atomic import FILE_MODE, FOLDER_MODE, atomic_path
from veil.media.fingerprint import file_sha256
from veil.plan.counts import faint_tracks, plan_counts
from veil.plan.record import PROVENANCES, Plan, Region
from veil.report.spool import Mapped
from veil.verify.check import Verification

REPORT_FORMAT = "veil-report/1"
STATUSES: tuple[str, ...] = ("pass", "fail", "error", "unverified")


def frame_ranges(frames: list[int]) -> list[list[int]]:
    """Sorted frame numbers collapsed into ``[first, last]`` runs: 3,4,5,9 → [[3,5],[9,9]]."""
    runs: list[list[int]] = []
    for f in sorted(set(frames)):
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return runs


def region_groups(plan: Plan, which: Callable[[Region], bool]) -> list[dict[str, Any]]:
    """The regions of ``plan`` that ``which`` selects, one entry per face: a video track
    (all its frames) or a region without a track. Each entry: ``box`` (the smallest box
    holding the face in every frame, whole pixels), ``frames`` (:func:`frame_ranges`),
    ``track``, ``reason`` and ``edited_at`` (the latest), for the report."""
    groups: dict[object, dict[str, Any]] = {}
    for f in sorted(plan.frames):
        for pos, r in enumerate(plan.frames[f].regions):
            if not which(r):
                continue
            key = ("track", r.track_id) if r.track_id is not None else ("region", f, pos)
            g = groups.setdefault(key, {"box": list(r.box), "frames": [], "track": r.track_id,
                                        "reason": None, "edited_at": None})
            g["frames"].append(f)
            b = g["box"]
            g["box"] = [min(b[0], r.box[0]), min(b[1], r.box[1]), max(b[2], r.box[2]),
                        max(b[3], r.box[3])]
            g["reason"] = g["reason"] or r.reason
            if r.edited_at and (g["edited_at"] is None or r.edited_at > g["edited_at"]):
                g["edited_at"] = r.edited_at
    out = []
    for g in groups.values():
        g["box"] = [int(round(v)) for v in g["box"]]
        g["frames"] = frame_ranges(g["frames"])
        out.append(g)
    return out


def _released(r: Region) -> bool:
    return r.released and r.provenance != "deleted"


def _deleted(r: Region) -> bool:
    return r.provenance == "deleted"


def plan_account(plan: Plan) -> dict[str, int]:
    """How many faces ``plan`` masks (video: tracks), leaves visible on purpose
    (``released``) and records as deleted by a person: for summary lines such as
    "2 faces masked, 1 left visible on purpose"."""
    return {"faces_masked": plan_counts(plan)[0], "faint_tracks": faint_tracks(plan),
            "released": len(region_groups(plan, _released)),
            "deleted": len(region_groups(plan, _deleted))}


@dataclass
class ReportEntry:
    """What the report says about one input file."""

    input: Path
    output: Path | None = None
    kind: str = "image"
    input_sha256: str | None = None
    output_sha256: str | None = None
    faces_by_provenance: dict[str, int] = field(default_factory=dict)
    verification: Verification | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    repair: dict[str, Any] | None = None  # self-repair rounds (veil's own jobs), see schema
    faces_masked: int = 0  # faces masked, counted as veil.plan.counts counts them
    faint_tracks: int = 0  # a video's tracks masked as a precaution (veil.plan.counts)
    released: list[dict[str, Any]] = field(default_factory=list)  # left visible on purpose
    deleted: list[dict[str, Any]] = field(default_factory=list)   # removed by a person
    notes: list[str] = field(default_factory=list)  # what the user should know (one line)

    @classmethod
    def for_files(cls, input: Path, output: Path | None, *, kind: str | None = None,
                  plan: Plan | None = None, verification: Verification | None = None,
                  timings: dict[str, float] | None = None,
                  error: str | None = None) -> ReportEntry:
        """An entry with the SHA-256 of both files (those that exist) filled in."""
        entry = cls(input=Path(input), output=None if output is None else Path(output),
                    kind=kind or (plan.media.kind if plan is not None else
                                  (verification.kind if verification is not None else "image")),
                    verification=verification, timings=dict(timings or {}), error=error)
        if plan is not None:
            entry.faces_by_provenance = plan.counts_by_provenance(masked_only=True)
            entry.faces_masked = plan_counts(plan)[0]
            entry.faint_tracks = faint_tracks(plan)
            entry.released = region_groups(plan, _released)
            entry.deleted = region_groups(plan, _deleted)
        for attr, path in (("input_sha256", entry.input), ("output_sha256", entry.output)):
            if path is not None and path.is_file():
                setattr(entry, attr, file_sha256(path))
        return entry

    @property
    def status(self) -> str:
        """``error`` (the job failed), ``unverified``, ``pass`` or ``fail``."""
        if self.error is not None:
            return "error"
        if self.verification is None:
            return "unverified"
        return "pass" if self.verification.passed else "fail"

    def account(self) -> dict[str, int]:
        """Faces masked, left visible on purpose (released) and deleted by a person."""
        return {"faces_masked": self.faces_masked, "faint_tracks": self.faint_tracks,
                "released": len(self.released),
                "deleted": len(self.deleted)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (see docs/report-schema.md)."""
        counts = dict.fromkeys(PROVENANCES, 0)
        counts.update({k: int(v) for k, v in self.faces_by_provenance.items()})
        return {
            "input": str(self.input),
            "output": None if self.output is None else str(self.output),
            "kind": self.kind,
            "input_sha256": self.input_sha256,
            "output_sha256": self.output_sha256,
            "status": self.status,
            "passed": self.status == "pass",
            "faces_by_provenance": counts,
            "verification": None if self.verification is None else self.verification.to_dict(),
            "timings": {k: round(float(v), 3) for k, v in self.timings.items()},
            "error": self.error,
            "repair": self.repair,
            **self.account(),
            "released_regions": self.released,
            "deleted_regions": self.deleted,
            "notes": list(self.notes),
        }


def summarize(entries: Sequence[ReportEntry]) -> dict[str, Any]:
    """Counts by status and the overall verdict (``pass`` only when every file passed).
    One pass over ``entries`` (a big batch's are read back from disk one at a time)."""
    counts = dict.fromkeys(STATUSES, 0)
    totals = dict.fromkeys(("faces_masked", "faint_tracks", "released", "deleted"), 0)
    metadata_left = files = 0
    for e in entries:
        files += 1
        counts[e.status] += 1
        for k, v in e.account().items():
            totals[k] += v
        metadata_left += bool(e.verification and e.verification.metadata_flagged)
    if counts["fail"] or counts["error"]:
        verdict = "fail"
    elif counts["unverified"] or not files:
        verdict = "unverified"
    else:
        verdict = "pass"
    return {"verdict": verdict, "files": files, **counts, **totals,
            "files_with_identifying_metadata": metadata_left}


def _calibration_summary() -> dict[str, Any]:
    from veil.verify.recognition import calibration

    data = calibration().data
    keys = ("threshold", "different_pairs", "false_match_rate_at_threshold", "date")
    return {k: data.get(k) for k in keys}


def build_report(entries: Sequence[ReportEntry], *, settings: dict[str, Any],
                 tool_version: str, skipped: list[tuple[str, str]] | None = None,
                 lazy: bool = False) -> dict[str, Any]:
    """The whole report as one JSON-friendly dict (``skipped``: the ``(path, reason)``
    of the files a batch skipped inside folders, listed only when given). ``lazy``: its
    ``files`` make each file's dict as they are iterated (:class:`_LazyFiles`), for
    writing a big batch's report without holding them all."""
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "tool": {"name": "veil", "version": tool_version},
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "settings": settings,
        "reid_calibration": _calibration_summary(),
        "summary": summarize(entries),
        "files": _LazyFiles(entries) if lazy else [e.to_dict() for e in entries],
    }
    if skipped is not None:
        report["skipped"] = [{"path": p, "reason": why} for p, why in skipped]
    return report


def write_report(entries: Sequence[ReportEntry], out_dir: Path, *, settings: dict[str, Any],
                 tool_version: str, skipped: list[tuple[str, str]] | None = None,
                 inline_max: int | None = None) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir`` (each atomically).

    Returns their paths. The HTML shows each file's output thumbnail (never the original):
    embedded, for up to ``inline_max`` files (default
    :data:`veil.report.html_report.INLINE_THUMBNAILS_MAX`); above it, as files in
    ``out_dir/report-thumbnails/`` that the page refers to by relative path. A
    thumbnail folder left by an earlier report in ``out_dir`` is replaced or removed.
    """
    from veil.report import html_report

    out_dir = Path(out_dir)
    limit = html_report.INLINE_THUMBNAILS_MAX if inline_max is None else inline_max
    report = build_report(entries, settings=settings, tool_version=tool_version,
                          skipped=skipped, lazy=True)
    thumbs = Mapped(entries, _thumbnail)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    with atomic_path(json_path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write("\n")
    folder = out_dir / html_report.THUMBNAIL_FOLDER
    staged = None
    if len(entries) > limit:
        staged = Path(tempfile.mkdtemp(prefix=".report-thumbnails.", dir=out_dir))
    try:
        with atomic_path(html_path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                html_report.write_html(report, thumbs, f, folder=staged)
            _replace_folder(folder, staged)
            staged = None
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)
    return json_path, html_path


def _replace_folder(folder: Path, new: Path | None) -> None:
    """Put ``new`` (a staged folder, or nothing) where ``folder`` is."""
    old = None
    if folder.is_dir() and not folder.is_symlink():
        old = folder.with_name(f".{folder.name}.old.{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    elif folder.is_symlink() or folder.exists():
        folder.unlink()
    if new is not None:
        os.chmod(new, FOLDER_MODE)  # mkdtemp makes it 0700
        for p in new.iterdir():
            os.chmod(p, FILE_MODE)
        new.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class _LazyFiles(list):
    """The ``files`` of a report, each entry's dict made as it is iterated. A list to
    :mod:`json` (which writes it like any list, byte for byte) and to the HTML writer;
    it holds no file's dict."""

    def __init__(self, entries: Sequence[ReportEntry]) -> None:
        super().__init__()
        self.entries = entries

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return len(self.entries) > 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (e.to_dict() for e in self.entries)


def _thumbnail(entry: ReportEntry) -> bytes | None:
    """An entry's output thumbnail, read when the HTML asks for it (the entry itself may
    be read back from a batch's spool: :mod:`veil.report.spool`)."""
    v = entry.verification
    return None if v is None else v.thumbnail()
