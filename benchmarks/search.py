"""Search strategies side by side: leak, collateral and detector cost, in one process.

    python -m benchmarks.mosaic                   # once: the 12 MP and 3 MP tiled sets
    python -m benchmarks.search                   # dev set and both tiled sets
    python -m benchmarks.search --sets dev --json bench-out/search.json

Every strategy is a :class:`veil.settings.ScanSettings`. Each detector pass (detector,
scale, tiling) is run once per picture at a low floor and kept; every strategy is then
made from the passes its settings plan (``Scanner.combine``, plus the crop confirmations
of a cascade), rendered with veil's solid fill and judged black-box exactly as
``../shared/METRICS.md`` says (``benchmarks.metrics``): the pixels that changed.
The outputs are the ones ``veil --method solid`` writes for the same settings (same
scanner, same renderer, no file round trip: the pictures are lossless either way).

Cost is CPU-seconds of the detector per picture (``time.process_time``, all threads)
and megapixels of detector input per picture, not wall time: on a shared machine wall
time says more about the neighbours than about the strategy.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.metrics import Totals, black_box_mask, score_frame
from benchmarks.wider import DIFFICULTIES, WiderImage, default_root, load_wider
from veil.detections import Detections
from veil.render.masks import mask_regions
from veil.scan.base import Detector
from veil.scan.registry import get_detector
from veil.scan.scanner import (
    Scanner,
    ScanPass,
    plan_chips,
    plan_passes,
    run_pass,
    run_pass_on_chips,
    split_adaptive,
)
from veil.settings import MaskSettings, ScanSettings

FLOOR = 0.04
SOLID = MaskSettings(method="solid")

_TILED = ScanSettings(search="tiled", mirror=False)


def _tiled(detector: str, scale: float, threshold: float, ratio: float = 1.0,
           **more: object) -> ScanSettings:
    return replace(_TILED, detector=detector, native_scale=scale, threshold=threshold,
                   support_ratio=ratio, **more)  # type: ignore[arg-type]


def _cascade(scale: float, sure: float, weak: float, confirm: float) -> ScanSettings:
    return _tiled("yunet", scale, sure, weak / sure, confirm_detector="centerface",
                  confirm_threshold=confirm)


#: The strategies compared (name -> settings). ``tNN``: threshold; ``sNN``: support ratio
#: (a weaker candidate down to ratio x threshold counts when another pass finds it too).
FIRST_GRID: dict[str, ScanSettings] = {
    "default: pyramid, centerface": ScanSettings(search="pyramid"),
    "pyramid, yunet t0.3": ScanSettings(detector="yunet", threshold=0.3, support_ratio=1.0),
    "pyramid, yunet t0.2": ScanSettings(detector="yunet", threshold=0.2, support_ratio=1.0),
    "tiled 1x, centerface t0.25 s0.3": _tiled("centerface", 1.0, 0.25, 0.3),
    "tiled 1x, centerface t0.1": _tiled("centerface", 1.0, 0.1),
    "tiled 2x, centerface t0.25 s0.3": _tiled("centerface", 2.0, 0.25, 0.3),
    "tiled 2x, centerface t0.15 s0.5": _tiled("centerface", 2.0, 0.15, 0.5),
    "tiled 2x, centerface t0.1": _tiled("centerface", 2.0, 0.1),
    "tiled 1x, yunet t0.2": _tiled("yunet", 1.0, 0.2),
    "tiled 2x, yunet t0.3 s0.3": _tiled("yunet", 2.0, 0.3, 0.3),
    "tiled 2x, yunet t0.2": _tiled("yunet", 2.0, 0.2),
    "tiled 2x, yunet t0.15": _tiled("yunet", 2.0, 0.15),
    "tiled 2x, yunet t0.1": _tiled("yunet", 2.0, 0.1),
    "cascade tiled 1x yunet 0.3/0.05 + centerface 0.15": _cascade(1.0, 0.3, 0.05, 0.15),
    "cascade tiled 2x yunet 0.3/0.05 + centerface 0.15": _cascade(2.0, 0.3, 0.05, 0.15),
    "cascade tiled 2x yunet 0.2/0.05 + centerface 0.1": _cascade(2.0, 0.2, 0.05, 0.1),
}


def _native(zooms: tuple[float, ...], mirror: bool = True, **more: object) -> ScanSettings:
    return ScanSettings(search="native", zooms=zooms, mirror=mirror, **more)  # type: ignore[arg-type]


#: The size-aware pyramid (``search="native"``, the default since issue 12) and what it
#: costs to drop passes from it, beside the pyramid it replaced. On pictures up to
#: 1280 px the two searches are the same passes.
NATIVE_GRID: dict[str, ScanSettings] = {
    "default before session 6: native 1+1.5+2+m2, centerface": ScanSettings(search="native"),
    "adaptive 1+1.5+2+m2 (the default since session 6)": ScanSettings(),
    "pyramid 1+1.5+2+m2 (old default)": ScanSettings(search="pyramid"),
    "native 1+2+m2": _native((1.0, 2.0)),
    "native 1+1.5+m1.5": _native((1.0, 1.5)),
    "native 1+2": _native((1.0, 2.0), False),
    "native 1+1.5": _native((1.0, 1.5), False),
    "native 1 t0.1 (--fast)": ScanSettings.fast(),
    "native 1.5 t0.1 (--fast --passes 1.5)": ScanSettings.fast(zooms=(1.5,)),
    "native 2 t0.1 (--fast --passes 2)": ScanSettings.fast(zooms=(2.0,)),
    "native 1+2+m2, yunet t0.3": _native((1.0, 2.0), detector="yunet", threshold=0.3),
}


def _adaptive(score: float, face: float, margin: float, full: float = 1.0,
              zooms: tuple[float, ...] = (1.0, 1.5, 2.0), mirror: bool = True,
              whole: float = 1.0) -> ScanSettings:
    return ScanSettings(search="adaptive", chip_score=score, chip_face=face, chip_margin=margin,
                        chip_full=full, zooms=zooms, mirror=mirror, chip_whole=whole)


#: The adaptive zoom (session 6): the native passes, zooms only on chips around small or
#: weak candidates of the passes at the picture's own pixels. ``cNN``: chip_score,
#: ``fNN``: chip_face (px), ``mNN``: chip_margin (px), ``uNN``: chip_full. The default
#: since session 6 is ``w1.5 c0.04 f24 m32 u1`` (chosen on the even half of the dev set,
#: the 1.5x pass whole for lone faces on busy texture: see BENCHMARKS.md).
ADAPTIVE_GRID: dict[str, ScanSettings] = {
    "default before session 6: native 1+1.5+2+m2, centerface": ScanSettings(search="native"),
    "native 1+2+m2": _native((1.0, 2.0)),
    "native 1+1.5+m1.5": _native((1.0, 1.5)),
    "native 1 t0.1 (--fast)": ScanSettings.fast(search="native"),
    **{f"adaptive c{c:g} f{f:g} m{m:g} u{u:g}": _adaptive(c, f, m, u)
       for c, f, m, u in ((0.04, 16, 32, 1.0), (0.04, 24, 32, 1.0), (0.04, 16, 16, 1.0),
                          (0.02, 24, 32, 1.0), (0.03, 24, 32, 1.0),
                          (0.04, 40, 64, 0.6), (0.06, 16, 0, 1.0), (0.1, 24, 32, 1.0))},
    "adaptive w1.5 c0.04 f24 m32 u1 (1.5x whole)": _adaptive(0.04, 24, 32, whole=1.5),
    "adaptive w1.5 c0.04 f40 m32 u1 (1.5x whole)": _adaptive(0.04, 40, 32, whole=1.5),
    "adaptive 1+2+m2 c0.04 f16 m32 u1": _adaptive(0.04, 16, 32, 1.0, zooms=(1.0, 2.0)),
    "adaptive 1+1.5+m1.5 c0.04 f16 m32 u1": _adaptive(0.04, 16, 32, 1.0, zooms=(1.0, 1.5)),
}

GRIDS = {"native": NATIVE_GRID, "first": FIRST_GRID, "adaptive": ADAPTIVE_GRID}


@dataclass
class Cost:
    """Detector CPU-seconds and input megapixels."""

    cpu_s: float = 0.0
    mpix: float = 0.0

    def __iadd__(self, other: Cost) -> Cost:
        self.cpu_s += other.cpu_s
        self.mpix += other.mpix
        return self


class Metered:
    """A detector wrapper that adds up CPU time and (padded) input pixels."""

    def __init__(self, detector: Detector) -> None:
        self.inner = detector
        self.name, self.version = detector.name, detector.version
        self.cost = Cost()

    @property
    def floor(self) -> float:
        return self.inner.floor

    @floor.setter
    def floor(self, value: float) -> None:
        self.inner.floor = value

    def detect(self, frame: np.ndarray) -> Detections:
        h, w = frame.shape[:2]
        t0 = time.process_time()
        out = self.inner.detect(frame)
        self.cost += Cost(time.process_time() - t0, (-(-h // 32) * 32) * (-(-w // 32) * 32) / 1e6)
        return out


@dataclass
class Result:
    name: str
    totals: Totals = field(default_factory=Totals)
    lists: dict[str, Totals] = field(default_factory=lambda: {d: Totals() for d in DIFFICULTIES})
    cost: Cost = field(default_factory=Cost)

    def row(self, n: int) -> dict[str, object]:
        return {"strategy": self.name, "leaked": self.totals.leaked,
                "counted": self.totals.counted, "leak_rate": round(self.totals.leak_rate, 4),
                **{f"leak_{d}": round(t.leak_rate, 4) for d, t in self.lists.items()},
                "collateral": round(self.totals.collateral, 3),
                "cpu_s_per_image": round(self.cost.cpu_s / n, 3),
                "mpix_per_image": round(self.cost.mpix / n, 2)}


def _load_cache(path: Path | None) -> dict[tuple[str, ScanPass], tuple[Detections, Cost]]:
    if path is None or not path.exists():
        return {}
    with path.open("rb") as f:
        return pickle.load(f)  # noqa: S301 - the benchmark's own file


def _save_cache(path: Path | None,
                cache: dict[tuple[str, ScanPass], tuple[Detections, Cost]]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(cache, f)
        tmp.replace(path)


def evaluate(root: Path, strategies: dict[str, ScanSettings],
             cache_dir: Path | None = None, half: str = "") -> list[dict[str, object]]:
    """Score every strategy on the WIDER-format set under ``root``. With ``cache_dir``,
    each picture's detector passes are kept there (one file per picture) and reused by
    later runs: a new combination rule then costs no detector time (the costs reported
    are those of the run that made each pass; a cache holds the candidates from the
    lowest floor of the strategies that made it: keep one per floor). ``half``: ``even``
    or ``odd`` scores only the pictures at even or odd positions of the set's list (tune
    on one, report both)."""
    images: list[WiderImage] = load_wider(root)
    if half:
        images = images[{"even": 0, "odd": 1}[half]::2]
    floor = min([FLOOR] + [s.detector_floor for s in strategies.values()])
    meters = {name: Metered(get_detector(name, floor=floor)) for name in
              {s.detector for s in strategies.values()}
              | {s.confirm_detector for s in strategies.values() if s.confirm_detector}}
    results = {name: Result(name) for name in strategies}
    for im in images:
        frame = np.ascontiguousarray(Image.open(root / "images" / im.name).convert("RGB"))
        h, w = frame.shape[:2]
        cache_path = (cache_dir / (im.name.replace("/", "__") + ".pkl")
                      if cache_dir is not None else None)
        cache = _load_cache(cache_path)
        known = len(cache)
        for name, s in strategies.items():
            res = results[name]
            det = meters[s.detector]
            parts = []
            plan = plan_passes(w, h, s)
            whole, zoomed = (split_adaptive(plan, s.chip_whole) if s.search == "adaptive"
                             else (plan, []))
            for p in whole:
                key = (s.detector, p)
                if key not in cache:
                    before = Cost(det.cost.cpu_s, det.cost.mpix)
                    found = run_pass(det, frame, p)
                    cache[key] = (found, Cost(det.cost.cpu_s - before.cpu_s,
                                              det.cost.mpix - before.mpix))
                parts.append(cache[key][0])
                res.cost += cache[key][1]
            chips = plan_chips(parts, w, h, s) if zoomed else []
            for p in zoomed:  # the adaptive search's zooms, on its chips only
                ckey: tuple[object, ...] = ((s.detector, p) if chips == [(0, 0, w, h)]
                                            else (s.detector, p, tuple(chips)))
                if ckey not in cache:
                    before = Cost(det.cost.cpu_s, det.cost.mpix)
                    found = run_pass_on_chips(det, frame, p, chips)
                    cache[ckey] = (found, Cost(det.cost.cpu_s - before.cpu_s,  # type: ignore[index]
                                               det.cost.mpix - before.mpix))
                parts.append(cache[ckey][0])  # type: ignore[index]
                res.cost += cache[ckey][1]  # type: ignore[index]
            conf = meters.get(s.confirm_detector) if s.confirm_detector else None
            scanner = Scanner(s, detector=det, confirm_detector=conf)  # type: ignore[arg-type]
            extra = None
            if conf is not None:
                before = Cost(conf.cost.cpu_s, conf.cost.mpix)
                extra = scanner.confirmed_weak(frame, parts)
                res.cost += Cost(conf.cost.cpu_s - before.cpu_s, conf.cost.mpix - before.mpix)
            dets = scanner.combine(parts, w, h, extra)
            out = mask_regions(frame, dets.boxes, SOLID)
            score = score_frame(black_box_mask(frame, out), im.boxes, im.invalid)
            res.totals.add(score)
            for d in DIFFICULTIES:
                res.lists[d].add(score, im.lists[d])
        if len(cache) > known:
            _save_cache(cache_path, cache)
    return [results[name].row(len(images)) for name in strategies]


def lone_faces(strategies: dict[str, ScanSettings], sides: tuple[int, ...] = (12, 16, 20, 24),
               places: int = 12, seed: int = 11) -> str:
    """One face alone in a picture, the case a search that zooms only near candidates can
    miss: the astronaut's face (scikit-image, public domain) shrunk to each of ``sides``
    pixels, pasted at ``places`` random places (one at a time) on a grey 1024x768 picture
    and on the faceless ``blossoms`` texture; a Markdown table of how often each strategy
    finds it (a box with IoU > 0.3)."""
    import cv2
    from skimage.data import astronaut

    from benchmarks.texture import blossoms
    from veil.detections import box_iou

    face = astronaut()[40:220, 150:310]
    grounds = {"grey": np.full((768, 1024, 3), 128, np.uint8), "blossoms": blossoms(768, 1024)}
    rng = np.random.default_rng(seed)
    spots = [(int(rng.integers(40, 960)), int(rng.integers(40, 700))) for _ in range(places)]
    scanners = {name: Scanner(s) for name, s in strategies.items()}
    lines = ["| background | face | " + " | ".join(scanners) + " |",
             "|" + "---|" * (2 + len(scanners))]
    for ground_name, ground in grounds.items():
        for side in sides:
            f = cv2.resize(face, (side, round(side * 1.1)), interpolation=cv2.INTER_AREA)
            found = []
            for scanner in scanners.values():
                hits = 0
                for x, y in spots:
                    im = ground.copy()
                    im[y:y + f.shape[0], x:x + side] = f
                    d = scanner.scan(im)
                    gt = np.asarray([[x, y, x + side, y + f.shape[0]]], np.float32)
                    hits += int(len(d) > 0 and box_iou(d.boxes, gt).max() > 0.3)
                found.append(f"{hits}/{places}")
            lines.append(f"| {ground_name} | {side} px | " + " | ".join(found) + " |")
    return "\n".join(lines)


def markdown(set_name: str, rows: list[dict[str, object]]) -> str:
    base = next((r for r in rows if str(r["strategy"]).startswith("default")), rows[0])
    lines = [f"| {set_name}: strategy | leaked / counted | leak | easy | medium | hard "
             "| collateral | detector CPU-s / image | MP / image | cost vs default |",
             "|" + "---|" * 10]
    for r in rows:
        rel = float(r["cpu_s_per_image"]) / max(float(base["cpu_s_per_image"]), 1e-9)
        lines.append(
            f"| {r['strategy']} | {r['leaked']}/{r['counted']} "
            f"| {100 * float(r['leak_rate']):.1f}% | {100 * float(r['leak_easy']):.1f}% "
            f"| {100 * float(r['leak_medium']):.1f}% | {100 * float(r['leak_hard']):.1f}% "
            f"| {float(r['collateral']):.2f} | {r['cpu_s_per_image']} | {r['mpix_per_image']} "
            f"| {rel:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_root(), help="the dev set")
    ap.add_argument("--mosaics", type=Path, default=Path("bench-out"),
                    help="where benchmarks.mosaic wrote mosaic-12mp and mosaic-3mp")
    ap.add_argument("--sets", default="dev,3mp,12mp")
    ap.add_argument("--grid", choices=sorted(GRIDS), default="native",
                    help="native: the default search and cheaper variants [default]; "
                         "first: the first grid of strategies (issue 12, session 4); "
                         "adaptive: zooms only on chips around small or weak candidates")
    ap.add_argument("--only", default="", help="substrings of strategy names, separated by |")
    ap.add_argument("--half", choices=("even", "odd"), default=None,
                    help="dev set: score only the pictures at even or odd positions "
                         "(tune on even, report odd)")
    ap.add_argument("--lone", action="store_true",
                    help="instead: one face alone on grey and on a faceless texture, how often "
                         "each chosen strategy finds it (no data set needed)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep each picture's detector passes in this folder and reuse them "
                         "(outside the repository: they hold boxes of the dev images)")
    args = ap.parse_args(argv)
    chosen = {k: v for k, v in GRIDS[args.grid].items()
              if not args.only or any(s in k for s in args.only.split("|"))}
    if args.lone:
        print(lone_faces(chosen), flush=True)
        return 0
    roots = {"dev": args.data, "3mp": args.mosaics / "mosaic-3mp",
             "12mp": args.mosaics / "mosaic-12mp"}
    out: dict[str, list[dict[str, object]]] = {}
    for set_name in args.sets.split(","):
        root = roots[set_name]
        if not (root / "gt.txt").exists():
            ap.error(f"no gt.txt under {root} (run python -m benchmarks.mosaic first)")
        out[set_name] = evaluate(root, chosen,
                                 None if args.cache is None else args.cache / set_name,
                                 half=args.half if set_name == "dev" and args.half else "")
        print(markdown(set_name, out[set_name]), flush=True)
        print(flush=True)
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
