"""Speed as users run it: whole processes on a folder of the original JPEGs, peak memory.

    python -m benchmarks.speed --deface "$(which deface)" --runs 3
    python -m benchmarks.speed --veil="" --veil="--no-verify --method solid" --runs 3
    python -m benchmarks.speed --cores 0 --veil ""            # pinned to one core
    python -m benchmarks.speed --repeat 10 --veil "" --runs 1  # 1,030 photos: memory

Each tool runs as a whole process (start-up included) on one flat folder holding the
images (``--repeat K``: K copies of each, ``rep<k>__<name>``), one run after the other,
tools alternating within each round; the figure is the median images per second. Peak
memory is the largest sum of resident memory over the process and all its children
(sampled from ``/proc`` every 50 ms), so a pool of workers counts whole; CPU-seconds are
user + system time of the process and its descendants.
``--cores`` pins every run with ``taskset -c``. Nothing is scored here; protection is
``benchmarks.leak``'s job.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.wider import default_root

_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss_kb(root: int) -> int:
    """Resident memory of a process and all its descendants, in KiB."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_kb(pid)
        stack.extend(_children(pid))
    return total


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_measured(cmd: list[str]) -> tuple[float, int, float]:
    """Run a command to completion; return (wall seconds, peak tree RSS in MiB, CPU
    seconds of the process and its waited-for descendants)."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_kb(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    if proc.returncode != 0:
        tail = err.strip().splitlines()[-3:]
        raise RuntimeError(f"{shlex.join(cmd[:4])}... exited {proc.returncode}: {' | '.join(tail)}")
    return seconds, peak[0] // 1024, _children_cpu() - cpu0


def make_folder(images: Path, dest: Path, repeat: int) -> int:
    """A flat folder of the images' original bytes (hard links where possible), each
    ``repeat`` times; returns the number of files."""
    files = sorted(p for p in images.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg"})
    if not files:
        raise SystemExit(f"no JPEG files under {images}")
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    for k in range(repeat):
        for p in files:
            flat = "__".join(p.relative_to(images).parts)
            out = dest / (f"rep{k:03d}__{flat}" if repeat > 1 else flat)
            if not out.exists():
                try:
                    os.link(p, out)
                except OSError:
                    shutil.copyfile(p, out)
            n += 1
    return n


@dataclass
class Tool:
    name: str
    seconds: list[float] = field(default_factory=list)
    peak_mib: list[int] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    def row(self, n: int) -> dict[str, object]:
        med = statistics.median(self.seconds)
        return {"tool": self.name, "images": n, "images_per_s": round(n / med, 2),
                "seconds": [round(s, 1) for s in self.seconds],
                "cpu_s": round(statistics.median(self.cpu_s), 1),
                "peak_mib": max(self.peak_mib)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None,
                    help="folder of JPEGs [default: ../shared/data/wider-val-dev/images]")
    ap.add_argument("--work", type=Path, default=Path("bench-out/speed"))
    ap.add_argument("--repeat", type=int, default=1, help="copies of each image")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--veil", action="append", default=None,
                    help="extra arguments of one veil configuration (repeatable; '' = default)")
    ap.add_argument("--deface", default="", help="deface executable (omit to skip deface)")
    ap.add_argument("--deface-args", default="--replacewith solid",
                    help="deface's arguments [default: solid fill, as issue 12 asks]")
    ap.add_argument("--deface-only", action="store_true", help="run deface alone")
    ap.add_argument("--cores", default="", help="taskset -c CPU list for every run")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    images = args.data or default_root() / "images"
    if not images.is_dir():
        raise SystemExit(f"no image folder at {images} (needs ../shared/data)")
    folder = args.work / f"jpegs-x{args.repeat}"
    n = make_folder(images, folder, args.repeat)
    pin = ["taskset", "-c", args.cores] if args.cores else []
    configs = [] if args.deface_only else args.veil if args.veil is not None else [""]
    tools = [Tool(f"veil {c}".strip()) for c in configs]
    if args.deface:
        tools.append(Tool(f"deface {args.deface_args}".strip()))
    print(f"{n} images in {folder}; {len(tools)} tools x {args.runs} runs"
          + (f", pinned to CPU {args.cores}" if args.cores else ""), file=sys.stderr)
    for r in range(args.runs):
        for i, tool in enumerate(tools):
            if args.deface and i == len(tools) - 1:
                work = args.work / "deface-in"
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(folder, work)
                cmd = pin + [args.deface, str(work)] + shlex.split(args.deface_args)
            else:
                out = args.work / f"veil-out-{i}"
                shutil.rmtree(out, ignore_errors=True)
                shutil.rmtree(Path(f"{out}.veil"), ignore_errors=True)
                cmd = pin + [sys.executable, "-m", "veil", str(folder), "-o", str(out), "-q",
                             *shlex.split(configs[i])]
            seconds, peak, cpu = run_measured(cmd)
            tool.seconds.append(seconds)
            tool.peak_mib.append(peak)
            tool.cpu_s.append(cpu)
            print(f"run {r + 1}: {tool.name}: {seconds:.1f} s, {n / seconds:.2f} images/s, "
                  f"CPU {cpu:.1f} s, peak {peak} MiB", file=sys.stderr)
    rows = [t.row(n) for t in tools]
    print("| tool | images | images/s (median) | seconds per run | CPU-s (median) "
          "| peak memory (MiB) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['tool']} | {row['images']} | {row['images_per_s']} | "
              f"{', '.join(map(str, row['seconds']))} | {row['cpu_s']} | {row['peak_mib']} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"cores": args.cores, "repeat": args.repeat,
                                         "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
