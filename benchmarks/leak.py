"""Photo benchmark: leak rate, collateral and images per second, veil beside deface.

    python -m benchmarks.leak                      # veil only
    python -m benchmarks.leak --deface "$(which deface)" --runs 3

Both tools are run as whole processes on the same lossless PNG copies of
``../shared/data/wider-val-dev``; each is judged black-box by the pixels it
changed (../shared/METRICS.md): leak with a solid fill, speed with each tool's
default method.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.metrics import Totals, black_box_mask, score_frame
from benchmarks.wider import DIFFICULTIES, WiderImage, default_root, load_wider


@dataclass
class ToolRun:
    """Figures for one tool."""

    name: str
    totals: Totals = field(default_factory=Totals)
    lists: dict[str, Totals] = field(default_factory=dict)
    speed_runs: list[float] = field(default_factory=list)  # images per second, one per run
    missing_outputs: int = 0

    def row(self, n_images: int) -> dict[str, object]:
        t = self.totals
        d: dict[str, object] = {
            "tool": self.name,
            "leaked": t.leaked,
            "counted": t.counted,
            "leak_rate": round(t.leak_rate, 4),
            "collateral": round(t.collateral, 3),
            "missing_outputs": self.missing_outputs,
        }
        for k, v in self.lists.items():
            d[f"leak_{k}"] = round(v.leak_rate, 4)
        if self.speed_runs:
            d["images_per_s"] = round(statistics.median(self.speed_runs), 2)
            d["speed_runs"] = [round(v, 2) for v in self.speed_runs]
        d["images"] = n_images
        return d


def flat_name(name: str) -> str:
    """``event/x.jpg`` → ``event__x.png`` (deface reads one folder, not a tree)."""
    return name.replace("/", "__").rsplit(".", 1)[0] + ".png"


def make_pngs(root: Path, images: list[WiderImage], dest: Path) -> None:
    """Lossless PNG copies of the dev images, flat in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for im in images:
        out = dest / flat_name(im.name)
        if not out.exists():
            Image.open(root / "images" / im.name).convert("RGB").save(out)


def timed(cmd: list[str]) -> float:
    """Run a command to completion; return wall seconds; raise if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"{shlex.join(cmd[:3])}... exited {proc.returncode}: {' | '.join(tail)}")
    return seconds


def run_veil(pngs: Path, out: Path, method: str | None, extra: list[str]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "veil", str(pngs), "-o", str(out), "-q", "--no-verify"]
    if method:
        cmd += ["--method", method]
    return timed(cmd + extra)


def run_deface(deface: str, pngs: Path, work: Path, solid: bool, extra: list[str]) -> float:
    """deface writes ``<name>_anonymized.png`` beside each input: give it a copy."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(pngs, work)
    cmd = [deface, str(work)] + (["--replacewith", "solid"] if solid else []) + extra
    return timed(cmd)


def veil_output(out: Path, png: Path) -> Path:
    return out / png.name


def deface_output(work: Path, png: Path) -> Path:
    return work / f"{png.stem}_anonymized{png.suffix}"


def score_tool(run: ToolRun, images: list[WiderImage], pngs: Path, locate) -> None:  # noqa: ANN001
    run.totals = Totals()
    run.lists = {d: Totals() for d in DIFFICULTIES}
    for im in images:
        png = pngs / flat_name(im.name)
        original = np.asarray(Image.open(png).convert("RGB"))
        out_path = locate(png)
        if out_path.exists():
            output = np.asarray(Image.open(out_path).convert("RGB"))
            if output.shape != original.shape:
                output = cv2.resize(output, original.shape[1::-1],
                                    interpolation=cv2.INTER_NEAREST)
            mask = black_box_mask(original, output)
        else:  # no output: nothing was masked
            run.missing_outputs += 1
            mask = np.zeros(original.shape[:2], dtype=bool)
        s = score_frame(mask, im.boxes, im.invalid)
        run.totals.add(s)
        for d in DIFFICULTIES:
            run.lists[d].add(s, im.lists[d])


def markdown(rows: list[dict[str, object]]) -> str:
    head = ("| tool | leaked / counted | leak rate | easy | medium | hard | collateral "
            "| images/s (median) | runs |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['tool']} | {r['leaked']}/{r['counted']} | {100 * float(r['leak_rate']):.1f}% "
            f"| {100 * float(r['leak_easy']):.1f}% | {100 * float(r['leak_medium']):.1f}% "
            f"| {100 * float(r['leak_hard']):.1f}% | {float(r['collateral']):.2f} "
            f"| {r.get('images_per_s', '-')} | {r.get('speed_runs', '-')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_root(),
                    help="the wider-val-dev folder (default: ../shared/data/wider-val-dev)")
    ap.add_argument("--work", type=Path, default=Path("bench-out/leak"),
                    help="scratch folder for PNG copies and outputs")
    ap.add_argument("--deface", default=None, help="deface executable to compare with")
    ap.add_argument("--deface-args", default="", help="extra deface arguments, e.g. '-t 0.1'")
    ap.add_argument("--veil-args", default="", help="extra veil arguments, e.g. '--fast'")
    ap.add_argument("--runs", type=int, default=0,
                    help="speed runs per tool (default method, interleaved); 0 = no speed runs")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    if not (args.data / "gt.txt").exists():
        ap.error(f"no gt.txt under {args.data}")
    images = load_wider(args.data)
    pngs = args.work / "png"
    make_pngs(args.data, images, pngs)
    veil_extra = shlex.split(args.veil_args)
    deface_extra = shlex.split(args.deface_args)

    label = "veil" + (f" {args.veil_args}" if args.veil_args else "")
    runs = [ToolRun(label)]
    veil_solid = args.work / "veil-solid"
    run_veil(pngs, veil_solid, "solid", veil_extra)
    score_tool(runs[0], images, pngs, lambda p: veil_output(veil_solid, p))
    if args.deface:
        dlabel = "deface" + (f" {args.deface_args}" if args.deface_args else "")
        runs.append(ToolRun(dlabel))
        d_solid = args.work / "deface-solid"
        run_deface(args.deface, pngs, d_solid, True, deface_extra)
        score_tool(runs[1], images, pngs, lambda p: deface_output(d_solid, p))

    for _ in range(args.runs):
        secs = run_veil(pngs, args.work / "veil-speed", None, veil_extra)
        runs[0].speed_runs.append(len(images) / secs)
        if args.deface:
            secs = run_deface(args.deface, pngs, args.work / "deface-speed", False, deface_extra)
            runs[1].speed_runs.append(len(images) / secs)

    rows = [r.row(len(images)) for r in runs]
    print(markdown(rows))
    if len(rows) == 2 and "images_per_s" in rows[0] and "images_per_s" in rows[1]:
        ratio = float(rows[0]["images_per_s"]) / float(rows[1]["images_per_s"])  # type: ignore[arg-type]
        print(f"\nspeed ratio veil/deface: {ratio:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
