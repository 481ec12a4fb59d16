"""Verify veil's own output after a job, and repair it when a face is still visible.

``verify_and_repair`` is what every job runs unless verification is turned off:

1. verify the output against its original with the plan that made it;
2. if the residual-face check found faces outside the masked regions, add each of them
   to the plan (provenance ``detected``; the frame's ``note`` and the file's
   verdict's ``repair`` say it came from verification), render again from the plan
   (no new scan) onto the final name, atomically, and verify again;
3. at most ``rounds`` repair rounds. Adding regions never unmasks anything, so the
   last rendering is always at least as safe as the first one and is the one kept. If
   it still fails, the output stays (masked as well as veil could) and the entry says
   what remains and where; the job's exit status says it failed.

A masked face that can still be recognised (re-identification) is repaired too: that
region, and every region of its track in a video, is rendered with the strongest method,
``solid`` (``Region.method`` in the plan), and the output verified again. The blur's
noise is seeded (:mod:`veil.render.masks`), so an output either passes or is repaired
the same way every time: a default output never fails by chance. Metadata left in a file
is reported, never patched over.

When the plan was the user's own (``veil render`` of a saved, possibly edited plan), a
face the plan does not hold that verification finds visible is masked all the same (fail
closed), and said so: ``FileResult.extra["warnings"]`` (one line each, printed on stderr
by the command line) and the report entry's ``notes`` point to ``"released": true`` for
a face meant to stay visible.

For video, a face found in one sampled frame is most likely visible in the frames
around it that were not sampled, so its box (enlarged) is added to every frame up to
the next sampled frame on either side. The frames where the plan changes are sampled
in the next round (see :mod:`veil.verify.frames`), so a face still visible just beyond
the repaired span is found there and repaired in turn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veil.errors import VeilError
from veil.jobs.result import FileResult, PhaseProgress, Progress, Verdict
from veil.plan.record import Plan, Region
from veil.report.json_report import ReportEntry
from veil.verify.check import ResidualFace, Verification, verify_pair
from veil.verify.frames import SAMPLES_PER_SECOND

MAX_ROUNDS = 2
GROW = 0.25          # a repaired video box is enlarged by this share of its size per side
NOTE = "verify"      # FramePlan.note prefix of frames repaired after verification


@dataclass(frozen=True)
class RepairOptions:
    """How a repaired output is written (the same as the job that made it)."""

    keep_icc: bool = False
    quality: int = 95
    audio: bool = True
    crf: int = 20
    rounds: int = MAX_ROUNDS


def _plan_box(rf: ResidualFace, plan: Plan, out_size: tuple[int, int]) -> tuple[float, ...]:
    """A residual face's box (output pixels) in the plan's pixels."""
    w, h = out_size
    sx = plan.media.width / max(1, w)
    sy = plan.media.height / max(1, h)
    x1, y1, x2, y2 = rf.box
    return (x1 * sx, y1 * sy, x2 * sx, y2 * sy)


def _grown(box: tuple[float, ...], plan: Plan) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * GROW, (y2 - y1) * GROW
    return (max(0.0, x1 - dx), max(0.0, y1 - dy),
            min(float(plan.media.width), x2 + dx), min(float(plan.media.height), y2 + dy))


def _span(frame: int, plan: Plan) -> range:
    """Frames a residual face found in ``frame`` is added to (video: up to the next sample)."""
    if plan.media.kind != "video":
        return range(frame, frame + 1)
    fps = plan.media.fps or 25.0
    half = max(1, int(round(fps / SAMPLES_PER_SECOND)))
    last = max(0, plan.media.frame_count - 1) if plan.media.frame_count else frame + half
    return range(max(0, frame - half), min(last, frame + half) + 1)


def add_residual_faces(plan: Plan, faces: list[ResidualFace], out_size: tuple[int, int],
                       round_no: int) -> list[dict[str, Any]]:
    """Add the residual faces to ``plan`` (in place); return what was added, per face.

    ``out_size`` is the output's ``(width, height)``; boxes are converted to the plan's
    pixels. Frames masked whole are left alone (they already hide everything).
    """
    added: list[dict[str, Any]] = []
    for rf in faces:
        box = _plan_box(rf, plan, out_size)
        frames = _span(rf.frame, plan)
        for i in frames:
            fp = plan.frame(i)
            if fp.mask_whole:
                continue
            put = box if i == rf.frame else _grown(box, plan)
            plan.add_region(i, Region(tuple(put), score=rf.score,  # type: ignore[arg-type]
                                      provenance="detected"))
            fp = plan.frames[i]
            fp.note = f"{NOTE}: round {round_no} added a face found by {rf.detector}"
        added.append({"round": round_no, "frame": rf.frame, "frames": [frames.start,
                      frames.stop - 1], "box": [round(v, 1) for v in box],
                      "detector": rf.detector})
    return added


STRONGEST = "solid"


def strengthen_recognisable(plan: Plan, v: Verification, out_size: tuple[int, int],
                            round_no: int) -> list[dict[str, Any]]:
    """Give every region whose masked face was still recognisable the ``solid`` method
    (in place), with the other regions of its track; return what changed, per face.
    Regions that are already solid are left alone (nothing stronger exists)."""
    changed: list[dict[str, Any]] = []
    w, h = out_size
    sx, sy = plan.media.width / max(1, w), plan.media.height / max(1, h)
    for rr in v.reid:
        if not rr.reidentifiable or rr.region is None:
            continue
        active = plan.frame(rr.frame).active_regions()
        if rr.region >= len(active):
            continue
        region = active[rr.region]
        targets = [region]
        if region.track_id is not None:
            targets = [r for fp in plan.frames.values() for r in fp.active_regions()
                       if r.track_id == region.track_id]
        todo = [r for r in targets if (r.method or plan.mask.method) != STRONGEST]
        if not todo:
            continue
        for r in todo:
            r.method = STRONGEST
        x1, y1, x2, y2 = rr.box
        changed.append({"round": round_no, "frame": rr.frame, "track": region.track_id,
                        "box": [round(x1 * sx, 1), round(y1 * sy, 1), round(x2 * sx, 1),
                                round(y2 * sy, 1)],
                        "distance": round(rr.distance, 4), "method": STRONGEST,
                        "regions": len(todo)})
    return changed


def unplanned_note(added: list[dict[str, Any]], kind: str) -> str:
    """The one line that says faces outside the user's plan were masked (``added`` as
    :func:`add_residual_faces` returns it: one item per face per checked frame)."""
    first = added[0]
    b = first["box"]
    where = f"x {b[0]:.0f}-{b[2]:.0f}, y {b[1]:.0f}-{b[3]:.0f}"
    n = len(added)
    if kind == "video":
        seen = f"in {_count(n, 'checked frame')}, first in frame {first['frame']} at {where}"
        found = f"verification found a face visible {seen} that the plan does not hold"
        masked = "masked it there"
    else:
        found = (f"verification found {_count(n, 'visible face')} that the plan does not "
                 f"hold ({'first ' if n > 1 else ''}at {where})")
        masked = f"masked {'them' if n != 1 else 'it'}"
    return (f"{found} and {masked}; to leave a face visible on purpose, mark its region "
            '"released": true in the plan')


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _render(result: FileResult, plan: Plan, output: Path, opts: RepairOptions,
            progress: Progress | None = None) -> FileResult:
    if plan.media.kind == "video":
        from veil.jobs.video import render_video_plan

        return render_video_plan(result.source, plan, output, audio=opts.audio, crf=opts.crf,
                                 overwrite=True, progress=progress)
    from veil.jobs.image import render_image_plan

    return render_image_plan(result.source, plan, output, keep_icc=opts.keep_icc,
                             quality=opts.quality, overwrite=True)


def _output_size(v: Verification, plan: Plan) -> tuple[int, int]:
    return (v.output_size or (plan.media.width, plan.media.height))


def _phase(phases: PhaseProgress | None, label: str) -> Progress | None:
    if phases is None:
        return None
    return lambda done, total: phases(label, done, total)


def verify_and_repair(result: FileResult, opts: RepairOptions | None = None, *,
                      phases: PhaseProgress | None = None, user_plan: bool = False
                      ) -> tuple[FileResult, ReportEntry | None]:
    """Verify a finished job's output, repair residual faces, and record the outcome.

    Returns ``(result, entry)``: ``result.verification`` holds the :class:`Verdict` and
    ``entry`` the :class:`ReportEntry` for the report. The plan is taken from
    ``result.plan`` or loaded from ``result.plan_path``; when repaired, the plan file is
    saved again. A failed job is returned unchanged, with no entry. Never raises for a
    per-file problem: a verification that cannot run leaves an entry with the error.
    ``phases(label, done, total)`` reports the frames of a video as they are verified
    (and re-rendered by a repair round). ``user_plan``: the plan is the user's own
    (``veil render``; also assumed for a plan read from a file), so a face verification
    adds to it is said so in a warning.
    """
    opts = opts or RepairOptions()
    if not result.ok or result.output is None:
        return result, None
    t0 = time.perf_counter()
    timings = {"job": result.seconds}
    plan = result.plan
    user_plan = user_plan or (plan is not None and plan.loaded_from is not None)
    try:
        if plan is None and result.plan_path is not None:
            plan = Plan.load(result.plan_path)
    except (OSError, ValueError) as exc:
        plan = None
        result.extra["plan_error"] = str(exc)
    output = Path(result.output)
    repair: dict[str, Any] = {"rounds": 0, "added": [], "strengthened": [],
                              "repaired": False}
    try:
        frames = " frames" if result.kind == "video" else ""
        v = verify_pair(result.source, output, plan,
                        progress=_phase(phases, f"verifying{frames}"))
        while plan is not None and repair["rounds"] < opts.rounds:
            size = _output_size(v, plan)
            stronger = strengthen_recognisable(plan, v, size, repair["rounds"] + 1)
            if not v.residual_faces and not stronger:
                break
            repair["rounds"] += 1
            repair["strengthened"] += stronger
            repair["added"] += add_residual_faces(plan, v.residual_faces, size,
                                                  repair["rounds"])
            t1 = time.perf_counter()
            again = _render(result, plan, output, opts,
                            _phase(phases, f"repair {repair['rounds']}: rendering{frames}"))
            timings["repair_render"] = timings.get("repair_render", 0.0) + \
                time.perf_counter() - t1
            if not again.ok:
                raise VeilError(f"repair failed: {again.error}")
            result.faces = again.faces
            if result.plan_path is not None:
                plan.save(result.plan_path)
            v = verify_pair(result.source, output, plan, progress=_phase(
                phases, f"repair {repair['rounds']}: verifying{frames}"))
        repair["repaired"] = (repair["rounds"] > 0 and not v.residual_faces
                              and not any(r.reidentifiable for r in v.reid))
        repair["remaining"] = [rf.to_dict() for rf in v.residual_faces]
    except (VeilError, OSError, ValueError, RuntimeError) as exc:
        # RuntimeError: dlib failures and RecognitionUnavailable (a broken install).
        text = " ".join(str(exc).split()) or type(exc).__name__
        entry = ReportEntry.for_files(result.source, output, plan=plan, timings=timings,
                                      error=f"verification could not run: {text}")
        entry.repair = repair
        result.verification = Verdict(passed=False, error=entry.error, repair=repair)
        return result, entry
    timings["verify"] = time.perf_counter() - t0 - timings.get("repair_render", 0.0)
    if plan is not None and plan.media.kind == "image":
        result.plan = plan
    entry = ReportEntry.for_files(result.source, output, kind=v.kind, plan=plan,
                                  verification=v, timings=timings)
    entry.repair = repair
    if user_plan and repair["added"] and plan is not None:
        note = unplanned_note(repair["added"], plan.media.kind)
        entry.notes.append(note)
        result.extra.setdefault("warnings", []).append(note)
    result.verification = Verdict(passed=v.passed, verification=v, repair=repair)
    return result, entry

