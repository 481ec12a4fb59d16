"""A batch whose inputs or output folder are URIs (``s3://``, ``gs://``...; ``--engine
ray`` only): collected through pyarrow (:mod:`veil.jobs.remote`), run on the Ray runner,
its report written like a local batch's and uploaded beside the outputs.

Outputs mirror the inputs' relative paths under OUTDIR; the plans of videos (of every
file with ``--plan-dir``) and the report go to ``OUTDIR.veil/plans`` and
``OUTDIR.veil/report`` unless given. Existing outputs and an earlier report are refused
unless ``--overwrite`` (a remote batch does not resume: it is done again whole).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from veil.errors import UsageError
from veil.jobs import remote as rfs
from veil.jobs.pipeline import JobOptions, Outcome, Task, refused
from veil.jobs.report import REPORT_NAME, SIDE_SUFFIX, earlier_report, write_run_report
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


def check_remote_report(folder: rfs.Uri | None, *, overwrite: bool) -> None:
    if folder is not None and not overwrite and rfs.exists(folder / REPORT_NAME):
        raise earlier_report(folder / REPORT_NAME)


def upload_report(outcomes: Sequence[Outcome], folder: rfs.Uri, *, settings: dict[str, Any],
                  command: dict[str, Any], skipped: Sequence[tuple[Path, str]] = ()) -> str:
    """Write ``report.json``, ``report.html`` and ``failures.json`` into a local
    temporary folder, then upload each (temporary name, then moved). Returns the URI of
    ``report.json``."""
    from veil.jobs.resume import write_failures

    with tempfile.TemporaryDirectory(prefix="veil-report-") as tmp:
        write_run_report(outcomes, Path(tmp), settings=settings, skipped=skipped)
        write_failures(Path(tmp), outcomes, command)
        for name in sorted(p.name for p in Path(tmp).iterdir()):
            rfs.write_bytes(folder / name, (Path(tmp) / name).read_bytes())
    return str(folder / REPORT_NAME)


def run_remote_batch(collected: RemoteCollected, options: JobOptions, *, runner: Any,
                     on_done: Callable[[Task, Outcome], None] | None = None
                     ) -> list[Outcome]:
    """Run the collected tasks; the refused inputs first, then the outcomes in the
    order of the tasks."""
    from veil.jobs.runners import run_all

    new = run_all(runner, collected.tasks, options, on_done=on_done, keep_plans=False)
    return [*collected.failures, *new]


def protect_remote(inputs: Sequence[str], outdir: str, options: JobOptions, *, workers: int,
                   ray_address: str | None, ray_gpus: float | None, plan_dir: str | None,
                   report_dir: str | None, include_hidden: bool, quiet: bool,
                   settings: dict[str, Any], command: dict[str, Any]) -> int:
    """``veil --engine ray`` with URIs: collect, run, report; returns the exit status
    (0: every file done and verified, 1: some failed)."""
    import click

    from veil.jobs.runners import make_runner, require_ray

    require_ray()
    for given in (plan_dir, report_dir):
        if given is not None and re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", given):
            raise UsageError("--plan-dir and --report take local folders (a URI's plans and "
                             "report go beside OUTDIR: OUTDIR.veil/plans, OUTDIR.veil/report)")
    report_at = report_location(report_dir, outdir, verify=options.verify)
    collected = collect_remote(inputs, outdir, plan_dir=plan_dir, overwrite=options.overwrite,
                               include_hidden=include_hidden)
    check_remote_report(report_at, overwrite=options.overwrite)
    runner = make_runner(max(1, min(workers, len(collected.tasks))), engine="ray",
                         ray_address=ray_address, ray_gpus=ray_gpus)

    def done(task: Task, outcome: Outcome) -> None:
        if not outcome.ok:
            click.echo(f"veil: {task.source}: {outcome.error}", err=True)
        elif outcome.failed_verification:
            click.echo(f"veil: {task.source}: failed verification", err=True)

    for failure in collected.failures:
        click.echo(f"veil: {failure.source}: {failure.error}", err=True)
    from veil.jobs.runners import BatchInterrupted

    stopped: BatchInterrupted | None = None
    try:
        outcomes = run_remote_batch(collected, options, runner=runner, on_done=done)
    except BatchInterrupted as exc:  # Ctrl-C, SIGTERM: the report of the files finished
        stopped, outcomes = exc, [*collected.failures, *exc.outcomes]
        click.echo(f"veil: {exc.signal_name}: {len(exc.outcomes)} of "
                   f"{len(collected.tasks)} files finished", err=True)
    if report_at is not None:
        report = upload_report(outcomes, report_at, settings=settings, command=command,
                               skipped=collected.skipped)
        if not quiet:
            click.echo(f"veil: report: {report}", err=True)
    bad = sum(not o.ok or o.failed_verification for o in outcomes)
    if not quiet:
        click.echo(f"veil: {len(outcomes) - bad} of {len(outcomes)} files done "
                   f"into {location(outdir)}", err=True)
    if stopped is not None:
        return stopped.code
    return 1 if bad else 0
