"""The ``veil`` command group: its help, and ``protect`` as the command run when the first
argument is not a command name. The commands register themselves on :data:`main`
(:mod:`veil.cli.protect`, :mod:`veil.cli.render_cmd`, :mod:`veil.cli.verify_cmd`; all
imported by :mod:`veil.cli`)."""

from __future__ import annotations

from typing import Any

import click

from veil import __version__
from veil.jobs.interrupt import INTERRUPTED_EXIT, exit_on_termination

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
Outputs keep each file's name and format (JPEG, PNG, WebP, TIFF, BMP, GIF and
animated WebP; AVIF where Pillow can write it, else PNG), except
HEIC/HEIF, which is written as JPEG. Videos are written as H.264 in their own
container when it is MP4, MOV, M4V or MKV, else (AVI, WebM...) as MP4.
No metadata is copied: EXIF (GPS, dates, camera and serial numbers), XMP, IPTC,
comments and embedded thumbnails are all dropped. The colour profile (ICC) is
dropped too unless --keep-icc is given.
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
        if not args:  # the short usage, not 150 lines of help
            raise click.UsageError("nothing to do: give INPUT... -o OUTDIR, or a command",
                                   ctx)
        if args[0] not in self.commands and args[0] not in ctx.help_option_names \
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


@click.group(cls=DefaultGroup, help=MAIN_HELP, no_args_is_help=False,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="veil", message="%(prog)s %(version)s")
def main() -> None:
    """Entry point of the ``veil`` command."""
    exit_on_termination()  # SIGTERM unwinds like Ctrl-C: no partial or unverified file stays


