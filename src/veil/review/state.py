"""The files of one review session, their plans, and every edit.

Files are known by their position in the list (``id``), never by a path from a request.
Every edit changes the plan in memory, is checked by :func:`veil.plan.schema.check_plan`
and saved at once (atomically), so an interrupted session loses nothing. Who did what is
recorded in the plan itself (docs/plan-format.md): a face kept visible is ``released``
with its ``reason`` and ``edited_at``; a region deleted by hand stays in the plan with
provenance ``deleted`` (a record, never masked) and ``edited_at``; a region drawn or
moved by hand is ``manual`` / carries ``edited_at``. No side file is written.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from veil.errors import UsageError, VeilError
from veil.jobs.batch import (
    PLAN_SUFFIX,
    JobOptions,
    collect_tasks,
    default_plan_dir,
    default_report_dir,
    side_folder,
)
from veil.jobs.pipeline import Outcome, unverified_entry
from veil.jobs.result import FileResult
from veil.plan.record import Plan, PlanError, Region
from veil.plan.schema import check_plan
from veil.report.json_report import ReportEntry
from veil.review import pipeline
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings

if TYPE_CHECKING:
    import numpy as np

    from veil.review.frames import FrameSource

State = Literal["waiting", "scanning", "scanned", "edited", "rendering", "verified",
                "failed", "rendered", "error"]
#: Every change of a file's row (state, progress, verdict, an edit) takes the next number
#: of this clock, so the page asks only for the rows changed since the last it saw.
_clock = itertools.count(1)
_clock_lock = threading.Lock()
_last_tick = 0


def _tick() -> int:
    global _last_tick
    with _clock_lock:
        _last_tick = next(_clock)
        return _last_tick


def current_version() -> int:
    """The number of the latest change of any file's row."""
    return _last_tick
#: Fields of :class:`Item` whose change shows in the file list.
_LISTED = frozenset({"state", "error", "plan", "progress", "verdict", "written"})


class EditError(VeilError):
    """An edit the plan cannot take (bad box, no such region): the page shows the message."""


@dataclass
class Item:
    """One file under review."""

    id: int
    source: Path
    kind: Literal["image", "video"]
    output: Path
    plan_path: Path
    name: str  # its path under the output folder, for the list
    state: State = "waiting"
    error: str | None = None
    plan: Plan | None = None
    progress: tuple[int, int | None] | None = None
    verdict: dict[str, Any] | None = None
    written: Path | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    frames: Any = field(default=None, repr=False)  # FrameSource of a video, made when needed
    version: int = 0  # the clock's number at this row's last change
    _memo: dict[str, tuple[int, Any]] = field(default_factory=dict, repr=False)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _LISTED:
            object.__setattr__(self, "version", _tick())

    def touch(self) -> None:
        """Mark the row changed (an edit inside the plan)."""
        self.version = _tick()

    def memo(self, key: str, make: Any) -> Any:
        """``make()``, remembered until this file next changes (:attr:`version`): what
        walks the whole plan (counts, a video's track list) is not redone for every frame
        the page shows. Every change of the plan ends with :meth:`touch` or a new plan."""
        version = self.version  # read first: a change meanwhile makes the result stale
        hit = self._memo.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = make()
        self._memo[key] = (version, value)
        return value

    def counts(self) -> dict[str, int]:
        """Regions by provenance, and released ones (``released`` counts apart)."""
        return dict(self.memo("counts", self._counts))

    def _counts(self) -> dict[str, int]:
        counts = {"detected": 0, "interpolated": 0, "extended": 0, "manual": 0, "released": 0,
                  "deleted": 0}
        if self.plan is None:
            return counts
        for fp in list(self.plan.frames.values()):  # a copy: an edit may run meanwhile
            for r in list(fp.regions):
                counts["released" if r.released and r.provenance != "deleted"
                       else r.provenance] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "name": self.name, "kind": self.kind,
                             "state": self.state, "error": self.error,
                             "counts": self.counts(), "verdict": self.verdict,
                             "version": self.version}
        if self.progress is not None:
            d["progress"] = list(self.progress)
        if self.plan is not None:
            d["width"], d["height"] = self.plan.media.width, self.plan.media.height
            d["frame_count"] = self.plan.media.frame_count
            d["fps"] = self.plan.media.fps
        return d


