"""Plans are checked on load (issue 9, item 5): a bad plan is refused with one clear line,
and docs/plan-schema.json says the same as the Python check."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import REPO, face_box, save
from veil.cli import main
from veil.errors import UsageError
from veil.plan.record import Plan, PlanError, Region
from veil.plan.still import image_media_info

SHA = "ab" * 32


def good_image() -> dict:
    return {
        "format": "veil-plan/1", "tool": "veil test",
        "media": {"name": "a.jpg", "sha256": SHA, "kind": "image", "width": 200,
                  "height": 100, "frame_count": 1},
        "scan": {}, "mask": {"method": "blur"},
        "frames": {"0": {"regions": [
            {"box": [10, 20, 50, 60], "score": 0.9, "provenance": "detected"},
            {"box": [100, 10, 130, 40], "provenance": "manual", "released": True,
             "reason": "the speaker agreed", "edited_at": "2026-11-30T10:00:00+00:00"},
            {"box": [150, 50, 190, 90], "provenance": "deleted",
             "edited_at": "2026-11-30T10:01:00+00:00", "reason": "a poster"},
            {"box": [-5, 60, 30, 120], "method": "solid"},  # partly outside: clipped
        ]}},
    }


def good_video() -> dict:
    d = good_image()
    d["media"].update(kind="video", frame_count=10, fps=25.0)
    d["frames"]["9"] = {"regions": [{"box": [1, 1, 20, 20], "track": 3,
                                     "provenance": "interpolated"}]}
    d["frames"]["4"] = {"regions": [], "mask_whole": True, "note": "corrupt"}
    return d


def _set(d: dict, path: tuple, value) -> dict:
    d = copy.deepcopy(d)
    node = d
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


R0 = ("frames", "0", "regions", 0)
# (plan, words the message must hold); the schema can express these
SCHEMA_BAD = [
    (_set(good_image(), ("format",), "veil-plan/0"), "not a veil plan"),
    (_set(good_image(), (*R0, "provenance"), "guessed"), "unknown provenance 'guessed'"),
    (_set(good_image(), (*R0, "box"), [10, 20, 50]), "four finite numbers"),
    (_set(good_image(), (*R0, "box"), "10 20 50 60"), "four finite numbers"),
    (_set(good_image(), (*R0, "relased"), True), "unknown field 'relased'"),
    (_set(good_image(), (*R0, "released"), "yes"), "'released' must be true or false"),
    (_set(good_image(), (*R0, "method"), "smudge"), "unknown method 'smudge'"),
    (_set(good_image(), (*R0, "track"), 1.5), "'track' must be a whole number"),
    (_set(good_image(), ("media", "width"), 0), "'width'"),
    (_set(good_image(), ("media", "sha256"), "xyz"), "'sha256'"),
    (_set(good_image(), ("media", "kind"), "audio"), "'kind'"),
    (_set(good_image(), ("media", "frame_count"), 0), "an image has 'frame_count' 1"),
    (_set(good_image(), ("media",), KeyError), "missing 'media'"),
    (_set(good_image(), ("frames", "first"), {"regions": []}), "not a frame number"),
    (_set(good_image(), ("frames", "0", "mask_whole"), 1), "'mask_whole'"),
]
# only the Python check can see these (order of corners, place in the frame, frame range)
PYTHON_ONLY_BAD = [
    (_set(good_image(), (*R0, "box"), [50, 60, 10, 10]), "frame 0, region 1: box [50, 60, "
     "10, 10] is empty or reversed"),
    (_set(good_image(), (*R0, "box"), [10, 20, 10, 60]), "empty or reversed"),
    (_set(good_image(), (*R0, "box"), [210, 20, 250, 60]), "outside the 200x100 frame"),
    (_set(good_image(), (*R0, "box"), [10, -60, 50, -20]), "outside the 200x100 frame"),
    (_set(good_image(), (*R0, "box"), [10, 20, math.inf, 60]), "four finite numbers"),
    (_set(good_image(), (*R0, "box"), [10, math.nan, 50, 60]), "four finite numbers"),
    (_set(good_image(), ("frames", "1"), {"regions": []}), "frame 1: out of range"),
    (_set(good_video(), ("frames", "10"), {"regions": []}), "frame 10: out of range"),
    (_set(good_image(), (*R0, "edited_at"), "yesterday"), "ISO 8601"),
]


@pytest.mark.parametrize("plan", [good_image(), good_video()])
def test_good_plans_load_and_round_trip(plan: dict) -> None:
    loaded = Plan.from_dict(plan)
    again = Plan.from_dict(loaded.to_dict())
    assert again.to_dict() == loaded.to_dict()
    regions = loaded.frame(0).regions
    assert [r.masked for r in regions] == [True, False, False, True]
    assert regions[1].reason == "the speaker agreed" and regions[3].method == "solid"
    assert [r.box for r in loaded.frame(0).active_regions()] == [regions[0].box,
                                                                  regions[3].box]


def test_optional_fields_are_written_only_when_set() -> None:
    assert set(Region((1, 2, 3, 4)).to_dict()) == {"box", "score", "provenance"}
    full = Region((1, 2, 3, 4), method="solid", reason="r", edited_at="2026-01-01T00:00:00")
    assert {"method", "reason", "edited_at"} <= set(full.to_dict())


@pytest.mark.parametrize(("plan", "words"), SCHEMA_BAD + PYTHON_ONLY_BAD)
def test_bad_plans_are_refused_with_one_clear_line(plan: dict, words: str) -> None:
    with pytest.raises(PlanError) as info:
        Plan.from_dict(plan)
    message = str(info.value)
    assert words in message and "\n" not in message
    assert isinstance(info.value, UsageError) and isinstance(info.value, ValueError)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{not json")
    with pytest.raises(PlanError, match="not JSON"):
        Plan.load(path)


def test_schema_and_python_check_agree() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="the dev extra installs jsonschema")
    schema = json.loads((REPO / "docs" / "plan-schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for good in (good_image(), good_video(), Plan.from_dict(good_video()).to_dict()):
        assert not list(validator.iter_errors(good))
    for bad, _ in SCHEMA_BAD:
        assert list(validator.iter_errors(bad)), bad
    for bad, _ in PYTHON_ONLY_BAD:  # valid JSON shape, refused by the Python check only
        box = bad["frames"].get("0", {}).get("regions", [{}])[0].get("box", [])
        if any(isinstance(v, float) and not math.isfinite(v) for v in box):
            continue  # JSON has no NaN or infinity; Python's json module reads them
        assert not list(validator.iter_errors(bad)), bad


def test_render_refuses_a_reversed_box_with_exit_2(tmp_path: Path,
                                                   small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "in" / "x.png")
    plan = Plan(image_media_info(src, 256, 256))
    x1, y1, x2, y2 = face_box(256)
    plan.add_region(0, Region((x2, y2, x1, y1), provenance="manual"))  # corners swapped
    path = tmp_path / "x.veil.json"
    path.write_text(json.dumps(plan.to_dict()))
    result = CliRunner().invoke(main, ["render", str(path), str(src), "-o",
                                       str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "reversed" in result.stderr and "region 1" in result.stderr
    assert not (tmp_path / "out" / "x.png").exists()


def test_the_documented_example_is_a_valid_plan() -> None:
    text = (REPO / "docs" / "plan-format.md").read_text(encoding="utf-8")
    example = json.loads(text.split("```json")[1].split("```")[0])
    plan = Plan.from_dict(example)
    assert [r.provenance for r in plan.frame(0).regions] == ["detected", "manual", "deleted",
                                                            "manual"]


def test_a_thin_box_at_the_edge_survives_saving(tmp_path: Path) -> None:
    plan = Plan(image_media_info("a.png", 512, 512, "e" * 64))
    plan.add_region(0, Region((511.997, 10.0, 512.0, 60.0)))  # clipped at the right edge
    plan.add_region(0, Region((100.001, 10.0, 100.004, 60.0)))
    plan.save(tmp_path / "p.json")
    boxes = [r.box for r in Plan.load(tmp_path / "p.json").frame(0).regions]
    assert boxes[0][0] < boxes[0][2] <= 512 and boxes[1][0] < boxes[1][2]
