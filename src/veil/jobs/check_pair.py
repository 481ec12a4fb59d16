"""The verify job: check outputs against their originals and write the audit report.

``verify_file`` checks one pair and never raises for a bad file (the error goes into the
entry). ``pair_files`` matches originals with outputs (files or folders: by relative
folder and file stem). ``verify_paths`` does both and writes ``report.json`` /
``report.html`` when asked. The command line ``veil verify`` is a thin shell around
``verify_paths``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from veil.errors import UsageError, VeilError
from veil.jobs.result import Progress
from veil.media.kinds import MEDIA_SUFFIXES
from veil.plan.record import Plan
from veil.report.json_report import ReportEntry, write_report
from veil.verify.check import verify_pair
from veil.verify.frames import media_kind

PlanLookup = Callable[[Path, Path], Plan | None]


def verify_file(original: Path, output: Path, plan: Plan | None = None, *,
                reid: bool = True, residual: bool = True, metadata: bool = True,
                timings: dict[str, float] | None = None) -> ReportEntry:
    """Verify one output; a file that cannot be read becomes an entry with ``error`` set."""
    original, output = Path(original), Path(output)
    t0 = time.perf_counter()
    try:
        kind = plan.media.kind if plan is not None else media_kind(original)
        v = verify_pair(original, output, plan, reid=reid, residual=residual,
                        metadata=metadata)
    except (VeilError, OSError, ValueError) as exc:
        return ReportEntry.for_files(original, output if output.exists() else None,
                                     plan=plan, timings=timings,
                                     error=" ".join(str(exc).split()) or type(exc).__name__)
    times = dict(timings or {})
    times["verify"] = time.perf_counter() - t0
    return ReportEntry.for_files(original, output, kind=kind, plan=plan, verification=v,
                                 timings=times)


def pair_files(original: Path, output: Path) -> list[tuple[Path, Path | None]]:
    """Match originals with outputs.

    Two files: one pair. Two folders: every media file under ``original`` is matched with
    the file of the same stem in the same relative folder under ``output`` (any media
    suffix; the same suffix wins when there are several); ``None`` when there is none.
    Outputs that no original matches are :func:`unpaired_outputs`.
    """
    original, output = Path(original), Path(output)
    if original.is_file():
        if output.is_dir():
            return [(original, _match(output, original.stem, original.suffix))]
        return [(original, output)]
    if not original.is_dir():
        raise UsageError(f"{original}: no such file or folder")
    if not output.is_dir():
        raise UsageError(f"{output}: expected a folder of outputs to match {original}")
    suffixes = MEDIA_SUFFIXES
    pairs: list[tuple[Path, Path | None]] = []
    for src in sorted(p for p in original.rglob("*")
                      if p.is_file() and p.suffix.lower() in suffixes
                      and not p.name.startswith(".")):
        rel = src.relative_to(original)
        pairs.append((src, _match(output / rel.parent, src.stem, src.suffix)))
    return pairs


def unpaired_outputs(original: Path, output: Path,
                     pairs: list[tuple[Path, Path | None]]) -> list[Path]:
    """The media files in an output folder that no original was matched with: files
    someone may publish that nothing checked. Report folders (a folder holding a
    ``report.json``, and their thumbnails) are left out."""
    original, output = Path(original), Path(output)
    if not (original.is_dir() and output.is_dir()):
        return []
    matched = {dst.resolve() for _, dst in pairs if dst is not None}
    reports = {p.parent for p in output.rglob("report.json")}
    found: list[Path] = []
    for p in sorted(output.rglob("*")):
        if (p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES and not p.name.startswith(".")
                and p.resolve() not in matched
                and not any(r in p.parents for r in reports)):
            found.append(p)
    return found


def _match(folder: Path, stem: str, suffix: str) -> Path | None:
    if not folder.is_dir():
        return None
    suffixes = MEDIA_SUFFIXES
    found = [p for p in folder.iterdir() if p.is_file() and p.stem == stem
             and p.suffix.lower() in suffixes]
    found.sort(key=lambda p: (p.suffix.lower() != suffix.lower(), p.name))
    return found[0] if found else None


def verify_paths(original: Path, output: Path, *, report_dir: Path | None = None,
                 settings: dict[str, Any] | None = None, tool_version: str | None = None,
                 plan_for: PlanLookup | None = None, progress: Progress | None = None,
                 reid: bool = True, residual: bool = True,
                 metadata: bool = True) -> tuple[list[ReportEntry], tuple[Path, Path] | None]:
    """Verify every output matched with an original; write the report when ``report_dir``.

    ``plan_for(original, output)`` may return the plan that made an output (veil's
    sidecar), else outputs are judged by the pixels they changed. Returns the entries and
    the ``(report.json, report.html)`` paths (``None`` when no report was asked for).
    Every entry's ``status`` is ``pass`` only when all its checks passed.
    """
    pairs = pair_files(original, output)
    entries: list[ReportEntry] = []
    for done, (src, dst) in enumerate(pairs):
        if dst is None:
            entries.append(ReportEntry.for_files(src, None, kind=media_kind(src),
                                                 error="no output file found for it"))
        else:
            plan = plan_for(src, dst) if plan_for is not None else None
            entries.append(verify_file(src, dst, plan, reid=reid, residual=residual,
                                       metadata=metadata))
        if progress is not None:
            progress(done + 1, len(pairs))
    for dst in unpaired_outputs(original, output, pairs):
        rel = dst.relative_to(Path(output))
        entries.append(ReportEntry.for_files(
            Path(original) / rel, dst, kind=media_kind(dst),
            error="no original found for this output, so it was not verified"))
    paths = None
    if report_dir is not None:
        if tool_version is None:
            from veil import __version__ as tool_version
        paths = write_report(entries, Path(report_dir), settings=dict(settings or {}),
                             tool_version=str(tool_version))
    return entries, paths