def _symlink_escapes(inputs: list[Path]) -> set[Path]:
    """Files inside the given folders that are links to somewhere outside them."""
    out: set[Path] = set()
    for folder in inputs:
        if not folder.is_dir():
            continue
        root = folder.resolve()
        for here, _dirs, files in os.walk(folder):
            for name in files:
                p = Path(here) / name
                if p.is_symlink() and root not in p.resolve().parents:
                    out.add(p)
    return out


def session_report_dir(outdir: Path) -> Path:
    """Where a session's report goes when no ``--report`` is given: the command line's
    ``<OUTDIR>.veil/report``, unless that holds the report of an earlier run (the only
    record of what it did, never replaced): then ``<OUTDIR>.veil/reviews/<UTC time>``."""
    folder = default_report_dir(outdir)
    if not (folder / "report.json").exists():
        return folder
    return side_folder(outdir) / "reviews" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _output_folders(inputs: list[Path]) -> list[Path]:
    """Inputs that are output folders of veil (a ``<FOLDER>.veil/plans`` beside them)."""
    return [p for p in inputs if p.is_dir() and (side_folder(p) / "plans").is_dir()]


class Session:
    """The files of ``veil review``, their plans and renders. Thread-safe."""

    def __init__(self, inputs: list[Path], outdir: Path, *, plan_dir: Path | None = None,
                 report_dir: Path | None = None, scan: ScanSettings | None = None,
                 mask: MaskSettings | None = None, options: JobOptions | None = None,
                 scanner: Scanner | None = None) -> None:
        self.outdir = Path(outdir)
        self.plan_dir = Path(plan_dir) if plan_dir is not None else default_plan_dir(outdir)
        self.report_dir = (Path(report_dir) if report_dir is not None
                           else session_report_dir(outdir))
        outputs = _output_folders([Path(p) for p in inputs])
        if outputs:
            # A plan names its original only by file name (media.name) and SHA-256, not by
            # where it lies, so the originals cannot be found from an output folder.
            out = outputs[0]
            raise UsageError(f"{out} is an output folder of veil (its plans are in "
                             f"{side_folder(out) / 'plans'}); a plan does not say where its "
                             f"original is: give the originals, with -o {out}, to review "
                             "them with these plans")
        self.scan = scan or ScanSettings()
        self.mask = mask or MaskSettings()
        self.options = replace(options or JobOptions(verify=True), overwrite=True)
        self.scanner = scanner
        self._scan_lock = threading.Lock()    # one scan or tracker at a time (one model)
        self._queue_lock = threading.Lock()
        self._wanted: list[int] = []          # files the page asked for, scanned first
        self._scan_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._render_lock = threading.Lock()  # one render at a time
        self._entries: dict[int, Any] = {}     # report entries of the files rendered
        self._frames_lock = threading.Lock()
        self._recent_videos: list[int] = []   # videos whose frames were asked for, last last
        escapes = _symlink_escapes([Path(p) for p in inputs])
        collected = collect_tasks(inputs, self.outdir, plan_dir=self.plan_dir,
                                  overwrite=True)
        self.refused: list[FileResult] = [o.result for o in collected.failures]
        self.items: list[Item] = []
        for task in collected.tasks:
            if task.source in escapes:
                self.refused.append(FileResult(source=task.source,
                                               error="a link to outside the folder"))
                continue
            assert task.plan_path is not None
            name = task.output.relative_to(self.outdir).as_posix()
            self.items.append(Item(id=len(self.items), source=task.source, kind=task.kind,
                                   output=task.output, plan_path=task.plan_path, name=name))
        if not self.items:
            raise UsageError("no photo or video to review in the inputs given")

    # ------------------------------------------------------------------ files and plans

    def item(self, file_id: int) -> Item:
        if not 0 <= file_id < len(self.items):
            raise KeyError(file_id)
        return self.items[file_id]

    def _scanner(self) -> Scanner:
        if self.scanner is None:
            from veil.jobs.image import shared_scanner

            self.scanner = shared_scanner(self.scan)
        return self.scanner

    def ensure_plan(self, item: Item) -> Plan:
        """The plan of ``item``: loaded from its plan file, or made by a scan and saved."""
        plan = item.plan
        if plan is not None:  # no lock: a follow or an edit of this file may hold it
            return plan
        with item.lock:
            if item.plan is not None:
                return item.plan
            try:
                if item.plan_path.exists():
                    plan = Plan.load(item.plan_path)
                    plan.require_source(item.source, item.kind)
                    item.state = "edited" if _edited(plan) else "scanned"
                else:
                    item.state = "scanning"
                    with self._scan_lock:
                        plan = self._scan(item)
                    plan.save(item.plan_path)
                    item.state = "scanned"
            except (VeilError, OSError, ValueError, KeyError) as exc:
                item.state, item.error = "error", _one_line(exc)
                raise EditError(item.error) from exc
            finally:
                item.progress = None
            item.plan, item.error = plan, None
            return plan

    def pending(self, item: Item) -> bool:
        """Whether ``item`` still needs a scan (no plan in memory nor on disk); asking
        moves it to the front of the background scan's queue."""
        if item.plan is not None or item.state == "error" or item.plan_path.exists():
            return False
        with self._queue_lock:
            if item.id not in self._wanted:
                self._wanted.append(item.id)
        self.start_scanning()
        return True

    def start_scanning(self, stop: threading.Event | None = None) -> threading.Thread:
        """Run :meth:`scan_all` in a background thread, unless one runs already."""
        with self._queue_lock:
            thread = self._scan_thread
            if thread is None or not thread.is_alive():
                thread = threading.Thread(target=self.scan_all, args=(stop or self._stop,),
                                          daemon=True, name="veil-review-scan")
                self._scan_thread = thread
                thread.start()
            return thread

    def stop_scanning(self) -> None:
        """Stop the background scan after the file it is on (its plan is saved whole)."""
        self._stop.set()
        thread = self._scan_thread
        if thread is not None:
            thread.join()

    def _scan(self, item: Item) -> Plan:
        if item.kind == "video":
            def progress(done: int, total: int | None) -> None:
                item.progress = (done, total)

            return pipeline.scan_video_plan(item.source, scan=self.scan, mask=self.mask,
                                            scanner=self._scanner(), progress=progress)
        return pipeline.scan_image_plan(item.source, scan=self.scan, mask=self.mask,
                                        scanner=self._scanner())

    def _next_to_scan(self, start: int) -> tuple[Item | None, int]:
        with self._queue_lock:
            while self._wanted:
                wanted = self.items[self._wanted.pop(0)]
                if wanted.plan is None and wanted.state != "error":
                    return wanted, start
        for i in range(start, len(self.items)):
            if self.items[i].plan is None and self.items[i].state != "error":
                return self.items[i], i + 1
        return None, len(self.items)

    def scan_all(self, stop: threading.Event | None = None) -> None:
        """Make the plans of every file that has none, in list order, but a file the page
        asks for first (:meth:`pending`); run in a thread of its own, so that no request
        waits for it."""
        cursor = 0
        while stop is None or not stop.is_set():
            item, cursor = self._next_to_scan(cursor)
            if item is None:
                return
            try:
                self.ensure_plan(item)
            except EditError:
                continue

    #: videos whose decoder and cache of recent frames stay open; an older one is closed
    #: (its memory freed; it reopens if asked again), so going through a folder of videos
    #: does not hold every one of them in memory
    OPEN_VIDEOS = 2

    def frames(self, item: Item) -> FrameSource:
        from veil.review.frames import FrameSource

        with item.lock:
            if item.frames is None:
                item.frames = FrameSource(item.source)
            source = item.frames
        closing = []
        with self._frames_lock:
            recent = self._recent_videos
            if recent[-1:] != [item.id]:
                if item.id in recent:
                    recent.remove(item.id)
                recent.append(item.id)
                while len(recent) > self.OPEN_VIDEOS:
                    closing.append(self.items[recent.pop(0)].frames)
        for old in closing:  # outside the lock: a decode in progress there may take a while
            if old is not None:
                old.close()
        return source

    def original_pixels(self, item: Item, frame: int = 0) -> np.ndarray:
        """Upright RGB pixels of the original (a video's frame ``frame``), in memory."""
        if item.kind == "video":
            return self.frames(item).frame(frame)
        from veil.media.images import read_image

        return read_image(item.source).pixels

    # ------------------------------------------------------------------ edits

    def _save(self, item: Item) -> None:
        """Check the edited plan (:func:`veil.plan.schema.check_plan`) and save it at once
        (atomically). A plan the check refuses is not saved: the last saved one is read
        back, and the edit is refused with the check's message."""
        assert item.plan is not None
        data = item.plan.to_dict()
        try:
            check_plan(data)
        except PlanError as exc:
            item.plan = Plan.load(item.plan_path)
            raise EditError(f"the edit would make the plan invalid: {exc}") from exc
        # the document just checked is the one written (as Plan.save writes it): a long
        # video's plan is turned into JSON once per edit, not twice
        import json

        from veil.media.atomic import atomic_path

        with atomic_path(item.plan_path) as tmp:
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        if item.state not in ("rendering",):
            item.state = "edited"
        item.verdict = None
        item.touch()

    def _box(self, item: Item, raw: Any) -> tuple[float, float, float, float]:
        """A box from the page, checked: four finite numbers, x1 < x2, y1 < y2, clipped to
        the picture, and at least 2 px each way after clipping."""
        plan = item.plan
        assert plan is not None
        try:
            x1, y1, x2, y2 = (float(v) for v in raw)
        except (TypeError, ValueError) as exc:
            raise EditError("a box is four numbers: x1, y1, x2, y2") from exc
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            raise EditError("a box must hold finite numbers")
        if x2 <= x1 or y2 <= y1:
            raise EditError("a box needs x1 < x2 and y1 < y2")
        w, h = plan.media.width, plan.media.height
        x1, x2 = min(max(x1, 0.0), w), min(max(x2, 0.0), w)
        y1, y2 = min(max(y1, 0.0), h), min(max(y2, 0.0), h)
        if x2 - x1 < 2 or y2 - y1 < 2:
            raise EditError("the box lies outside the picture")
        return (round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2))

    def _frame_index(self, item: Item, frame: Any) -> int:
        plan = item.plan
        assert plan is not None
        try:
            index = int(frame)
        except (TypeError, ValueError) as exc:
            raise EditError("a frame is a whole number") from exc
        if not 0 <= index < max(plan.media.frame_count, 1):
            raise EditError(f"no frame {index} in this file")
        return index

    def _region(self, item: Item, frame: int, index: int) -> Region:
        plan = item.plan
        assert plan is not None
        regions = plan.frame(frame).regions
        if not 0 <= index < len(regions):
            raise EditError(f"no region {index} in frame {frame}")
        if regions[index].provenance == "deleted":
            raise EditError(f"region {index} of frame {frame} was deleted")
        return regions[index]

    def add_region(self, item: Item, frame: Any, box: Any) -> None:
        """A region drawn by hand: provenance ``manual``, with the time."""
        with item.lock:
            self.ensure_plan(item)
            f = self._frame_index(item, frame)
            b = self._box(item, box)
            assert item.plan is not None
            item.plan.add_region(f, Region(box=b, score=1.0, provenance="manual",
                                           edited_at=_now()))
            self._save(item)

    def change_region(self, item: Item, frame: Any, index: int, *, box: Any = None,
                      released: bool | None = None, reason: str | None = None) -> None:
        """Move or resize a region, or keep it visible (``released``, with the reason) or
        mask it again; the region records the time (``edited_at``)."""
        with item.lock:
            self.ensure_plan(item)
            f = self._frame_index(item, frame)
            region = self._region(item, f, index)
            if box is None and released is None:
                raise EditError("nothing to change")
            new = self._box(item, box) if box is not None else region.box
            region.box = new
            if released is not None:
                _release(region, bool(released), reason)
            region.edited_at = _now()
            self._save(item)

    def delete_region(self, item: Item, frame: Any, index: int,
                      reason: str | None = None) -> None:
        """Delete a region by hand: it stays in the plan as provenance ``deleted`` (a
        record of what a person removed, never masked), with the time."""
        with item.lock:
            self.ensure_plan(item)
            f = self._frame_index(item, frame)
            _delete(self._region(item, f, index), reason, _now())
            self._save(item)

    def _track_regions(self, item: Item, track: Any, from_frame: int = 0,
                       to_frame: int | None = None) -> list[tuple[int, Region]]:
        """The regions of ``track`` (not deleted) in frames ``from_frame..to_frame``."""
        assert item.plan is not None
        try:
            track = int(track)
        except (TypeError, ValueError) as exc:
            raise EditError("a track is a whole number") from exc
        last = to_frame if to_frame is not None else math.inf
        found = [(f, r) for f, fp in sorted(item.plan.frames.items())
                 if from_frame <= f <= last
                 for r in fp.regions if r.track_id == track and r.provenance != "deleted"]
        if not found:
            raise EditError(f"no track {track}" + (f" from frame {from_frame} on"
                                                   if from_frame else ""))
        return found

    def _new_track_id(self, item: Item) -> int:
        assert item.plan is not None
        return 1 + max((r.track_id for fp in item.plan.frames.values() for r in fp.regions
                        if r.track_id is not None), default=-1)

    def change_track(self, item: Item, track: int, *, released: bool,
                     reason: str | None = None, from_frame: int = 0) -> None:
        """Release (keep visible) or mask again every region of a track, from a frame on."""
        with item.lock:
            self.ensure_plan(item)
            now = _now()
            for _f, r in self._track_regions(item, track, from_frame):
                _release(r, bool(released), reason)
                r.edited_at = now
            self._save(item)

    def delete_track(self, item: Item, track: int, from_frame: int = 0,
                     reason: str | None = None) -> None:
        """Delete every region of a track (from a frame on): provenance ``deleted``."""
        with item.lock:
            self.ensure_plan(item)
            now = _now()
            for _f, r in self._track_regions(item, track, from_frame):
                _delete(r, reason, now)
            self._save(item)

    def cut_track(self, item: Item, track: Any, frame: Any) -> None:
        """End a track at ``frame``: its regions after that frame are deleted (kept as
        provenance ``deleted``)."""
        with item.lock:
            self.ensure_plan(item)
            f = self._frame_index(item, frame)
            self._track_regions(item, track)  # the track exists
            try:
                after = self._track_regions(item, track, f + 1)
            except EditError:
                raise EditError(f"track {track} ends at frame {f} or before: nothing to "
                                "cut") from None
            now = _now()
            for _f, r in after:
                _delete(r, "cut", now)
            self._save(item)

    def split_track(self, item: Item, track: Any, frame: Any) -> int:
        """Split a track in two at ``frame``: its regions from that frame on become a new
        track. Returns the new track's number."""
        with item.lock:
            self.ensure_plan(item)
            f = self._frame_index(item, frame)
            whole = self._track_regions(item, track)
            tail = [(g, r) for g, r in whole if g >= f]
            if not tail or len(tail) == len(whole):
                raise EditError(f"track {track} does not go on both sides of frame {f}: "
                                "split it at a frame after its first one")
            new, now = self._new_track_id(item), _now()
            assert item.plan is not None
            for g, fp in item.plan.frames.items():  # its deleted regions follow too
                if g >= f:
                    for r in fp.regions:
                        if r.track_id == int(track):
                            r.track_id, r.edited_at = new, now
            self._save(item)
            return new

    def merge_tracks(self, item: Item, first: Any, second: Any) -> int:
        """Merge two tracks into one (the lower number). Refused when both have a region
        in the same frame: a track is one face, one box a frame. Returns the track kept."""
        with item.lock:
            self.ensure_plan(item)
            a, b = self._track_regions(item, first), self._track_regions(item, second)
            ta, tb = a[0][1].track_id, b[0][1].track_id
            assert ta is not None and tb is not None  # _track_regions matched them by number
            if ta == tb:
                raise EditError("select two different tracks to merge")
            shared = sorted({f for f, _ in a} & {f for f, _ in b})
            if shared:
                raise EditError(f"tracks {ta} and {tb} both have a region in frame "
                                f"{shared[0]}" + (f" (and {len(shared) - 1} more)"
                                                  if len(shared) > 1 else "")
                                + ": cut one of them first")
            keep, gone = min(ta, tb), max(ta, tb)
            now = _now()
            assert item.plan is not None
            for fp in item.plan.frames.values():
                for r in fp.regions:
                    if r.track_id == gone:
                        r.track_id, r.edited_at = keep, now
            self._save(item)
            return int(keep)

    def follow(self, item: Item, frame: Any, box: Any) -> int:
        """A region drawn on one video frame becomes a new track that follows the face
        backwards and forwards from that frame (:mod:`veil.review.follow`). Returns the
        track's number. The tracking runs without holding the file: the page can show its
        frames meanwhile."""
        from veil.review.follow import follow_both
        from veil.scan.scanner import Scanner

        plan = self.ensure_plan(item)
        if item.kind != "video":
            raise EditError("only a video region can follow a face")
        f = self._frame_index(item, frame)
        b = self._box(item, box)
        source = self.frames(item)
        # the detector re-seeds the tracker where it agrees: one pass on a small window
        base = self._scanner()
        near = Scanner(ScanSettings.fast(threshold=self.scan.threshold),
                       detector=base.detector)
        with self._scan_lock:
            path = follow_both(source.frame, f, b, plan.media.frame_count, detect=near.scan)
        with item.lock:
            track, now = self._new_track_id(item), _now()
            for step in path:
                plan.add_region(step.frame, Region(box=step.box, score=1.0,
                                                   provenance="manual", track_id=track,
                                                   edited_at=now))
            self._save(item)
            return track

    # ------------------------------------------------------------------ render

    def render(self, item: Item) -> FileResult:
        """Render the plan as ``veil render`` would, verify it, and write the report of
        every file rendered in this session."""
        plan = self.ensure_plan(item)
        with self._render_lock:
            item.state, item.verdict, item.progress = "rendering", None, None

            def progress(done: int, total: int | None) -> None:
                item.progress = (done, total)

            outcome: Outcome | None = None
            try:
                outcome = pipeline.render_plan(plan, item.source, item.output, self.options,
                                               progress=progress)
                result = outcome.result
            except Exception as exc:  # noqa: BLE001 - shown on the page, the server goes on
                result = FileResult(source=item.source, kind=item.kind,
                                    error=f"internal error: {_one_line(exc)}")
            item.progress = None
            item.written = result.output
            item.verdict = _verdict(result)
            if not result.ok:
                item.state, item.error = "error", result.error
            elif result.verification is None:
                item.state = "rendered"
            else:
                item.state = "verified" if result.verification.passed else "failed"
            self._write_report(item, outcome.report_entry() if outcome is not None
                               else unverified_entry(result))
            return result

    def _write_report(self, item: Item, entry: ReportEntry) -> None:
        from veil.jobs.image import tool_name
        from veil.report.json_report import write_report

        self._entries[item.id] = entry
        entries = [self._entries[k] for k in sorted(self._entries)]
        settings = {"mask": self.mask.to_dict(), "review": True}
        try:
            write_report(entries, self.report_dir, settings=settings,
                         tool_version=tool_name().removeprefix("veil ").strip())
            item.verdict = {**(item.verdict or {}), "report": True}
        except OSError as exc:
            item.verdict = {**(item.verdict or {}), "report_error": _one_line(exc)}

    def wait_for_renders(self) -> None:
        """Return once no render is running (used when the server stops)."""
        with self._render_lock:
            pass

    def report_html(self) -> bytes | None:
        path = self.report_dir / "report.html"
        return path.read_bytes() if self._entries and path.is_file() else None


