"""Resumable batches: a record per finished file, and what a re-run may skip.

When a file's output has been published (verified, or made with ``--no-verify``), the
batch writes a small **done record** for it, ``<OUTDIR>.veil/done/<output's relative
path>.json`` (beside OUTDIR, never in it: OUTDIR stays publishable). It holds the SHA-256
of the input and of the output, the settings that shape the output, and the file's report
entry. A re-run of the same command (:func:`resume`) skips every task whose record is
**current**:

- the input's SHA-256 is the one recorded (a changed input is redone);
- the output-affecting settings (scan, mask, track, quality, ICC, audio, CRF) and the
  veil version are the recorded ones (a changed setting is redone);
- the output is there with the recorded SHA-256, and its plan (when the task keeps one)
  is there and made for this input;
- it passed verification (or both runs are ``--no-verify``).

Everything else is redone. An output left from an earlier run that is not current is
replaced (its record says veil made it; an output without record in a folder where veil
keeps records is one published just before a ``kill -9``), unless it is no longer what
veil wrote (its SHA-256 is not the recorded one: edited by hand, or re-rendered from the
review page): the run then stops before any work, and ``--overwrite`` replaces it. Staging names
(``.veil-unverified.*``) and temporary ``.partial`` files left by a killed run are removed
before the run. The report covers the skipped files (from their records) and the new ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veil.errors import UsageError
from veil.jobs.pipeline import FAILED_MARK, STAGING_PREFIX, JobOptions, Outcome, Task
from veil.jobs.report import REPORT_NAME, default_report_dir, side_folder
from veil.jobs.result import FileResult, Verdict
from veil.report.json_report import ReportEntry

RECORD_FORMAT = "veil-done/1"
DONE_FOLDER = "done"
FAILURES_NAME = "failures.json"
FAILURES_FORMAT = "veil-failures/1"
#: where the review page writes its reports, in the side folder (veil.review.state)
REVIEWS_NAME = "reviews"
#: temporary names of :func:`veil.media.atomic.atomic_path`: ``.STEM.XXXX.partial.EXT``
_PARTIAL = re.compile(r"^\..+\.partial(\.[^.]+)?$")


def done_folder(outdir: str | os.PathLike[str]) -> Path:
    """``<OUTDIR>.veil/done``: the done records of the outputs in ``outdir``."""
    return side_folder(outdir) / DONE_FOLDER


def output_settings(options: JobOptions) -> dict[str, Any]:
    """Every setting that changes an output's bytes (not the device, not ``verify``)."""
    from veil import __version__

    return {"veil": __version__, "scan": options.scan.plan_dict(),
            "mask": options.mask.to_dict(), "track": options.track.to_dict(),
            "keep_icc": options.keep_icc, "quality": options.quality,
            "audio": options.audio, "crf": options.crf}


def settings_key(options: JobOptions) -> str:
    """SHA-256 of :func:`output_settings` in canonical JSON."""
    text = json.dumps(output_settings(options), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _relative(output: Path, outdir: Path) -> Path:
    return Path(os.path.relpath(Path(output).resolve(), Path(outdir).resolve()))


def record_path(outdir: Path, output: Path) -> Path:
    return done_folder(outdir) / (str(_relative(output, outdir)) + ".json")


def thumbnail_path(record: Path) -> Path:
    """The output thumbnail kept beside a done record (``NAME.json`` → ``NAME.jpg``), so
    that the report of a resumed run still shows every output."""
    return record.with_suffix(".jpg")


class RecordedEntry(ReportEntry):
    """A report entry read back from a done record: it writes the stored entry as it was
    (with a note that an earlier run made it)."""

    stored: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.stored)


RESUMED_NOTE = "made and verified by an earlier run of this command; not redone"
RESUMED_NOTE_UNVERIFIED = "made by an earlier run of this command; not redone"


