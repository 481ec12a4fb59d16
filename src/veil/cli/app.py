"""The ``veil`` command: a click group whose default command masks faces in files and folders."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from veil.cli.hooks import after_jobs, check_report_dir, report_folder, verification_failed
from veil.cli.output import BatchDisplay, batch_json, interrupted_line
from veil.errors import UsageError, VeilError
from veil.jobs.batch import (
    BatchInterrupted,
    JobOptions,
    collect_tasks,
    default_plan_dir,
    run_batch,
    summarize,
)
from veil.jobs.image import shared_scanner, tool_name
from veil.jobs.interrupt import INTERRUPTED_EXIT, exit_on_termination
from veil.scan.centerface import DEVICES, resolve_device
from veil.settings import FAST_THRESHOLD, MASK_METHODS, MASK_SHAPES, MaskSettings, ScanSettings

DEFAULT_COMMAND = "protect"

MAIN_HELP = """\
Mask every face in photos and videos, irreversibly, and write clean copies.

\b
Inputs are files and folders; folders are read recursively and their files are
written under OUTDIR at their path inside that folder:
  veil holiday/ -o safe/          holiday/beach/1.jpg  ->  safe/beach/1.jpg
  veil photo.jpg -o safe/         photo.jpg            ->  safe/photo.jpg

\b
Examples:
  veil photo.jpg holiday/ -o safe/              files and folders
  veil photo.jpg -o safe/ --method solid        solid | pixelate | blur (default)
  veil holiday/ -o safe/ --json > faces.json    the faces found, per file
  veil holiday/ -o safe/ --plan-dir plans/      keep each plan (JSON) for `veil render`
  veil render plans/photo.jpg.veil.json photo.jpg -o safe2/
  veil protect render -o safe/                  an input really named like a command

\b
Outputs keep each file's name and format (JPEG, PNG, WebP, TIFF, BMP), except
HEIC/HEIF, which is written as JPEG. No metadata is copied: EXIF (GPS, dates,
camera and serial numbers), XMP, IPTC, comments and embedded thumbnails are all
dropped. The colour profile (ICC) is dropped too unless --keep-icc is given.
Pictures are turned upright before faces are searched.
Inputs are never modified; outputs are written under a temporary name and
renamed when complete. Hidden files (unless --include-hidden) and files that are
not images or videos are skipped inside folders, and named in the report.

\b
OUTDIR holds only the masked copies: it is the folder to publish. The plans and
the report name the originals and hold their SHA-256, so they go beside it, to
OUTDIR.veil/plans and OUTDIR.veil/report (safe/ -> safe.veil/), unless
--plan-dir or --report say otherwise. Keep that folder private.

\b
Every output is then verified, as an adversary would check it: a stronger
second scan for faces left visible (two detector families), a recognition
test of each masked face against its original, and the metadata read back.
A face found still visible is added to the plan and the file rendered again
(at most 2 rounds). An output gets its final name only once verified; one
that still fails is written as NAME.verification-failed.EXT instead. The audit
report (report.json, report.html) goes to OUTDIR.veil/report unless --report DIR
is given; the report of an earlier run is not replaced without --overwrite.
`veil verify ORIGINAL OUTPUT` checks outputs made by any tool.

\b
Exit codes:
  0  every input was written and every output passed verification
  1  some inputs failed, or some outputs failed verification (each named on
     stderr with the reason and the check); the rest were written
  2  usage error (bad option, colliding outputs, OUTDIR inside an input folder
     or holding an input, existing outputs or report without --overwrite);
     nothing was written
  130  interrupted (Ctrl-C), 143 terminated (SIGTERM): the files finished before
     are written and in the report; nothing partial was left
