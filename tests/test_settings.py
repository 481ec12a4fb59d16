"""MaskSettings.with_overrides: the command line's and the API's --method/--shape/--margin."""

from __future__ import annotations

import pytest

from veil.settings import MaskSettings


def test_nothing_given_keeps_the_settings_themselves() -> None:
    mask = MaskSettings(method="solid", margin=0.3)
    assert mask.with_overrides() is mask


def test_only_what_is_given_changes() -> None:
    mask = MaskSettings(method="solid", shape="ellipse", margin=0.3, pixel_blocks=9)
    assert mask.with_overrides(shape="box") == MaskSettings(
        method="solid", shape="box", margin=0.3, pixel_blocks=9)
    assert mask.with_overrides(method="pixelate", margin=0.0) == MaskSettings(
        method="pixelate", shape="ellipse", margin=0.0, pixel_blocks=9)


def test_overrides_are_checked_like_new_settings() -> None:
    with pytest.raises(ValueError, match="margin"):
        MaskSettings().with_overrides(margin=3.0)


def test_passes_spec_round_trips_and_refuses_what_it_cannot_do() -> None:
    from veil.settings import ScanSettings

    s = ScanSettings()
    assert s.passes_spec == "1,1.5,2,m2"
    assert s.with_passes(s.passes_spec) == s
    two = s.with_passes("2, 1, m2")
    assert two.zooms == (1.0, 2.0) and two.mirror and two.passes_spec == "1,2,m2"
    assert s.with_passes("1").zooms == (1.0,) and not s.with_passes("1").mirror
    assert s.with_passes("1,3").max_upscale == 3.0
    for bad in ("", "x", "1,m1.5", "m1", "0", "1,m1,m1", "5"):
        with pytest.raises(ValueError, match="passes"):
            s.with_passes(bad)


def test_passes_option_is_a_usage_error_when_malformed(tmp_path) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from veil.cli import main

    res = CliRunner().invoke(main, [str(tmp_path), "-o", str(tmp_path / "out"),
                                    "--passes", "1,m1.5"])
    assert res.exit_code == 2 and "--passes" in res.output


def test_full_search_option_records_the_native_search_in_the_plan(tmp_path) -> None:  # noqa: ANN001
    """``--full-search``: every zoom over the whole photo (``search="native"``), recorded
    in the plan; the default is the adaptive search."""
    import json

    import numpy as np
    from click.testing import CliRunner
    from PIL import Image

    from veil.cli import main

    Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(tmp_path / "grey.jpg")
    searches = {}
    for name, extra in (("default", []), ("full", ["--full-search"])):
        res = CliRunner().invoke(main, [str(tmp_path / "grey.jpg"), "-o", str(tmp_path / name),
                                        "--plan-dir", str(tmp_path / f"{name}-plans"),
                                        "--no-verify", *extra])
        assert res.exit_code == 0, res.output
        plan = json.loads((tmp_path / f"{name}-plans" / "grey.jpg.veil.json").read_text())
        searches[name] = plan["scan"]["search"]
    assert searches == {"default": "adaptive", "full": "native"}