def _entry_from(stored: dict[str, Any], thumbnail: Path | None = None) -> RecordedEntry:
    from veil.verify.check import Verification

    ver = stored.get("verification")
    verification = None
    if ver is not None:
        verification = Verification(kind=str(ver.get("kind", stored.get("kind", "image"))),
                                    passed=bool(ver.get("passed")),
                                    metadata_flagged=list(ver.get("metadata", {})
                                                          .get("flagged", [])),
                                    thumbnail_file=thumbnail)
    # records are written for new outcomes only, so a stored entry never holds this note
    note = RESUMED_NOTE if ver is not None else RESUMED_NOTE_UNVERIFIED
    stored = dict(stored, notes=[*stored.get("notes", []), note])
    entry = RecordedEntry(
        input=Path(stored["input"]), output=Path(stored["output"]),
        kind=str(stored.get("kind", "image")), input_sha256=stored.get("input_sha256"),
        output_sha256=stored.get("output_sha256"), verification=verification,
        faces_masked=int(stored.get("faces_masked", 0)),
        faint_tracks=int(stored.get("faint_tracks", 0)),
        released=list(stored.get("released_regions", [])),
        deleted=list(stored.get("deleted_regions", [])), notes=list(stored["notes"]))
    entry.stored = stored
    return entry


class Recorder:
    """Writes the done record of each finished file (called in the batch's own process,
    as each outcome comes back from the runner)."""

    def __init__(self, outdir: Path, options: JobOptions) -> None:
        self.outdir = Path(outdir)
        self.options = options
        self.key = settings_key(options)

    def record(self, outcome: Outcome) -> dict[str, Any] | None:
        """The done record of a finished file, or ``None`` when it gets none (it failed,
        failed verification, or was not verified when verifying)."""
        result = outcome.result
        if not result.ok or result.output is None or outcome.failed_verification:
            return None
        if self.options.verify and result.verification is None:
            return None
        entry = outcome.report_entry().to_dict()
        if not entry.get("output_sha256") or not entry.get("input_sha256"):
            return None
        return {
            "format": RECORD_FORMAT, "settings_key": self.key,
            "settings": output_settings(self.options),
            "verified": result.verification is not None,
            "input_sha256": entry["input_sha256"], "output_sha256": entry["output_sha256"],
            "plan": None if result.plan_path is None else str(result.plan_path),
            "result": {"kind": result.kind, "faces": result.faces, "faint": result.faint,
                       "frames": result.frames,
                       "regions": result.regions, "input_bytes": result.input_bytes,
                       "output_bytes": result.output_bytes},
            "entry": entry,
        }

    def write(self, outcome: Outcome) -> None:
        record = self.record(outcome)
        if record is None:
            return
        from veil.media.atomic import atomic_path

        path = record_path(self.outdir, outcome.task.output)
        verification = outcome.report_entry().verification
        thumb = verification.thumbnail() if verification is not None else None
        try:
            if thumb is not None:  # first: a record never refers to a missing thumbnail
                with atomic_path(thumbnail_path(path)) as tmp:
                    tmp.write_bytes(thumb)
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False),
                               encoding="utf-8")
        except OSError:
            pass  # no record: a re-run redoes this file, nothing worse


