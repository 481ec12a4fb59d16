"""``veil verify ORIGINAL OUTPUT [--report DIR]``: check outputs made by any tool."""

from __future__ import annotations

from pathlib import Path

import click

from veil.cli.group import main
from veil.cli.output import LineError, error_line
from veil.errors import UsageError
from veil.jobs.batch import PLAN_SUFFIX
from veil.jobs.check_pair import verify_paths
from veil.jobs.report import default_plan_dir
from veil.media.fingerprint import file_sha256
from veil.plan.record import Plan

VERIFY_HELP = """\
Check OUTPUT (a file or a folder, made by veil or by any other tool) against
ORIGINAL: faces left visible (a stronger scan with two detector families),
masked faces that can still be recognised, and metadata left behind. Folders
are paired by relative path and file stem (photo.heic matches photo.jpg); an
output that is not the original's shape, or that differs from it almost
everywhere, fails: it is not a masked copy of that original.

\b
Without a veil plan, the masked regions are the pixels that changed between the
two files and the faces to test are those veil finds in the original. A veil
plan made for this very original is used instead when one is found: in
OUTDIR.veil/plans (where veil puts them; OUTDIR is the OUTPUT folder, or the
folder of an OUTPUT file) or beside the output (<output>.veil.json).

\b
Examples:
  veil verify holiday/ safe/ --report report/
  veil verify photo.jpg other-tool-output.jpg

\b
Exit codes:
  0  every output passed every check
  1  some output failed a check or could not be read, an original in ORIGINAL
     has no output in OUTPUT, or an output in OUTPUT has no original (each
     named on stderr with the check and where)
  2  usage error (ORIGINAL or OUTPUT does not exist, a file paired with a folder
     of originals)
"""


def sidecar_plan(original: Path, output: Path, root: Path | None = None) -> Plan | None:
    """veil's plan for ``output`` when it was made for ``original`` (same SHA-256):
    from ``<root>.veil/plans/<output's path under root>.veil.json`` (``root``: the
    output folder given, by default the output's own folder) or, as older veil versions
    wrote it, beside the output (``<output>.veil.json``); otherwise ``None``."""
    root = Path(root) if root is not None else output.parent
    try:
        rel = output.relative_to(root)
    except ValueError:
        rel = Path(output.name)
    for path in (default_plan_dir(root) / rel.parent / (rel.name + PLAN_SUFFIX),
                 output.with_name(output.name + PLAN_SUFFIX)):
        if not path.is_file():
            continue
        try:
            plan = Plan.load(path)
        except (OSError, ValueError, KeyError):
            continue
        if plan.media.sha256 == file_sha256(original):
            return plan
    return None


@main.command("verify", help=VERIFY_HELP, short_help="Check outputs of veil or any other tool.",
              context_settings={"max_content_width": 100})
@click.argument("original", metavar="ORIGINAL", type=click.Path(path_type=Path))
@click.argument("output", metavar="OUTPUT", type=click.Path(path_type=Path))
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Write report.json and report.html here.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line; failures are still "
              "printed.")
def verify(original: Path, output: Path, report_dir: Path | None, quiet: bool) -> None:
    """Verify OUTPUT against ORIGINAL."""
    if not output.exists():
        raise LineError(f"{output}: no such file or folder")
    try:
        root = output if output.is_dir() else output.parent
        entries, paths = verify_paths(
            original, output, report_dir=report_dir,
            plan_for=lambda orig, out: sidecar_plan(orig, out, root))
    except UsageError as exc:
        raise LineError(str(exc)) from exc
    if not entries:
        click.echo(error_line(original, "no media files to verify"), err=True)
        click.get_current_context().exit(1)
    bad = 0
    for e in entries:
        if e.status == "pass":
            continue
        bad += 1
        where = e.output or e.input
        if e.error is not None:
            reason = e.error
        else:
            assert e.verification is not None
            v = e.verification
            failed = ", ".join(k for k, s in v.checks.items() if s == "fail")
            more = f" (+{len(v.reasons) - 1} more)" if len(v.reasons) > 1 else ""
            reason = f"verification failed [{failed}]: {v.reasons[0]}{more}"
        click.echo(error_line(where, reason), err=True)
    if not quiet:
        tail = f"; report: {paths[1]}" if paths else ""
        click.echo(f"veil: {len(entries) - bad} of {len(entries)} outputs passed{tail}",
                   err=True)
    click.get_current_context().exit(1 if bad else 0)
