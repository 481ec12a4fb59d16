"""Images per second through ``--engine ray`` against the local engine, on one machine.

    python -m benchmarks.ray_rate                      # the dev set, both engines, 1 run
    python -m benchmarks.ray_rate --limit 30 --runs 3  # 30 photos, median of 3 runs

Each run is a whole ``veil`` process (start-up included: for Ray, starting a local Ray
instance and its actors) on one flat folder of the dev set's JPEGs (``--limit``: the
first N by name), with the default settings (verification on) and ``--workers`` (default:
the cores of this machine), the engines alternating within each round. The figure per
engine is the median images per second; Ray's overhead is how much longer its run takes
(``ray / local - 1``). The outputs of the two engines are compared byte for byte. This
per-node rate is what the README's cluster arithmetic starts from.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.wider import default_root


def _photos(root: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in (root / "images").rglob("*.jpg"))
    return files[:limit] if limit else files


def _run(engine: str, src: Path, out: Path, workers: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.with_name(out.name + ".veil"), ignore_errors=True)
    cmd = [sys.executable, "-m", "veil", str(src), "-o", str(out), "-q", "--engine", engine,
           "--workers", str(workers)]
    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local instance
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"{engine}: exit {done.returncode}: {done.stderr[-2000:]}")
    return seconds


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=default_root())
    ap.add_argument("--limit", type=int, default=None, help="the first N photos only")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    photos = _photos(args.root, args.limit)
    if not photos:
        raise SystemExit(f"no photos under {args.root}/images")
    with tempfile.TemporaryDirectory(prefix="veil-ray-rate-") as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        for p in photos:
            os.symlink(p.resolve(), src / f"{p.parent.name}__{p.name}")
        times: dict[str, list[float]] = {"local": [], "ray": []}
        for _ in range(args.runs):
            for engine in times:
                times[engine].append(_run(engine, src, Path(tmp) / engine, args.workers))
        identical = _files(Path(tmp) / "local") == _files(Path(tmp) / "ray")
    n = len(photos)
    med = {e: statistics.median(t) for e, t in times.items()}
    figures = {
        "photos": n, "workers": args.workers, "runs": args.runs,
        "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 1),
        "seconds": {e: round(s, 1) for e, s in med.items()},
        "images_per_second": {e: round(n / s, 3) for e, s in med.items()},
        "ray_overhead": round(med["ray"] / med["local"] - 1, 3),
        "ray_extra_seconds": round(med["ray"] - med["local"], 1),
        "outputs_identical": identical,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
