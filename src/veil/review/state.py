"""The files of one review session, their plans, and every edit.

Files are known by their position in the list (``id``), never by a path from a request.
Every edit changes the plan in memory and saves it at once (atomically), so an
interrupted session loses nothing. What a plan cannot hold yet (the reason a face was
kept visible, the regions deleted by hand and when) is kept beside the plan in
``<plan>.review.json`` (the edit log); see the README's review section.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from veil.errors import UsageError, VeilError
from veil.jobs.batch import PLAN_SUFFIX, JobOptions, collect_tasks
from veil.jobs.result import FileResult
from veil.media.atomic import atomic_path
from veil.plan.record import Plan, Region
from veil.review import pipeline
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings

State = Literal["waiting", "scanning", "scanned", "edited", "rendering", "verified",
                "failed", "rendered", "error"]
EDIT_LOG_SUFFIX = ".review.json"


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

    @property
    def log_path(self) -> Path:
        return self.plan_path.with_name(self.plan_path.name + EDIT_LOG_SUFFIX)

    def counts(self) -> dict[str, int]:
        """Regions by provenance, and released ones (``released`` counts apart)."""
        counts = {"detected": 0, "interpolated": 0, "extended": 0, "manual": 0, "released": 0}
        if self.plan is None:
            return counts
        for fp in list(self.plan.frames.values()):  # a copy: an edit may run meanwhile
            for r in list(fp.regions):
                counts["released" if r.released else r.provenance] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "name": self.name, "kind": self.kind,
                             "state": self.state, "error": self.error,
                             "counts": self.counts(), "verdict": self.verdict}
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


def default_plan_dir(outdir: Path) -> Path:
    """Plans of a review session, when no ``--plan-dir`` is given: ``<OUTDIR>-plans``,
    beside the output folder (never inside it: the output folder is what gets published)."""
    outdir = Path(outdir)
    return outdir.with_name(outdir.name + "-plans")


class Session:
    """The files of ``veil review``, their plans and renders. Thread-safe."""

    def __init__(self, inputs: list[Path], outdir: Path, *, plan_dir: Path | None = None,
                 report_dir: Path | None = None, scan: ScanSettings | None = None,
                 mask: MaskSettings | None = None, options: JobOptions | None = None,
                 scanner: Scanner | None = None) -> None:
        self.outdir = Path(outdir)
        self.plan_dir = Path(plan_dir) if plan_dir is not None else default_plan_dir(outdir)
        self.report_dir = Path(report_dir) if report_dir else self.plan_dir / "veil-report"
        self.scan = scan or ScanSettings()
        self.mask = mask or MaskSettings()
        self.options = replace(options or JobOptions(verify=True), overwrite=True)
        self.scanner = scanner
        self._scan_lock = threading.Lock()    # one scan or tracker at a time (one model)
        self._render_lock = threading.Lock()  # one render at a time
        self._entries: dict[int, Any] = {}     # report entries of the files rendered
        escapes = _symlink_escapes([Path(p) for p in inputs])
        collected = collect_tasks(inputs, self.outdir, plan_dir=self.plan_dir,
                                  overwrite=True)
        self.refused: list[FileResult] = list(collected.failures)
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
        with item.lock:
            if item.plan is not None:
                return item.plan
            try:
                if item.plan_path.exists():
                    plan = Plan.load(item.plan_path)
                    plan.require_source(item.source, item.kind)
                    item.state = "edited" if item.log_path.exists() else "scanned"
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

    def _scan(self, item: Item) -> Plan:
        if item.kind == "video":
            def progress(done: int, total: int | None) -> None:
                item.progress = (done, total)

            return pipeline.scan_video_plan(item.source, scan=self.scan, mask=self.mask,
                                            scanner=self._scanner(), progress=progress)
        return pipeline.scan_image_plan(item.source, scan=self.scan, mask=self.mask,
                                        scanner=self._scanner())

    def scan_all(self, stop: threading.Event | None = None) -> None:
        """Make the plans of every file that has none (in list order; run in a thread)."""
        for item in self.items:
            if stop is not None and stop.is_set():
                return
            try:
                self.ensure_plan(item)
            except EditError:
                continue

    def frames(self, item: Item):  # noqa: ANN201 - a FrameSource
        from veil.review.frames import FrameSource

        with item.lock:
            if item.frames is None:
                item.frames = FrameSource(item.source)
            return item.frames

    def original_pixels(self, item: Item, frame: int = 0):  # noqa: ANN201 - np.ndarray
        """Upright RGB pixels of the original (a video's frame ``frame``), in memory."""
        if item.kind == "video":
            return self.frames(item).frame(frame)
        from veil.media.images import read_image

        return read_image(item.source).pixels

    # ------------------------------------------------------------------ edits

    def _save(self, item: Item, action: dict[str, Any]) -> None:
        """Save the plan and append ``action`` to the edit log (both atomically)."""
        assert item.plan is not None
        item.plan.save(item.plan_path)
        log = read_edit_log(item.log_path)
        log.append({"at": _now(), **action})
        with atomic_path(item.log_path) as tmp:
            tmp.write_text(json.dumps({"format": "veil-review-log/1", "edits": log},
                                      indent=1), encoding="utf-8")
        if item.state not in ("rendering",):
            item.state = "edited"
        item.verdict = None

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
        return regions[index]

    def add_region(self, item: Item, frame: Any, box: Any) -> None:
        with item.lock:
            self.ensure_plan(item)
            f = self._frame_index(item, frame)
            b = self._box(item, box)
            assert item.plan is not None
            item.plan.add_region(f, Region(box=b, score=1.0, provenance="manual"))
            self._save(item, {"action": "add", "frame": f, "box": list(b)})

    def change_region(self, item: Item, frame: Any, index: int, *, box: Any = None,
                      released: bool | None = None, reason: str | None = None) -> None:
        with item.lock:
            self.ensure_plan(item)
            f = self._frame_index(item, frame)
            region = self._region(item, f, index)
            action: dict[str, Any] = {"frame": f, "box": list(region.box)}
            if box is not None:
                new = self._box(item, box)
                action.update(action="move", to=list(new))
                region.box = new
            if released is not None:
                region.released = bool(released)
                action.update(action="release" if released else "mask")
                if released:
                    action["reason"] = _reason(reason)
            if "action" not in action:
                raise EditError("nothing to change")
            if region.track_id is not None:
                action["track"] = region.track_id
            self._save(item, action)

    def delete_region(self, item: Item, frame: Any, index: int) -> None:
        with item.lock:
            self.ensure_plan(item)
            f = self._frame_index(item, frame)
            region = self._region(item, f, index)
            assert item.plan is not None
            item.plan.frames[f].regions.pop(index)
            self._save(item, {"action": "delete", "frame": f, "box": list(region.box),
                              "provenance": region.provenance, "track": region.track_id})

    def _track_regions(self, item: Item, track: int, from_frame: int
                       ) -> list[tuple[int, Region]]:
        assert item.plan is not None
        found = [(f, r) for f, fp in sorted(item.plan.frames.items()) if f >= from_frame
                 for r in fp.regions if r.track_id == track]
        if not found:
            raise EditError(f"no track {track}" + (f" from frame {from_frame} on"
                                                   if from_frame else ""))
        return found

    def change_track(self, item: Item, track: int, *, released: bool,
                     reason: str | None = None, from_frame: int = 0) -> None:
        """Release (keep visible) or mask again every region of a track, from a frame on."""
        with item.lock:
            self.ensure_plan(item)
            found = self._track_regions(item, track, from_frame)
            for _f, r in found:
                r.released = bool(released)
            action: dict[str, Any] = {"action": "release" if released else "mask",
                                      "track": track, "frames": [found[0][0], found[-1][0]]}
            if released:
                action["reason"] = _reason(reason)
            self._save(item, action)

    def delete_track(self, item: Item, track: int, from_frame: int = 0) -> None:
        """Delete every region of a track (from a frame on)."""
        with item.lock:
            self.ensure_plan(item)
            found = self._track_regions(item, track, from_frame)
            assert item.plan is not None
            for f, r in found:
                item.plan.frames[f].regions.remove(r)
            self._save(item, {"action": "delete", "track": track,
                              "frames": [found[0][0], found[-1][0]], "regions": len(found)})

    def follow(self, item: Item, frame: Any, box: Any) -> int:
        """A region drawn on one video frame becomes a new track that follows the face
        from that frame on (:mod:`veil.review.follow`). Returns the track's number."""
        from veil.review.follow import follow
        from veil.scan.scanner import Scanner

        with item.lock:
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
                path = follow(source.frame, f, b, plan.media.frame_count, detect=near.scan)
            track = 1 + max((r.track_id for fp in plan.frames.values() for r in fp.regions
                             if r.track_id is not None), default=-1)
            for step in path:
                plan.add_region(step.frame, Region(box=step.box, score=1.0,
                                                   provenance="manual", track_id=track))
            self._save(item, {"action": "follow", "frame": f, "box": list(b),
                              "track": track, "frames": [path[0].frame, path[-1].frame]})
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

            try:
                result = pipeline.render_plan(plan, item.source, item.output, self.options,
                                              progress=progress)
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
                item.state = "verified" if result.verification.get("passed") else "failed"
            self._write_report(item, result)
            return result

    def _write_report(self, item: Item, result: FileResult) -> None:
        from veil.jobs.image import tool_name
        from veil.jobs.repair import ENTRY_KEY, unverified_entry
        from veil.report.json_report import write_report

        entry = result.extra.get(ENTRY_KEY) or unverified_entry(result)
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


def read_edit_log(path: Path) -> list[dict[str, Any]]:
    """The edits recorded for a plan (empty when there are none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    edits = data.get("edits") if isinstance(data, dict) else None
    return list(edits) if isinstance(edits, list) else []


def _verdict(result: FileResult) -> dict[str, Any]:
    ver = result.verification or {}
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


def _reason(text: str | None) -> str:
    return " ".join(str(text or "").split())[:500]


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


__all__ = ["EditError", "Item", "Session", "default_plan_dir", "read_edit_log", "PLAN_SUFFIX"]
