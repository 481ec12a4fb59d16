"""Regression floor for protection on the shared dev set (skips without ../shared).

The full figure, whole-process and beside deface, comes from ``python -m benchmarks.leak``
(BENCHMARKS.md); this test runs the same black-box measurement in-process so that a
change which lets faces through fails CI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import veil
from benchmarks.metrics import Totals, black_box_mask, score_frame
from benchmarks.wider import DIFFICULTIES, load_wider

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "wider-val-dev"

pytestmark = pytest.mark.skipif(not (DEV / "gt.txt").exists(),
                                reason="../shared/data/wider-val-dev is not present")


def test_leak_rate_and_collateral_on_dev_set() -> None:
    totals = Totals()
    lists = {d: Totals() for d in DIFFICULTIES}
    solid = veil.MaskSettings(method="solid")
    for im in load_wider(DEV):
        original = np.asarray(Image.open(DEV / "images" / im.name).convert("RGB"))
        masked, _ = veil.anonymize_image(original, mask=solid)
        score = score_frame(black_box_mask(original, masked), im.boxes, im.invalid)
        totals.add(score)
        for d in DIFFICULTIES:
            lists[d].add(score, im.lists[d])
    assert totals.counted == 700
    # Targets: leak <= 2% at collateral <= 1.0, and <= 3% on each difficulty list.
    assert totals.leak_rate <= 0.02, f"leak {totals.leaked}/{totals.counted}"
    assert totals.collateral <= 1.0, f"collateral {totals.collateral:.2f}"
    for d, t in lists.items():
        assert t.leak_rate <= 0.03, f"{d}: leak {t.leaked}/{t.counted}"
