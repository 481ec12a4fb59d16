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
