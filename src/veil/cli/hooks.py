"""What the command line does after the jobs: collect verification, write the report,
name the failures.

The verification itself (and self-repair) runs inside each job
(:func:`veil.jobs.repair.verify_and_repair`, switched on by ``JobOptions.verify``), so it
runs in the worker processes too. Here the per-file entries are gathered into
``report.json`` / ``report.html`` and every output that failed is named on stderr, one
line each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from veil.errors import UsageError
from veil.jobs.batch import default_report_dir
from veil.jobs.repair import ENTRY_KEY, unverified_entry
from veil.jobs.result import FileResult
from veil.report.json_report import ReportEntry, write_report

PrintError = Callable[[Path | str, str], None]
REPORT_NAME = "report.json"

__all__ = ["after_jobs", "check_report_dir", "default_report_dir", "failure_line",
           "report_folder", "verification_failed"]


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
    ``--overwrite``: a report is the only record of what that run did."""
    if folder is None or overwrite:
        return
    existing = Path(folder) / REPORT_NAME
    if existing.exists():
        raise UsageError(f"{existing} holds the report of an earlier run; give --report DIR "
                         "for this run's report, or --overwrite to replace it")


def verification_failed(result: FileResult) -> bool:
    """True when the file was verified and did not pass (or verification could not run)."""
    return result.verification is not None and not result.verification.get("passed", False)


def failure_line(result: FileResult) -> str:
    """One line for an output that failed verification: the checks that failed and where."""
    ver = result.verification or {}
    where = result.output or result.source
    if ver.get("error"):
        return f"{where}: {ver['error']}"
    failed = [k for k, v in ver.get("checks", {}).items() if v == "fail"]
    reasons = ver.get("reasons", [])
    first = reasons[0] if reasons else "failed"
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    repair = ver.get("repair") or {}
    tried = (f" after {repair['rounds']} repair round(s)" if repair.get("rounds") else "")
    return (f"{where}: verification failed{tried} [{', '.join(failed) or 'check'}]: "
            f"{first}{more}")


def _entry(result: FileResult) -> ReportEntry:
    entry = result.extra.pop(ENTRY_KEY, None)
    return entry if isinstance(entry, ReportEntry) else unverified_entry(result)


def after_jobs(results: Sequence[FileResult], *, verify: bool, report_dir: Path | None,
               outdir: Path | None = None, settings: dict[str, Any] | None = None,
               refused: Sequence[FileResult] = (), print_error: PrintError | None = None,
               tool_version: str | None = None,
               skipped: Sequence[tuple[Path, str]] = ()) -> Path | None:
    """Write the report and name the outputs that failed verification.

    The report is written to ``report_dir``, or to ``<OUTDIR>.veil/report`` when
    ``verify`` is on and no folder was given; with neither, none is written. ``refused``
    are the inputs turned down before any job (listed in the report as errors);
    ``skipped`` the ``(path, reason)`` of folder entries skipped (listed by name).
    ``print_error(path, reason)`` gets one line per failed output. Returns the path of
    ``report.json``, or ``None`` when none was written.
    """
    results = list(results)
    entries = [_entry(r) for r in [*refused, *results]]
    if verify and print_error is not None:
        for r in results:  # e.g. a face the user's plan does not hold was masked
            for warning in r.extra.get("warnings", []):
                print_error(r.source, warning)
        for r in results:
            if verification_failed(r):
                where, _, reason = failure_line(r).partition(": ")
                print_error(where, reason)
    folder = report_folder(report_dir, outdir, verify=verify)
    if folder is None:
        return None
    if tool_version is None:
        from veil import __version__ as tool_version
    json_path, _ = write_report(entries, Path(folder), settings=dict(settings or {}),
                                tool_version=str(tool_version),
                                skipped=[(str(p), why) for p, why in skipped])
    return json_path
