"""The report step, one step after the runner: the outcomes' entries into ``report.json``
and ``report.html`` (:mod:`veil.report`). Every shell that writes a report calls
:func:`write_run_report`; where the report goes is decided by :func:`report_folder`
and checked, before any work, by :func:`check_report_dir`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from veil.errors import UsageError
from veil.jobs.pipeline import Outcome
from veil.report.json_report import write_report
from veil.report.spool import Mapped

REPORT_NAME = "report.json"
#: The folder beside OUTDIR that holds what must not be published with the outputs:
#: ``<OUTDIR>.veil/plans`` and ``<OUTDIR>.veil/report`` (both name the originals and
#: hold their SHA-256).
SIDE_SUFFIX = ".veil"


def side_folder(outdir: str | os.PathLike[str]) -> Path:
    """``<OUTDIR>.veil``: the folder beside ``outdir`` for its plans and report, never
    inside it (``safe/`` → ``safe.veil/``)."""
    out = Path(outdir)
    if out.name in ("", ".", ".."):
        out = out.resolve()
    return out.parent / (out.name + SIDE_SUFFIX)


def default_plan_dir(outdir: str | os.PathLike[str]) -> Path:
    """Where plans go when ``--plan-dir`` is not given: ``<OUTDIR>.veil/plans``."""
    return side_folder(outdir) / "plans"


def default_report_dir(outdir: str | os.PathLike[str]) -> Path:
    """Where the report goes when ``--report`` is not given: ``<OUTDIR>.veil/report``."""
    return side_folder(outdir) / "report"


def report_folder(report_dir: Path | None, outdir: Path | None, *, verify: bool,
                  default: Path | None = None) -> Path | None:
    """The folder the report goes to: ``report_dir`` if given, else (when verifying)
    ``default`` or ``<OUTDIR>.veil/report``; ``None`` when no report is written."""
    if report_dir is not None:
        return Path(report_dir)
    if not verify:
        return None
    if default is not None:
        return default
    return default_report_dir(outdir) if outdir is not None else None


def check_report_dir(folder: Path | None, *, overwrite: bool) -> None:
    """Refuse (before any work) to replace the report of an earlier run without
    ``overwrite``: a report is the only record of what that run did."""
    if folder is None or overwrite:
        return
    existing = Path(folder) / REPORT_NAME
    if existing.exists():
        raise earlier_report(existing)


def earlier_report(existing: object) -> UsageError:
    """The error for a run whose report would replace ``existing`` (a path or a URI)."""
    return UsageError(f"{existing} holds the report of an earlier run; give --report DIR "
                      "for this run's report, or --overwrite to replace it")


def write_run_report(outcomes: Sequence[Outcome], folder: Path, *,
                     settings: dict[str, Any] | None = None, tool_version: str | None = None,
                     skipped: Sequence[tuple[Path, str]] = ()) -> Path:
    """Write ``report.json`` and ``report.html`` of ``outcomes`` (the inputs refused before
    any work included, as errors) into ``folder``; ``skipped`` are the ``(path, reason)``
    of folder entries skipped (listed by name). Returns the path of ``report.json``."""
    if tool_version is None:
        from veil import __version__ as tool_version
    json_path, _ = write_report(Mapped(outcomes, Outcome.report_entry), Path(folder),
                                settings=dict(settings or {}), tool_version=str(tool_version),
                                skipped=[(str(p), why) for p, why in skipped])
    return json_path