"""


class DefaultGroup(click.Group):
    """A group that runs ``protect`` when the first argument is not a command name,
    so that ``veil photo.jpg -o safe/`` works without naming the command."""

    def invoke(self, ctx: click.Context) -> Any:
        # Ctrl-C outside a batch (collecting inputs, `veil render`, `veil verify`): one
        # line and the shell's code for SIGINT, not click's bare "Aborted!" and exit 1.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("veil: interrupted; nothing partial was left", err=True)
            raise click.exceptions.Exit(INTERRUPTED_EXIT) from None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names \
                and args[0] != "--version":
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("veil", "INPUT... -o OUTDIR [OPTIONS]")
        formatter.write_usage("veil", "COMMAND [ARGS]...", prefix="   or: ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        default = self.commands.get(DEFAULT_COMMAND)
        if default is not None:
            with ctx.scope(cleanup=False):
                sub_ctx = click.Context(default, info_name=DEFAULT_COMMAND, parent=ctx)
            rows = [r for p in default.get_params(sub_ctx)
                    if isinstance(p, click.Option) and "--help" not in p.opts
                    and (r := p.get_help_record(sub_ctx)) is not None]
            with formatter.section("Options (veil INPUT... / veil protect)"):
                formatter.write_dl(rows)
        super().format_options(ctx, formatter)


def _version() -> str:
    return tool_name().removeprefix("veil ").strip() or "unknown"


@click.group(cls=DefaultGroup, help=MAIN_HELP, no_args_is_help=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(_version(), "--version", prog_name="veil", message="%(prog)s %(version)s")
def main() -> None:
    """Entry point of the ``veil`` command."""
    exit_on_termination()  # SIGTERM unwinds like Ctrl-C: no partial or unverified file stays


@main.command(DEFAULT_COMMAND, short_help="(default) Mask faces in files and folders.",
              context_settings={"max_content_width": 100})
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True,
                type=click.Path(path_type=Path))
@click.option("-o", "--output", "outdir", required=True, metavar="OUTDIR",
              type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the masked copies (created if missing; neither inside an input "
              "nor holding one). Only the copies go there: it is the folder to publish.")
@click.option("--method", type=click.Choice(MASK_METHODS), default=MaskSettings().method,
              show_default=True, help="How faces are masked; all are irreversible at the "
              "default strength (scaled to each face's size).")
@click.option("--shape", type=click.Choice(MASK_SHAPES), default=MaskSettings().shape,
              show_default=True, help="Shape of each mask.")
@click.option("--margin", type=click.FloatRange(0, 2), default=MaskSettings().margin,
              show_default=True, help="Added to each side of a face box, as a fraction of its "
              "size, to cover hairline and chin.")
@click.option("--threshold", type=click.FloatRange(0.01, 1), default=None,
              help="Detector confidence needed to mask a face; lower masks more (and more "
              f"non-faces).  [default: {ScanSettings().threshold}; {FAST_THRESHOLD} with --fast]")
@click.option("--fast", is_flag=True, help="One detector pass per picture instead of four "
              "(zoomed and mirrored), at threshold 0.1: about 5x faster on small pictures, but "
              "misses more small and faint faces (dev set: 8.4% of faces leaked instead of "
              "1.4%).")
@click.option("--keep-icc", is_flag=True, help="Keep the embedded colour (ICC) profile as it is: "
              "colour calibration, plus whatever description, copyright or device maker/model "
              "fields the profile itself carries.")
@click.option("--quality", type=click.IntRange(50, 100), default=95, show_default=True,
              help="JPEG / WebP quality of the outputs.")
@click.option("--no-audio", is_flag=True, help="Drop the sound of videos (voices identify "
              "people too).")
@click.option("--crf", type=click.IntRange(0, 51), default=20, show_default=True,
              help="Video quality (H.264 CRF; lower is better and larger).")
@click.option("--plan-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Save each file's plan (JSON) here, at the output's relative path + "
              ".veil.json. Otherwise only videos' plans are saved, to OUTDIR.veil/plans.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs and the report of an "
              "earlier run (inputs are never overwritten).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Files processed in parallel (local processes).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document to stdout: "
              "per file the input, output, faces (boxes, scores) and error.")
@click.option("--no-verify", is_flag=True, help="Skip the check of the outputs (residual "
              "faces, re-identification, metadata) and the self-repair of residual faces.")
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Write report.json and report.html here "
              "[default: OUTDIR.veil/report when verifying].")
@click.option("--include-hidden", is_flag=True, help="Also process hidden files and folders "
              "(names starting with a dot) inside input folders.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary; "
              "failures are still printed.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where the face detector runs: auto uses CUDA when onnxruntime offers "
              "it (onnxruntime-gpu installed), else the CPU. Results are the same up to float "
              "rounding.")
def protect(inputs: tuple[Path, ...], outdir: Path, method: str, shape: str, margin: float,
            threshold: float | None, fast: bool, keep_icc: bool, quality: int,
            no_audio: bool, crf: int,
            plan_dir: Path | None, overwrite: bool, workers: int, as_json: bool,
            no_verify: bool, report_dir: Path | None, include_hidden: bool,
            quiet: bool, device: str) -> None:
    """Mask every face in INPUT files and folders; write clean copies under OUTDIR (default
    command: `veil INPUT... -o OUTDIR` is the same as `veil protect INPUT... -o OUTDIR`)."""
    if outdir.exists() and not outdir.is_dir():
        raise click.BadParameter(f"{outdir} is not a folder", param_hint="-o/--output")
    chosen: dict[str, Any] = {"device": device}
    if threshold is not None:
        chosen["threshold"] = threshold
    scan = ScanSettings.fast(**chosen) if fast else ScanSettings(**chosen)
    try:
        device_used = resolve_device(device)
        if device == "cuda":  # start it now (the jobs reuse it): a CUDA that fails is a usage error
            shared_scanner(scan)
    except VeilError as exc:
        raise click.BadParameter(str(exc), param_hint="--device") from exc
    mask = MaskSettings(method=method, shape=shape, margin=margin)  # type: ignore[arg-type]
    options = JobOptions(scan=scan, mask=mask, keep_icc=keep_icc, quality=quality,
                         overwrite=overwrite, audio=not no_audio, crf=crf,
                         verify=not no_verify)
    t0 = time.perf_counter()
    report_at = report_folder(report_dir, outdir, verify=not no_verify)
    try:
        collected = collect_tasks(inputs, outdir, plan_dir=plan_dir, overwrite=overwrite,
                                  include_hidden=include_hidden, report_dir=report_at)
        check_report_dir(report_at, overwrite=overwrite)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc

    interrupted: BatchInterrupted | None = None
    with BatchDisplay(len(collected.tasks), quiet=quiet) as display:
        for refused in collected.failures:
            display.done(None, refused)
        try:
            results = run_batch(collected.tasks, options, workers=workers,
                                on_start=display.start, on_done=display.done,
                                phase_progress=display.phase)
        except BatchInterrupted as exc:
            interrupted, results = exc, exc.results
    settings: dict[str, Any] = {"scan": scan.to_dict(), "mask": mask.to_dict(),
                                "keep_icc": keep_icc, "quality": quality,
                                "device": device_used}
    report = after_jobs(results, verify=not no_verify, report_dir=report_dir, outdir=outdir,
                        settings=settings, refused=collected.failures,
                        print_error=display.print_error, tool_version=_version(),
                        skipped=collected.skipped)
    all_results = [*collected.failures, *results]
    summary = summarize(all_results, collected, time.perf_counter() - t0)
    summary.report = report
    if any(r.plan_path for r in results):
        summary.plans = plan_dir or default_plan_dir(outdir)
    if interrupted is not None:
        summary.interrupted = interrupted.signal_name
        # Always said, even with -q: the run did not do what was asked.
        display.print_line(interrupted_line(summary, outdir, len(collected.tasks)))
        if as_json:
            click.echo(batch_json(all_results, summary, outdir=outdir, settings=settings,
                                  version=_version()))
        click.get_current_context().exit(interrupted.code)
    display.summary(summary, outdir)
    unverified = sum(verification_failed(r) for r in results)
    if unverified and not quiet:
        display.print_error("verification", f"{unverified} output(s) failed verification; "
                            "see the lines above and the report")
    if as_json:
        click.echo(batch_json(all_results, summary, outdir=outdir, settings=settings,
                              version=_version()))
    click.get_current_context().exit(1 if summary.failed or unverified else 0)


# Subcommands register themselves on ``main``.
from veil.cli import render as _render  # noqa: E402,F401
from veil.cli import review as _review  # noqa: E402,F401
from veil.cli import verify as _verify  # noqa: E402,F401
