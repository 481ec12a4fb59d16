"""``veil review PATH... -o OUTDIR``: the review page, served on this machine."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from veil.cli.group import main
from veil.cli.output import LineError
from veil.errors import UsageError
from veil.jobs.batch import JobOptions
from veil.settings import MASK_METHODS, MaskMethod, MaskSettings, ScanSettings

REVIEW_HELP = """\
Review what will be masked, correct it, and render, in your browser.

Scans the files that have no plan yet (a plan is kept in PLANDIR at the output's
relative path + .veil.json, PLANDIR being OUTDIR.veil/plans as for `veil INPUT -o
OUTDIR`; an existing plan is used as it is, not scanned again), starts a web server
on this machine only (127.0.0.1), opens the page in the browser and prints its
address, with the session's secret token, as the first line on stdout. Stop it
with Ctrl-C.

\b
On the page:
  - every region of the plan over the original, coloured by where it comes from
    (detected, filled, extended, manual, kept visible);
  - select, move, resize, delete a region; drag on the picture to add one (in a
    video it follows the face from that frame on); keep a face visible, with
    a reason; a masked preview;
  - a video's player and a timeline of its tracks: keep visible, delete, cut
    (end at this frame), split (in two at this frame) or merge two tracks; a
    face drawn on one frame is followed backwards and forwards;
  - render and verify, exactly as `veil render` does; the verdict shows on the
    file's row, and the report goes to OUTDIR.veil/report (or, when that
    holds an earlier run's report, OUTDIR.veil/reviews/TIME).

Every edit is saved into the plan at once, and recorded in it: a face kept
visible is "released" with the reason and the time, a region deleted by hand
stays as provenance "deleted" with the time (never masked), a drawn one is
"manual". The page shows unmasked faces: it needs the token on every request,
and nothing of the originals is written to disk beyond the plan.

To review an earlier run, give its originals and its output folder: `veil
review holiday/ -o safe/` uses the plans in safe.veil/plans/ (a plan names its
original only by file name, so an output folder alone cannot be reviewed).

\b
Examples:
  veil review holiday/ -o safe/                 plans in safe.veil/plans/
  veil review clip.mp4 -o safe/ --no-browser    print the address only
  veil review photos/ -o safe/ --plan-dir plans/ --port 8765
"""


@main.command("review", help=REVIEW_HELP, short_help="Review and correct plans in the browser.",
              context_settings={"max_content_width": 100})
@click.argument("inputs", metavar="PATH...", nargs=-1, required=True,
                type=click.Path(path_type=Path))
@click.option("-o", "--output", "outdir", default=Path("veil-out"), show_default=True,
              metavar="OUTDIR", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the rendered files.")
@click.option("--plan-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder of the plans (read when there, written when not)  "
              "[default: OUTDIR.veil/plans, beside OUTDIR].")
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Folder of the session's report  [default: "
              "OUTDIR.veil/report, or OUTDIR.veil/reviews/TIME when that holds an "
              "earlier run's report].")
@click.option("--method", type=click.Choice(MASK_METHODS), default=MaskSettings().method,
              show_default=True, help="Mask method of new plans.")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port on 127.0.0.1  [default: a free one].")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; only print the "
              "address (scripts, remote shells through an SSH tunnel).")
@click.option("--no-verify", is_flag=True, help="Render without verification.")
def review(inputs: tuple[Path, ...], outdir: Path, plan_dir: Path | None,
           report_dir: Path | None, method: MaskMethod,
           port: int, no_browser: bool, no_verify: bool) -> None:
    """Serve the review page for INPUT files and folders."""
    from veil.review.server import ReviewServer
    from veil.review.state import Session

    if outdir.exists() and not outdir.is_dir():
        raise click.BadParameter(f"{outdir} is not a folder", param_hint="-o/--output")
    mask = MaskSettings(method=method)
    try:
        session = Session(list(inputs), outdir, plan_dir=plan_dir, report_dir=report_dir,
                          scan=ScanSettings(),
                          mask=mask, options=JobOptions(mask=mask, verify=not no_verify))
    except UsageError as exc:
        raise LineError(str(exc)) from exc
    for refused in session.refused:
        click.echo(f"veil: {refused.source}: {refused.error}", err=True)
    try:
        server = ReviewServer(session, port=port)
    except OSError as exc:
        raise LineError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    click.echo(server.url)
    have = sum(1 for it in session.items if it.plan_path.exists())
    click.echo(f"veil: reviewing {len(session.items)} file(s) ({have} with a plan already); "
               f"plans in {session.plan_dir}; report in {session.report_dir}; Ctrl-C to stop",
               err=True)
    session.start_scanning()
    if not no_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(server.url,)).start()
    try:
        server.serve_forever()  # until Ctrl-C (or SIGTERM)
    except KeyboardInterrupt:
        pass  # uvicorn raises Ctrl-C again once it has shut down: stopping is how it ends
    finally:
        # Stop cleanly: the scan in progress ends with its file, a render in progress
        # is finished (its output published or removed), so no partial file stays.
        session.stop_scanning()
        session.wait_for_renders()
    click.echo(f"veil: review stopped; every edit is saved in {session.plan_dir}", err=True)
