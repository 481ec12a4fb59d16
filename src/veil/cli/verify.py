"""``veil verify ORIGINAL OUTPUT [--report DIR]``.

HOOK(lead): connect ``veil.jobs.verify`` / ``veil.report`` here. Until then the command
says that verification is not available and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

import click

from veil.cli.app import main

VERIFY_HELP = """\
Check OUTPUT (files or a folder, made by veil or by any other tool) against ORIGINAL:
residual faces, re-identification, metadata left behind. Exits non-zero when any
check fails.

\b
Example:
  veil verify holiday/ safe/ --report report/

(Not available in this version yet.)
"""


@main.command("verify", help=VERIFY_HELP, short_help="Check outputs (not available yet).",
              context_settings={"max_content_width": 100})
@click.argument("original", metavar="ORIGINAL", type=click.Path(path_type=Path))
@click.argument("output", metavar="OUTPUT", type=click.Path(path_type=Path))
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Write report.json and report.html here.")
def verify(original: Path, output: Path, report_dir: Path | None) -> None:
    """Verify OUTPUT against ORIGINAL."""
    click.echo("veil: verify is not available in this version yet", err=True)
    click.get_current_context().exit(2)
