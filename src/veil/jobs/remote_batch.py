"""A batch whose inputs or output folder are URIs (``s3://``, ``gs://``...; ``--engine
ray`` only): collected through pyarrow (:mod:`veil.jobs.remote`), run on the Ray runner,
its report written like a local batch's and uploaded beside the outputs.

Outputs mirror the inputs' relative paths under OUTDIR; the plans of videos (of every
file with ``--plan-dir``) and the report go to ``OUTDIR.veil/plans`` and
``OUTDIR.veil/report`` unless given.

A remote batch resumes like a local one (:mod:`veil.jobs.resume`, the same rules): each
published file gets a done record, ``OUTDIR.veil/done/<output's relative path>.json`` on
the output's filesystem; a re-run skips every file whose record is current (input and
output SHA-256, read back from the filesystem, settings, verification, plan) and does the
rest; ``.veil-partial.*`` objects a killed run left are deleted first. ``--retry-failed``
takes the report folder's URI; ``--json`` prints the same document as a local batch.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from veil.errors import UsageError
from veil.jobs import remote as rfs
from veil.jobs.pipeline import FAILED_MARK, STAGING_PREFIX, JobOptions, Outcome, Task, refused
from veil.jobs.report import SIDE_SUFFIX, write_run_report
from veil.jobs.resume import (
    DONE_FOLDER,
    FAILURES_NAME,
    Recorder,
    Resumption,
    is_current,
    parse_record,
    resumed_outcome,
)
from veil.media.kinds import media_kind, output_name

PLAN_SUFFIX = ".veil.json"


def location(text: str | Path) -> rfs.Uri:
    """A URI as it is; a local path made absolute (pyarrow's local filesystem)."""
    return rfs.Uri(str(text) if rfs.is_uri(str(text)) else str(Path(text).resolve()))


def _refused(where: rfs.Uri, why: str) -> Outcome:
    outcome = refused(cast(Path, where), why)
    outcome.report_entry().input = cast(Path, where)  # the URI, not a local path made of it
    return outcome


@dataclass
class RemoteCollected:
    tasks: list[Task] = field(default_factory=list)
    failures: list[Outcome] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def collect_remote(inputs: Sequence[str], outdir: str, *, plan_dir: str | None = None,
                   overwrite: bool = False, include_hidden: bool = False) -> RemoteCollected:
    """Map every input (a file or a folder, local or a URI) to its output under ``outdir``
    (its path relative to the folder given); refuse collisions and existing outputs."""
    out = location(outdir)
    plans = location(plan_dir) if plan_dir is not None else rfs.sibling(out, SIDE_SUFFIX) / "plans"
    collected = RemoteCollected()
    pairs: list[tuple[rfs.Uri, str]] = []
    for raw in inputs:
        where = location(raw)
        if rfs.is_dir(where):
            for rel in rfs.list_files(where):
                parts = rel.split("/")
                if not include_hidden and any(p.startswith(".") for p in parts):
                    collected.skipped.append((cast(Path, where / rel), "hidden"))
                elif media_kind(Path(parts[-1])) is None:
                    collected.skipped.append((cast(Path, where / rel), "not an image or video"))
                else:
                    pairs.append((where / rel, rel))
        elif rfs.exists(where):
            if media_kind(Path(where.name)) is None:
                collected.failures.append(_refused(where, "not media"))
            else:
                pairs.append((where, where.name))
        else:
            collected.failures.append(_refused(where, "no such file or folder"))
    seen: dict[str, str] = {}
    existing = []
    for source, rel in pairs:
        kind = media_kind(Path(rel))
        assert kind is not None
        parent, _, name = rel.rpartition("/")
        out_rel = (parent + "/" if parent else "") + output_name(Path(name), kind)
        output = out / out_rel
        if output in seen:
            raise UsageError(f"{seen[output]} and {source} would both be written to {output}")
        seen[output] = source
        if output == source:
            raise UsageError(f"the output {output} would overwrite an input")
        if not overwrite and rfs.exists(output):
            existing.append(output)
        plan_path = None
        if plan_dir is not None or kind == "video":
            plan_path = plans / (out_rel + PLAN_SUFFIX)
        collected.tasks.append(Task(cast(Path, source), cast(Path, output), kind,
                                    cast(Path, plan_path)))
    if existing:
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        raise UsageError(f"output {existing[0]} already exists{more}; "
                         "use --overwrite to replace outputs")
    return collected


def report_location(report_dir: str | None, outdir: str, *, verify: bool) -> rfs.Uri | None:
    if report_dir is not None:
        return location(report_dir)
    return rfs.sibling(location(outdir), SIDE_SUFFIX) / "report" if verify else None


def check_remote_report(folder: rfs.Uri | None, inputs: Sequence[str], *,
                        overwrite: bool) -> None:
    """Refuse to replace an earlier report that lists files this run does not cover (the
    local rule: :func:`veil.jobs.resume.check_report_replaceable`)."""
    from veil.jobs.resume import check_report_replaceable

    check_report_replaceable(folder, list(inputs), overwrite=overwrite,
                             read=lambda uri: rfs.read_bytes(str(uri)))


def done_location(outdir: str) -> rfs.Uri:
    """``OUTDIR.veil/done``: the done records of a remote batch's outputs."""
    return rfs.sibling(location(outdir), SIDE_SUFFIX) / DONE_FOLDER


def _relative(output: str, outdir: rfs.Uri) -> str:
    base, out = rfs.Uri(output).base, outdir.base.rstrip("/")
    return base[len(out) + 1:] if base.startswith(out + "/") else rfs.Uri(output).name


class RemoteRecorder(Recorder):
    """Writes each published file's done record to ``OUTDIR.veil/done`` on the output's
    filesystem (temporary name, then moved), in the batch's own process."""

    def __init__(self, outdir: str, options: JobOptions) -> None:
        super().__init__(Path("."), options)
        self.out = location(outdir)
        self.done = done_location(outdir)

    def record_uri(self, output: str) -> rfs.Uri:
        return self.done / (_relative(output, self.out) + ".json")

    def write(self, outcome: Outcome) -> None:
        record = self.record(outcome)
        if record is None:
            return
        with contextlib.suppress(OSError):  # no record: a re-run redoes it, nothing worse
            rfs.write_bytes(self.record_uri(str(outcome.task.output)),
                            json.dumps(record, indent=1, ensure_ascii=False).encode())


def _read_record(uri: str) -> dict[str, Any] | None:
    try:
        return parse_record(rfs.read_bytes(uri))
    except OSError:
        return None


def remove_remote_leftovers(folder: rfs.Uri) -> list[str]:
    """Delete the temporary (``.veil-partial.*``) and staging objects a killed run left
    under ``folder``; never a final name."""
    if not rfs.is_dir(folder):
        return []
    removed = []
    for rel in rfs.list_files(folder):
        name = rel.rsplit("/", 1)[-1]
        if name.startswith(rfs.PARTIAL_PREFIX) or name.startswith(STAGING_PREFIX):
            rfs.delete(folder / rel)
            removed.append(str(folder / rel))
    return removed


def resume_remote(tasks: Sequence[Task], options: JobOptions, outdir: str, *,
                  only: Callable[[Task], bool] | None = None) -> Resumption:
    """:func:`veil.jobs.resume.resume` for a remote OUTDIR: the tasks whose done record
    is current are skipped (their outcomes read back from the records), the rest are to
    do; an output without a record where veil keeps none is refused (``--overwrite``)."""

    out = location(outdir)
    found = Resumption()
    found.removed = [Path(p) for p in (remove_remote_leftovers(out)
                                       + remove_remote_leftovers(rfs.sibling(out, SIDE_SUFFIX)))]
    if options.overwrite:
        found.todo = [t for t in tasks if only is None or only(t)]
        return found
    recorder = RemoteRecorder(outdir, options)
    ours = rfs.is_dir(recorder.done)
    existing: list[str] = []
    for task in tasks:
        record = _read_record(recorder.record_uri(str(task.output)))
        if record is not None and is_current(record, task, options, recorder.key,
                                             sha=lambda p: rfs.sha256(str(p)),
                                             read=lambda p: rfs.read_bytes(str(p))):
            found.done.append(resumed_outcome(task, record))
            continue
        if only is not None and not only(task):
            continue
        found.todo.append(task)
        if record is None and not ours and rfs.exists(str(task.output)):
            existing.append(str(task.output))
    if existing:
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        raise UsageError(f"output {existing[0]} already exists{more} and veil has no record "
                         "of making it; use --overwrite to replace outputs")
    for task in found.todo:  # stale: redone, so its old output goes
        output = rfs.Uri(str(task.output))
        stem, dot, ext = output.name.rpartition(".")
        failed = output.parent / (f"{stem}{FAILED_MARK}.{ext}" if dot else
                                  output.name + FAILED_MARK)
        for old in (output, failed):
            rfs.delete(old)
    return found


def upload_report(outcomes: Sequence[Outcome], folder: rfs.Uri, *, settings: dict[str, Any],
                  command: dict[str, Any], skipped: Sequence[tuple[Path, str]] = ()) -> str:
    """Write ``report.json``, ``report.html`` and ``failures.json`` into a local
    temporary folder, then upload each (temporary name, then moved). Returns the URI of
    ``report.json``."""
    from veil.jobs.resume import write_failures
    from veil.report.html_report import THUMBNAIL_FOLDER

    with tempfile.TemporaryDirectory(prefix="veil-report-") as tmp:
        write_run_report(outcomes, Path(tmp), settings=settings, skipped=skipped)
        write_failures(Path(tmp), outcomes, command)
        made = sorted(str(p.relative_to(tmp)) for p in Path(tmp).rglob("*") if p.is_file())
        thumbs = folder / THUMBNAIL_FOLDER
        stale = rfs.list_files(thumbs) if rfs.is_dir(thumbs) else []
        # the thumbnails first, report.html (which refers to them) last
        for rel in sorted(made, key=lambda r: (not r.startswith(THUMBNAIL_FOLDER + "/"),
                                               r == "report.html", r)):
            rfs.write_bytes(folder / rel, (Path(tmp) / rel).read_bytes())
        for rel in stale:
            if f"{THUMBNAIL_FOLDER}/{rel}" not in made:
                rfs.delete(thumbs / rel)
    return str(folder / "report.json")


def run_remote_batch(collected: RemoteCollected, options: JobOptions, *, runner: Any,
                     on_done: Callable[[Task, Outcome], None] | None = None,
                     keep_plans: bool = False) -> Sequence[Outcome]:
    """Run the collected tasks; the refused inputs first, then the outcomes in the
    order of the tasks (spooled unless ``keep_plans``: read back as asked)."""
    from veil.jobs.runners import join_outcomes, run_all

    new = run_all(runner, collected.tasks, options, on_done=on_done, keep_plans=keep_plans)
    return join_outcomes(collected.failures, new)


def _summary(outcomes: Sequence[Outcome], collected: RemoteCollected, seconds: float,
             resumed: int) -> Any:
    from veil.jobs.batch import Collected, batch_summary

    local = Collected()
    for path, why in collected.skipped:
        local.skip(path, why)
    summary = batch_summary([o.result for o in outcomes], local, seconds)
    summary.resumed = resumed
    return summary


def protect_remote(inputs: Sequence[str], outdir: str, options: JobOptions, *, workers: int,
                   ray_address: str | None, ray_gpus: float | None, plan_dir: str | None,
                   report_dir: str | None, include_hidden: bool, quiet: bool,
                   settings: dict[str, Any], command: dict[str, Any],
                   retry: set[str] | None = None, as_json: bool = False) -> int:
    """``veil --engine ray`` with URIs: collect, resume, run, report; returns the exit
    status (0: every file done and verified, 1: some failed). ``retry``: only these
    inputs (as the failures list names them) are processed, and ``report_dir`` may be the
    report folder's URI. ``as_json``: the ``--json`` document on stdout."""
    import time

    import click

    from veil import __version__
    from veil.jobs.runners import BatchInterrupted, join_outcomes, make_runner, require_ray

    require_ray()
    t0 = time.perf_counter()
    for given in (plan_dir, report_dir if retry is None else None):
        if given is not None and re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", given):
            raise UsageError("--plan-dir and --report take local folders (a URI's plans and "
                             "report go beside OUTDIR: OUTDIR.veil/plans, OUTDIR.veil/report)")
    report_at = report_location(report_dir, outdir, verify=options.verify)
    collected = collect_remote(inputs, outdir, plan_dir=plan_dir, overwrite=True,
                               include_hidden=include_hidden)
    if retry is not None:
        collected.failures = [o for o in collected.failures if str(o.source) in retry]
    resumed = resume_remote(collected.tasks, options, outdir,
                            only=None if retry is None else (lambda t: str(t.source) in retry))
    check_remote_report(report_at, [*(str(t.source) for t in collected.tasks),
                                    *(str(o.source) for o in collected.failures)],
                        overwrite=options.overwrite)
    if resumed.done and not quiet:
        click.echo(f"veil: resuming: {len(resumed.done)} of {len(collected.tasks)} files are "
                   f"already done (output current and {'verified' if options.verify else 'made'}"
                   f"), {len(resumed.todo)} to do (--overwrite redoes all)", err=True)
    recorder = RemoteRecorder(outdir, options)

    def done(task: Task, outcome: Outcome) -> None:
        recorder.write(outcome)
        if not outcome.ok:
            click.echo(f"veil: {task.source}: {outcome.error}", err=True)
        elif outcome.failed_verification:
            click.echo(f"veil: {task.source}: failed verification", err=True)

    for failure in collected.failures:
        click.echo(f"veil: {failure.source}: {failure.error}", err=True)
    todo = RemoteCollected(tasks=resumed.todo)
    stopped: BatchInterrupted | None = None
    new: Sequence[Outcome] = []
    try:
        if todo.tasks:
            runner = make_runner(max(1, min(workers, len(todo.tasks))), engine="ray",
                                 ray_address=ray_address, ray_gpus=ray_gpus)
            new = run_remote_batch(todo, options, runner=runner, on_done=done,
                                   keep_plans=as_json)
    except BatchInterrupted as exc:  # Ctrl-C, SIGTERM: the report of the files finished
        stopped, new = exc, exc.outcomes
        click.echo(f"veil: {exc.signal_name}: {len(exc.outcomes)} of "
                   f"{len(todo.tasks)} files finished", err=True)
    outcomes = join_outcomes(collected.failures, resumed.merged(collected.tasks, new))
    report = None
    if report_at is not None:
        report = upload_report(outcomes, report_at, settings=settings, command=command,
                               skipped=collected.skipped)
        if not quiet:
            click.echo(f"veil: report: {report}", err=True)
    bad = sum(not o.ok or o.failed_verification for o in outcomes)
    if not quiet:
        again = f" ({len(resumed.done)} done by an earlier run)" if resumed.done else ""
        click.echo(f"veil: {len(outcomes) - bad} of {len(outcomes)} files done{again} "
                   f"into {location(outdir)}", err=True)
    if as_json:
        from veil.cli.output import batch_json

        summary = _summary(outcomes, collected, time.perf_counter() - t0, len(resumed.done))
        summary.report = None if report is None else cast(Path, rfs.Uri(report))
        summary.interrupted = None if stopped is None else stopped.signal_name
        click.echo(batch_json([o.result for o in outcomes], summary,
                              outdir=cast(Path, location(outdir)), settings=settings,
                              version=__version__))
    if stopped is not None:
        return stopped.code
    return 1 if bad else 0


def read_remote_failures(folder: str) -> dict[str, Any]:
    """``failures.json`` of a report folder given as a URI (``--retry-failed``)."""
    from veil.jobs.resume import read_failures

    where = rfs.Uri(folder) / FAILURES_NAME
    return read_failures(cast(Path, rfs.Uri(folder)), read=lambda uri: rfs.read_bytes(str(uri)),
                         path=where)
