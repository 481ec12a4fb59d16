"""Check a plan's JSON before anything renders it.

A plan is edited by hand or by the review page, so every plan is checked on load: a box
written the wrong way round, outside the picture, or as x, y, w, h would otherwise mask
nothing without a word. :func:`check_plan` raises :class:`~veil.plan.record.PlanError`
with one line that says where (frame and region, counted from 1 as a person reads them)
and what is wrong.

The same rules are published as JSON Schema in ``docs/plan-schema.json`` (a test checks
that both accept and refuse the same plans); the rules a schema cannot express (a box's
order, its place inside the frame, frame numbers below the frame count) are checked here
only.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from veil.plan.record import PLAN_FORMAT, PROVENANCES, PlanError
from veil.settings import MASK_METHODS

TOP_KEYS = frozenset({"format", "tool", "media", "scan", "mask", "track", "frames"})
MEDIA_KEYS = frozenset({"name", "sha256", "kind", "width", "height", "frame_count", "fps"})
FRAME_KEYS = frozenset({"regions", "mask_whole", "note"})
REGION_KEYS = frozenset({"box", "score", "provenance", "track", "released", "method",
                         "reason", "edited_at"})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FRAME_KEY = re.compile(r"0|[1-9][0-9]*")


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _unknown(d: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise PlanError(f"{where}unknown field {extra[0]!r} (allowed: "
                        f"{', '.join(sorted(allowed))})")


def _check_media(m: Any) -> tuple[int, int, int]:
    if not isinstance(m, dict):
        raise PlanError("'media' must be an object")
    _unknown(m, MEDIA_KEYS, "media: ")
    for key in ("name", "sha256", "kind", "width", "height"):
        if key not in m:
            raise PlanError(f"media: missing {key!r}")
    if not isinstance(m["name"], str):
        raise PlanError("media: 'name' must be a string")
    if not isinstance(m["sha256"], str) or not _SHA256.fullmatch(m["sha256"]):
        raise PlanError("media: 'sha256' must be 64 lowercase hex digits")
    if m["kind"] not in ("image", "video"):
        raise PlanError(f"media: 'kind' must be \"image\" or \"video\", not {m['kind']!r}")
    for key in ("width", "height"):
        if not _integer(m[key]) or m[key] < 1:
            raise PlanError(f"media: {key!r} must be a whole number of pixels above 0")
    count = m.get("frame_count", 1)
    if not _integer(count) or count < 0:
        raise PlanError("media: 'frame_count' must be a whole number (0: unknown)")
    if m["kind"] == "image" and count < 1:
        raise PlanError("media: an image has 'frame_count' 1 (or its number of frames, "
                        "when animated)")
    fps = m.get("fps")
    if fps is not None and (not _number(fps) or fps <= 0):
        raise PlanError("media: 'fps' must be a number above 0, or null")
    return int(m["width"]), int(m["height"]), int(count)


def _check_box(box: Any, w: int, h: int, where: str) -> None:
    if not isinstance(box, list) or len(box) != 4 or not all(_number(v) for v in box):
        raise PlanError(f"{where}'box' must be four finite numbers [x1, y1, x2, y2]")
    x1, y1, x2, y2 = (float(v) for v in box)
    shown = "[" + ", ".join(f"{v:g}" for v in (x1, y1, x2, y2)) + "]"
    if x2 <= x1 or y2 <= y1:
        raise PlanError(f"{where}box {shown} is empty or reversed: a box is "
                        "[x1, y1, x2, y2] with x1 < x2 and y1 < y2 (corners, not x, y, "
                        "width, height)")
    if x1 >= w or y1 >= h or x2 <= 0 or y2 <= 0:
        raise PlanError(f"{where}box {shown} lies outside the {w}x{h} frame")


def _check_region(r: Any, w: int, h: int, where: str) -> None:
    if not isinstance(r, dict):
        raise PlanError(f"{where}a region must be an object")
    _unknown(r, REGION_KEYS, where)
    if "box" not in r:
        raise PlanError(f"{where}missing 'box'")
    _check_box(r["box"], w, h, where)
    if "score" in r and not _number(r["score"]):
        raise PlanError(f"{where}'score' must be a finite number")
    prov = r.get("provenance", "detected")
    if prov not in PROVENANCES:
        raise PlanError(f"{where}unknown provenance {prov!r} (one of "
                        f"{', '.join(PROVENANCES)})")
    track = r.get("track")
    if track is not None and (not _integer(track) or track < 0):
        raise PlanError(f"{where}'track' must be a whole number, or null")
    if "released" in r and not isinstance(r["released"], bool):
        raise PlanError(f"{where}'released' must be true or false")
    method = r.get("method")
    if method is not None and method not in MASK_METHODS:
        raise PlanError(f"{where}unknown method {method!r} (one of "
                        f"{', '.join(MASK_METHODS)}, or null for the plan's)")
    reason = r.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise PlanError(f"{where}'reason' must be a string, or null")
    edited = r.get("edited_at")
    if edited is not None:
        try:
            if not isinstance(edited, str):
                raise ValueError(edited)
            dt.datetime.fromisoformat(edited)
        except ValueError:
            raise PlanError(f"{where}'edited_at' must be an ISO 8601 time such as "
                            "\"2026-11-30T10:15:00+00:00\"") from None


def check_plan(d: Any) -> None:
    """Raise :class:`PlanError` unless ``d`` (a plan's parsed JSON) is a valid plan."""
    if not isinstance(d, dict):
        raise PlanError("not a veil plan (the file holds no JSON object)")
    if d.get("format") != PLAN_FORMAT:
        raise PlanError(f"not a veil plan (format {d.get('format')!r}, "
                        f"expected {PLAN_FORMAT!r})")
    _unknown(d, TOP_KEYS, "")
    if "media" not in d:
        raise PlanError("missing 'media' (what file the plan is for)")
    w, h, count = _check_media(d["media"])
    for key in ("scan", "mask", "track"):
        if key in d and not isinstance(d[key], dict):
            raise PlanError(f"{key!r} must be an object")
    if "tool" in d and not isinstance(d["tool"], str):
        raise PlanError("'tool' must be a string")
    frames = d.get("frames", {})
    if not isinstance(frames, dict):
        raise PlanError("'frames' must be an object keyed by frame number")
    for key, entry in frames.items():
        if not _FRAME_KEY.fullmatch(key):
            raise PlanError(f"frames: {key!r} is not a frame number (0, 1, 2 ...)")
        index = int(key)
        if count and index >= count:
            raise PlanError(f"frame {index}: out of range (the {d['media']['kind']} has "
                            f"{count} frame{'s' if count != 1 else ''}, numbered from 0)")
        if not isinstance(entry, dict):
            raise PlanError(f"frame {index}: must be an object with 'regions'")
        _unknown(entry, FRAME_KEYS, f"frame {index}: ")
        if "mask_whole" in entry and not isinstance(entry["mask_whole"], bool):
            raise PlanError(f"frame {index}: 'mask_whole' must be true or false")
        if "note" in entry and not isinstance(entry["note"], str):
            raise PlanError(f"frame {index}: 'note' must be a string")
        regions = entry.get("regions", [])
        if not isinstance(regions, list):
            raise PlanError(f"frame {index}: 'regions' must be a list")
        for n, r in enumerate(regions, 1):
            _check_region(r, w, h, f"frame {index}, region {n}: ")