def _verdict(result: FileResult) -> dict[str, Any]:
    ver = result.verification.to_dict() if result.verification is not None else {}
    d: dict[str, Any] = {"ok": result.ok, "error": result.error,
                         "output": result.output.name if result.output else None,
                         "verified": result.verification is not None,
                         "passed": bool(ver.get("passed")), "regions": result.faces}
    if ver:
        d["checks"] = ver.get("checks", {})
        d["reasons"] = list(ver.get("reasons", []))[:5]
        repair = ver.get("repair") or {}
        d["repaired"] = len(repair.get("added", []))
        if ver.get("error"):
            d["error"] = ver["error"]
    return d


def _reason(text: str | None) -> str | None:
    """A reason as typed on the page: one line, at most 500 characters, None when empty."""
    return " ".join(str(text or "").split())[:500] or None


def _release(region: Region, released: bool, reason: str | None) -> None:
    region.released = released
    region.reason = _reason(reason) if released else None


def _delete(region: Region, reason: str | None, now: str) -> None:
    region.provenance = "deleted"
    region.released = False
    region.reason = _reason(reason)
    region.edited_at = now


def _edited(plan: Plan) -> bool:
    """Whether a person has edited the plan (a region carries ``edited_at``)."""
    return any(r.edited_at for fp in plan.frames.values() for r in fp.regions)


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text


def _now() -> str:
    """The time of an edit, ISO 8601 in UTC to the second (``edited_at``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


__all__ = ["EditError", "Item", "Session", "current_version", "default_plan_dir",
           "default_report_dir", "session_report_dir", "PLAN_SUFFIX"]
