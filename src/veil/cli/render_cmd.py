"""``veil render PLAN ORIGINAL -o OUTDIR``: render a saved plan again, without scanning."""

from __future__ import annotations

from pathlib import Path

import click

from veil.cli.group import main
from veil.cli.output import LineError, error_line, print_after_run, size_text
from veil.errors import UsageError, VeilError
from veil.jobs.image import check_output_path
from veil.jobs.pipeline import JobOptions, Task, run
from veil.jobs.report import check_report_dir, report_folder, side_folder, write_run_report
from veil.jobs.result import FileResult
from veil.media.kinds import media_kind, output_name
from veil.plan.record import Plan
from veil.settings import MASK_METHODS, MASK_SHAPES, MaskMethod, MaskShape

RENDER_HELP = """\
Render a saved plan (from --plan-dir, or a video's .veil.json, possibly edited) onto
its ORIGINAL file and write the result into OUTDIR, without scanning again. The plan
must have been made for exactly this file (its SHA-256 is checked; a plan for
another file is a usage error, exit code 2).

As after every job, the result is verified (residual faces, re-identification,
metadata) unless --no-verify: it is written under a hidden name, a face the check
finds is added and the file rendered again, and it gets its final name only once it
passes (else NAME.verification-failed.EXT, exit code 1). Each render gets its own
report, in OUTDIR.veil/renders/NAME (NAME: the output's file name) unless --report
DIR, so it never replaces the report of `veil INPUT -o OUTDIR` nor, without
--overwrite, that of an earlier render. Faces released in the plan stay visible and
are not counted as residual. The plan file itself is not changed.

\b
Example:
  veil photo.jpg -o safe/ --plan-dir plans/
  veil render plans/photo.jpg.veil.json photo.jpg -o safe2/ --method solid
"""


@main.command("render", help=RENDER_HELP, short_help="Render a saved plan again, no scan.",
              context_settings={"max_content_width": 100})
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path, dir_okay=False,
                                                              exists=True))
@click.argument("original", metavar="ORIGINAL", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", "outdir", required=True, metavar="OUTDIR",
              type=click.Path(path_type=Path, file_okay=False), help="Folder for the result.")
@click.option("--method", type=click.Choice(MASK_METHODS), default=None,
              help="Mask method instead of the plan's.")
@click.option("--shape", type=click.Choice(MASK_SHAPES), default=None,
              help="Mask shape instead of the plan's.")
@click.option("--margin", type=click.FloatRange(0, 2), default=None,
              help="Margin instead of the plan's.")
@click.option("--keep-icc", is_flag=True, help="Keep the colour (ICC) profile.")
@click.option("--quality", type=click.IntRange(50, 100), default=95, show_default=True,
              help="JPEG / WebP quality.")
@click.option("--no-audio", is_flag=True, help="Drop the sound of a video.")
@click.option("--crf", type=click.IntRange(0, 51), default=20, show_default=True,
              help="Video quality (H.264 CRF).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("--no-verify", is_flag=True, help="Skip the check of the result.")
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Write report.json and report.html here "
              "[default: OUTDIR.veil/renders/NAME when verifying].")
@click.option("-q", "--quiet", is_flag=True, help="No summary line; failures are still "
              "printed.")
def render(plan_path: Path, original: Path, outdir: Path, method: MaskMethod | None,
           shape: MaskShape | None, margin: float | None, keep_icc: bool, quality: int,
           no_audio: bool, crf: int, overwrite: bool, no_verify: bool,
           report_dir: Path | None, quiet: bool) -> None:
    """Render PLAN onto ORIGINAL into OUTDIR."""
    try:
        plan = Plan.load(plan_path)
    except (OSError, ValueError, KeyError) as exc:
        raise click.BadParameter(f"cannot read the plan: {exc}", param_hint="PLAN") from exc
    plan.mask = plan.mask.with_overrides(method, shape, margin)
    kind = media_kind(original) or plan.media.kind
    dst = outdir / output_name(original, kind)
    if original.exists() and original.resolve().parent == outdir.resolve():
        raise LineError(f"the output folder {outdir} holds the original; "
                         "choose another output folder")
    report_at = report_folder(report_dir, outdir, verify=not no_verify,
                              default=side_folder(outdir) / "renders" / dst.name)
    try:
        check_output_path(original, dst, overwrite=overwrite)
        plan.require_source(original, plan.media.kind)
        check_report_dir(report_at, overwrite=overwrite)
    except (VeilError, OSError, UsageError) as exc:  # before any work: a usage error
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LineError(f"{original}: {reason}") from exc

    options = JobOptions(mask=plan.mask, keep_icc=keep_icc, quality=quality,
                         overwrite=overwrite, audio=not no_audio, crf=crf,
                         verify=not no_verify)
    outcome = run(Task(original, dst, plan.media.kind, plan=plan), options)
    result = outcome.result
    if not result.ok:
        click.echo(error_line(original, result.error or "failed"), err=True)
        click.get_current_context().exit(1)
    print_after_run([outcome], lambda where, why: click.echo(error_line(where, why), err=True))
    report = None
    if report_at is not None:
        settings = {"mask": plan.mask.to_dict(), "plan": str(plan_path)}
        report = write_run_report([outcome], report_at, settings=settings)
    if not quiet:
        click.echo(render_line(result, report), err=True)
    if outcome.failed_verification:
        click.get_current_context().exit(1)


def render_line(result: FileResult, report: Path | None) -> str:
    """The closing line of ``veil render``: faces and regions, verdict, sizes, report."""
    faces, regions = result.faces, result.regions if result.regions is not None else 0
    ver = result.verification
    verdict = ("not verified" if ver is None else
               "verified" if ver.passed else "FAILED verification")
    line = (f"veil: {faces} face{'s' if faces != 1 else ''} masked "
            f"({regions} region{'s' if regions != 1 else ''}), written to {result.output} "
            f"({verdict}), {size_text(result.input_bytes)} in, "
            f"{size_text(result.output_bytes)} out")
    return line + (f", report: {report}" if report is not None else "")