def parse_record(text: str | bytes) -> dict[str, Any] | None:
    """A done record's content, or ``None`` when it is not one."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("format") == RECORD_FORMAT else None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return parse_record(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def _sha(path: Path) -> str | None:
    from veil.media.fingerprint import file_sha256

    try:
        return file_sha256(path) if path.is_file() else None
    except OSError:
        return None


def _read_text(path: Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def is_current(record: dict[str, Any], task: Task, options: JobOptions, key: str, *,
               sha: Callable[[Path], str | None] = _sha,
               read: Callable[[Path], str | bytes] = _read_text) -> bool:
    """Whether ``task``'s done ``record`` is current (see the module's rules): same
    settings ``key``, verified when verifying, the output's and the input's SHA-256 the
    recorded ones, and its plan made for this input. ``sha`` and ``read`` read the files
    (local ones by default; a remote batch passes its filesystem's)."""
    if record.get("settings_key") != key:
        return False
    if options.verify and not record.get("verified"):
        return False
    if sha(task.output) != record.get("output_sha256"):
        return False
    input_sha = sha(task.source)
    if input_sha is None or input_sha != record.get("input_sha256"):
        return False
    if task.plan_path is not None:
        try:
            plan = json.loads(read(task.plan_path))
            return bool(plan["media"]["sha256"] == input_sha)
        except (OSError, ValueError, KeyError, TypeError):
            return False
    return True


def resumed_outcome(task: Task, record: dict[str, Any],
                    thumbnail: Path | None = None) -> Outcome:
    res = record.get("result", {})
    result = FileResult(source=task.source, output=task.output, kind=res.get("kind", task.kind),
                        faces=int(res.get("faces", 0)), faint=int(res.get("faint", 0)),
                        frames=int(res.get("frames", 1)),
                        regions=res.get("regions"), plan_path=task.plan_path,
                        verification=Verdict(passed=True) if record.get("verified") else None,
                        input_bytes=int(res.get("input_bytes", 0)),
                        output_bytes=int(res.get("output_bytes", 0)),
                        extra={"resumed": True})
    entry = _entry_from(dict(record["entry"], input=str(task.source), output=str(task.output)),
                        thumbnail)
    return Outcome(task, result, entry)


@dataclass
class Resumption:
    """What :func:`resume` found: the tasks still to do, the outcomes of those already
    done (from their records), and the leftovers of a killed run it removed."""

    todo: list[Task] = field(default_factory=list)
    done: list[Outcome] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    def merged(self, tasks: Sequence[Task], outcomes: Sequence[Outcome]) -> Sequence[Outcome]:
        """The done and the new outcomes, in the order of ``tasks`` (still spooled, when
        ``outcomes`` are: :class:`veil.jobs.runners.SpooledOutcomes`)."""
        from veil.jobs.runners import SpooledOutcomes

        # by output (unique in a batch): an outcome from a worker process carries a copy
        if isinstance(outcomes, SpooledOutcomes):
            items: dict[Path, tuple[Task, Outcome | int]] = {
                o.task.output: (o.task, o) for o in self.done}
            items.update({t.output: (t, held) for t, held in outcomes.items})
            return SpooledOutcomes(outcomes.spool, [items[t.output] for t in tasks
                                                    if t.output in items])
        by_output = {o.task.output: o for o in self.done}
        by_output.update({o.task.output: o for o in outcomes})
        return [by_output[t.output] for t in tasks if t.output in by_output]


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove the staging (``.veil-unverified.*``) and temporary (``.*.partial*``) files a
    killed run left under ``folder``; never a final name."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for root, _, files in os.walk(folder):
        for name in files:
            if name.startswith(STAGING_PREFIX) or _PARTIAL.match(name):
                path = Path(root) / name
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def resume(tasks: Sequence[Task], options: JobOptions, outdir: Path, *,
           only: Callable[[Task], bool] | None = None) -> Resumption:
    """Split ``tasks`` into those whose output is current (skipped; their outcomes read
    back from their records) and those to do; clear what a killed run left behind.

    With ``options.overwrite`` every task is to do. Otherwise an existing output that
    is not current is replaced when veil keeps records for ``outdir`` (it made it), and
    refused (:class:`UsageError`, as before resumable runs) when it does not.
    ``only(task)`` false: a task not done is left alone (``--retry-failed``).
    """
    outdir = Path(outdir)
    found = Resumption()
    found.removed = remove_leftovers(outdir) + remove_leftovers(side_folder(outdir))
    if options.overwrite:
        found.todo = [t for t in tasks if only is None or only(t)]
        return found
    key = settings_key(options)
    ours = done_folder(outdir).is_dir()
    existing: list[Path] = []
    edited: list[Path] = []
    for task in tasks:
        path = record_path(outdir, task.output)
        record = _read(path)
        if record is not None and is_current(record, task, options, key):
            found.done.append(resumed_outcome(task, record, thumbnail_path(path)))
            continue
        if only is not None and not only(task):
            continue
        found.todo.append(task)
        if task.output.exists() and record is None and not ours:
            existing.append(task.output)
        elif record is not None and task.output.is_file() \
                and _sha(task.output) != record.get("output_sha256"):
            edited.append(task.output)  # not what veil wrote: someone changed it since
    if existing:
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        if _reviewed(outdir):
            raise UsageError(f"output {existing[0]}{more} exists and has no record of a run: "
                             "a render from the review page, or not veil's; this command "
                             "would scan again and replace it (the review's corrections "
                             "with it): use --overwrite to do so, or go on with veil review")
        raise UsageError(f"output {existing[0]} already exists{more} and veil has no record "
                         "of making it; use --overwrite to replace outputs")
    if edited:
        more = f" (and {len(edited) - 1} more outputs)" if len(edited) > 1 else ""
        raise UsageError(f"output {edited[0]}{more} was changed after veil wrote it (by hand, "
                         "or by a render from the review page); use --overwrite to replace it")
    for task in found.todo:  # stale: redone, so its old output goes
        failed = task.output.with_name(task.output.stem + FAILED_MARK + task.output.suffix)
        for old in (task.output, failed):
            if old.is_file() or old.is_symlink():
                old.unlink()
    return found


def _reviewed(outdir: Path) -> bool:
    """Whether the review page has written reports for ``outdir`` (its renders make
    outputs without done records)."""
    side = side_folder(outdir)
    if (side / REVIEWS_NAME).is_dir():
        return True
    try:
        report = json.loads((default_report_dir(outdir) / REPORT_NAME).read_text(
            encoding="utf-8"))
        return bool(report.get("settings", {}).get("review"))
    except (OSError, ValueError, AttributeError):
        return False


def check_report_replaceable(folder: Any, inputs: Sequence[Any], *,
                             overwrite: bool, read: Callable[[Any], str | bytes] | None = None
                             ) -> None:
    """Refuse (before any work) to replace an earlier report unless this run covers every
    file it lists (a re-run of the same command, resumed) or ``overwrite``: a report is
    the only record of what that run did. ``read`` reads a remote folder's report
    (``FileNotFoundError``: none)."""
    if folder is None or overwrite:
        return
    existing = folder / REPORT_NAME
    if read is None:
        if not Path(existing).exists():
            return
        read = _read_text
    try:
        text = read(existing)
    except FileNotFoundError:
        return
    except OSError:
        text = None
    try:
        listed = None if text is None else {f["input"] for f in json.loads(text)["files"]}
    except (ValueError, KeyError, TypeError):
        listed = None
    if listed is not None and listed <= {str(p) for p in inputs}:
        return
    raise UsageError(f"{existing} holds the report of an earlier run on other files; give "
                     "--report DIR for this run's report, or --overwrite to replace it")


def write_failures(folder: Path, outcomes: Sequence[Outcome], command: dict[str, Any]) -> Path:
    """Write ``failures.json`` into the report folder: every file that failed (the job
    failed, or its output failed verification) and why, plus the ``command`` to retry them
    with (``veil --retry-failed REPORTDIR``)."""
    from veil.media.atomic import atomic_path

    failures = []
    for o in outcomes:
        if o.ok and not o.failed_verification:
            continue
        why = o.error if not o.ok else "; ".join(o.verification.reasons if o.verification
                                                 else []) or "failed verification"
        failures.append({"input": str(o.source),
                         "output": None if o.output is None else str(o.output),
                         "status": "error" if not o.ok else "fail", "reason": why})
    doc = {"format": FAILURES_FORMAT, "command": command, "failures": failures}
    path = Path(folder) / FAILURES_NAME
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_failures(folder: Path, *, read: Callable[[Any], str | bytes] = _read_text,
                  path: Any = None) -> dict[str, Any]:
    """``failures.json`` of a report folder; :class:`UsageError` when missing or bad.
    ``read`` and ``path`` read it elsewhere (a remote report folder's ``failures.json``)."""
    path = Path(folder) / FAILURES_NAME if path is None else path
    try:
        doc = json.loads(read(path))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file (is {folder} a report folder of veil?)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FAILURES_FORMAT:
        raise UsageError(f"{path}: not a failures list of veil")
    return doc
