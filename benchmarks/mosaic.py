"""Phone-size pictures tiled from the dev images at their native pixels.

    python -m benchmarks.mosaic                  # bench-out/mosaic-12mp and bench-out/mosaic-3mp

Each picture is a 4032x3024 (12 MP) or 2016x1512 (3 MP) canvas, mid grey, on which the
dev images are placed side by side in rows, in the order of ``gt.txt``, without any
resampling: the same 10-40 px faces, in a picture of the size a phone takes. Every dev
image is used once per set; ground-truth boxes are offset with their image and keep their
flags and easy/medium/hard lists. The layout is deterministic (shelf packing: an image
goes to the right of the previous one, or starts a new row under the tallest image of
the row, or starts a new picture). The result is a WIDER-format folder (``images/``,
``gt.txt``, ``meta.json``) that ``benchmarks.leak`` and ``benchmarks.search`` read like the
dev set. The pictures are written outside the repository (they hold the dev images,
which must not be copied into it).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.wider import DIFFICULTIES, WiderImage, default_root, load_wider

#: (name, width, height) of the phone-size sets.
SIZES = {"12mp": (4032, 3024), "3mp": (2016, 1512)}
BACKGROUND = 128
GAP = 8


@dataclass
class Placement:
    """One dev image at ``(x, y)`` in picture number ``picture``."""

    image: WiderImage
    picture: int
    x: int
    y: int


def layout(sizes: list[tuple[int, int]], width: int, height: int) -> list[tuple[int, int, int]]:
    """Shelf packing of images of ``sizes`` (w, h), in order: ``(picture, x, y)`` each."""
    out: list[tuple[int, int, int]] = []
    pic, x, y, row_h = 0, 0, 0, 0
    for w, h in sizes:
        if w > width or h > height:
            raise ValueError(f"an image of {w}x{h} does not fit a {width}x{height} picture")
        if x + w > width:                       # next row
            x, y, row_h = 0, y + row_h + GAP, 0
        if y + h > height:                      # next picture
            pic, x, y, row_h = pic + 1, 0, 0, 0
        out.append((pic, x, y))
        x += w + GAP
        row_h = max(row_h, h)
    return out


def build(root: Path, dest: Path, width: int, height: int) -> Path:
    """Write the tiled set for one picture size into ``dest``; return ``dest``."""
    images = load_wider(root)
    pixels = [Image.open(root / "images" / im.name).convert("RGB") for im in images]
    places = layout([p.size for p in pixels], width, height)
    n_pics = max(p for p, _, _ in places) + 1
    (dest / "images").mkdir(parents=True, exist_ok=True)
    gt_lines: list[str] = []
    meta: dict[str, dict[str, object]] = {}
    for k in range(n_pics):
        canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
        rows: list[str] = []
        lists: dict[str, list[int]] = {d: [] for d in DIFFICULTIES}
        sources: list[dict[str, object]] = []
        for im, px, (pic, x, y) in zip(images, pixels, places, strict=True):
            if pic != k:
                continue
            a = np.asarray(px)
            canvas[y:y + a.shape[0], x:x + a.shape[1]] = a
            base = len(rows)
            for i, (bx, by, bw, bh) in enumerate(im.boxes):
                rows.append(f"{bx + x:.2f} {by + y:.2f} {bw:.2f} {bh:.2f} 0 0 0 "
                            f"{int(im.invalid[i])} 0 0")
            for d in DIFFICULTIES:
                lists[d] += [base + i + 1 for i in im.lists[d]]
            sources.append({"name": im.name, "x": x, "y": y})
        name = f"mosaic_{k:03d}.png"
        Image.fromarray(canvas).save(dest / "images" / name)
        gt_lines += [name, str(len(rows))] + (rows or ["0 0 0 0 0 0 0 0 0 0"])
        meta[name] = {"sources": sources,
                      **{f"{d}_face_idx_1based": lists[d] for d in DIFFICULTIES}}
    (dest / "gt.txt").write_text("\n".join(gt_lines) + "\n")
    (dest / "meta.json").write_text(json.dumps(meta, indent=1))
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_root())
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    args = ap.parse_args(argv)
    for key, (w, h) in SIZES.items():
        dest = build(args.data, args.out / f"mosaic-{key}", w, h)
        n = len(list((dest / "images").glob("*.png")))
        print(f"{dest}: {n} pictures of {w}x{h}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
