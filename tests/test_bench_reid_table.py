"""The re-id table counts failing faces and failing images the way verification does."""

from __future__ import annotations

from benchmarks.reid_table import REFERENCE, SETTINGS, table

WEAK = "blur k=1/4 (weak)"


def test_faces_and_images_failing():
    # three faces in two images; threshold 0.6, margin 0.2
    dist = {name: [0.9, 0.9, 0.9] for name in SETTINGS}
    dist.update({f"ref:{name}": [0.55, 0.55, 0.55] for name in SETTINGS})
    dist[REFERENCE] = [0.55, 0.55, 0.55]
    dist[WEAK] = [0.2, 0.5, 0.3]     # under the threshold; 0.35, 0.05, 0.25 under the ref
    dist[f"ref:{WEAK}"] = [0.55, 0.55, 0.55]
    rows = {r["setting"]: r for r in table(dist, 0.6, margin=0.2, images=[0, 0, 1])}
    assert rows[WEAK]["fails_check"] == round(2 / 3, 3)
    assert rows[WEAK]["images_failing"] == 1.0     # each image has a failing face
    assert rows["solid"]["fails_check"] == 0.0 and rows["solid"]["images_failing"] == 0.0
    assert rows[REFERENCE]["fails_check"] is None  # the yardstick itself is not judged
