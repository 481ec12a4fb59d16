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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veil.media.atomic import atomic_path
from veil.media.fingerprint import file_sha256
from veil.plan.record import PROVENANCES, Plan
from veil.verify.check import Verification

REPORT_FORMAT = "veil-report/1"
STATUSES: tuple[str, ...] = ("pass", "fail", "error", "unverified")


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
            entry.faces_by_provenance = plan.counts_by_provenance()
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
        }


def summarize(entries: list[ReportEntry]) -> dict[str, Any]:
    """Counts by status and the overall verdict (``pass`` only when every file passed)."""
    counts = {s: sum(e.status == s for e in entries) for s in STATUSES}
    if counts["fail"] or counts["error"]:
        verdict = "fail"
    elif counts["unverified"] or not entries:
        verdict = "unverified"
    else:
        verdict = "pass"
    return {"verdict": verdict, "files": len(entries), **counts}


def _calibration_summary() -> dict[str, Any]:
    from veil.verify.recognition import calibration

    data = calibration().data
    keys = ("threshold", "different_pairs", "false_match_rate_at_threshold", "date")
    return {k: data.get(k) for k in keys}


def build_report(entries: list[ReportEntry], *, settings: dict[str, Any],
                 tool_version: str, skipped: list[tuple[str, str]] | None = None
                 ) -> dict[str, Any]:
    """The whole report as one JSON-friendly dict (``skipped``: the ``(path, reason)``
    of the files a batch skipped inside folders, listed only when given)."""
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "tool": {"name": "veil", "version": tool_version},
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "settings": settings,
        "reid_calibration": _calibration_summary(),
        "summary": summarize(entries),
        "files": [e.to_dict() for e in entries],
    }
    if skipped is not None:
        report["skipped"] = [{"path": p, "reason": why} for p, why in skipped]
    return report


def _readable(path: Path) -> None:
    """Give a report the permissions of an ordinary new file (temp files start as 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def write_report(entries: list[ReportEntry], out_dir: Path, *, settings: dict[str, Any],
                 tool_version: str, skipped: list[tuple[str, str]] | None = None
                 ) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir`` (each atomically).

    Returns their paths. The HTML embeds each file's output thumbnail (never the original).
    """
    from veil.report.html_report import render_html

    out_dir = Path(out_dir)
    report = build_report(entries, settings=settings, tool_version=tool_version,
                          skipped=skipped)
    thumbs = [None if e.verification is None else e.verification.thumbnail_jpeg
              for e in entries]
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n",
                       encoding="utf-8")
        _readable(tmp)
    with atomic_path(html_path) as tmp:
        tmp.write_text(render_html(report, thumbs), encoding="utf-8")
        _readable(tmp)
    return json_path, html_path
