"""Read the WIDER-format evaluation set (``../shared/data/wider-val-dev``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DIFFICULTIES = ("easy", "medium", "hard")


@dataclass
class WiderImage:
    """One image with its ground-truth boxes (``x y w h``) and flags."""

    name: str                       # relative path, e.g. "0--Parade/0_Parade_Parade_0_102.jpg"
    boxes: np.ndarray               # (N, 4) float64 x, y, w, h
    invalid: np.ndarray             # (N,) bool
    lists: dict[str, list[int]] = field(default_factory=dict)  # 0-based indices per difficulty


def default_root() -> Path:
    """``../shared/data/wider-val-dev`` next to the repository (may not exist)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wider-val-dev"


def load_wider(root: Path) -> list[WiderImage]:
    """Parse ``gt.txt`` and ``meta.json`` under ``root``."""
    lines = (root / "gt.txt").read_text().split("\n")
    meta_path = root / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    images: list[WiderImage] = []
    i = 0
    while i < len(lines):
        name = lines[i].strip()
        if not name:
            i += 1
            continue
        n = int(lines[i + 1])
        rows = [lines[i + 2 + k].split() for k in range(n)]
        # A count of 0 is followed by one line of zeros in the official format.
        i += 2 + max(n, 1)
        arr = np.array([[float(v) for v in r[:10]] for r in rows], dtype=np.float64).reshape(-1, 10)
        m = meta.get(name, {})
        lists = {d: [k - 1 for k in m.get(f"{d}_face_idx_1based", [])] for d in DIFFICULTIES}
        images.append(WiderImage(name, arr[:, :4], arr[:, 7] > 0, lists))
    return images
