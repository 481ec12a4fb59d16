"""Speed as users run it: whole processes on a folder of the original JPEGs, peak memory.

    python -m benchmarks.speed --deface "$(which deface)" --runs 3
    python -m benchmarks.speed --veil="" --veil="--no-verify --method solid" --runs 3
    python -m benchmarks.speed --cores 0 --veil ""            # pinned to one core
    python -m benchmarks.speed --repeat 10 --veil "" --runs 1  # 1,030 photos: memory

Each tool runs as a whole process (start-up included) on one flat folder holding the
images (``--repeat K``: K copies of each, ``rep<k>__<name>``), one run after the other,
tools alternating within each round; the figure is the median images per second. Peak
memory is the largest sum of resident memory over the process and all its children
(sampled from ``/proc`` every 50 ms), so a pool of workers counts whole; each process's
own peak is recorded too (its largest sampled RSS, its ``VmHWM``, its RSS at the tree's
peak, and its RSS every 2 s: ``processes`` in ``--json``, one line each on stderr), named
by role (the batch process, a pool worker, multiprocessing's resource tracker). CPU-seconds
are user + system time of the process and its descendants.
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
    return sum(_rss_kb(pid) for pid in tree_pids(root))


def tree_pids(root: int) -> list[int]:
    """A process and all its descendants."""
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(_children(pid))
    return pids


def _hwm_kb(pid: int) -> int:
    """The process's own peak resident memory so far (VmHWM), in KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return 0


def role(pid: int, root: int) -> str:
    """What a process of veil's tree is: the batch process, a pool worker, the
    resource tracker (read from its command line)."""
    if pid == root:
        return "batch"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    if "resource_tracker" in cmd:
        return "resource tracker"
    if "spawn_main" in cmd or "forkserver" in cmd:
        return "worker"
    return "other"


@dataclass
class ProcPeak:
    """One process of the measured tree: its role, its largest sampled RSS, its VmHWM as
    last read before it ended, its RSS at the tree's peak, and its RSS over time."""

    pid: int
    role: str
    peak_rss_kb: int = 0
    hwm_kb: int = 0
    at_tree_peak_kb: int = 0
    first_s: float = 0.0
    last_s: float = 0.0
    trace: list[tuple[float, int]] = field(default_factory=list)  # (s, RSS KiB), every ~2 s

    def to_dict(self) -> dict[str, object]:
        return {"pid": self.pid, "role": self.role,
                "peak_rss_mib": round(self.peak_rss_kb / 1024, 1),
                "hwm_mib": round(self.hwm_kb / 1024, 1),
                "at_tree_peak_mib": round(self.at_tree_peak_kb / 1024, 1),
                "seconds": [round(self.first_s, 1), round(self.last_s, 1)],
                "trace_mib": [[round(t, 1), round(kb / 1024, 1)] for t, kb in self.trace]}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


#: the processes of the last :func:`run_measured`, each with its own peak
LAST_PROCESSES: list[ProcPeak] = []


def run_measured(cmd: list[str]) -> tuple[float, int, float]:
    """Run a command to completion; return (wall seconds, peak tree RSS in MiB, CPU
    seconds of the process and its waited-for descendants). Each process's own peak
    (sampled RSS, and VmHWM read while it lives) is left in :data:`LAST_PROCESSES`."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0]
    procs: dict[int, ProcPeak] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            now = time.perf_counter() - t0
            sizes = {}
            for pid in tree_pids(proc.pid):
                rss = _rss_kb(pid)
                if not rss:
                    continue
                sizes[pid] = rss
                p = procs.get(pid)
                if p is None:
                    p = procs[pid] = ProcPeak(pid, role(pid, proc.pid), first_s=now)
                elif p.role == "other":  # a child between fork and exec: named later
                    p.role = role(pid, proc.pid)
                p.peak_rss_kb = max(p.peak_rss_kb, rss)
                p.hwm_kb = max(p.hwm_kb, _hwm_kb(pid))
                p.last_s = now
                if not p.trace or now - p.trace[-1][0] >= 2.0:
                    p.trace.append((now, rss))
            total = sum(sizes.values())
            if total > peak[0]:
                peak[0] = total
                for p in procs.values():
                    p.at_tree_peak_kb = sizes.get(p.pid, 0)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    LAST_PROCESSES[:] = sorted(procs.values(), key=lambda p: (p.first_s, p.pid))
    if proc.returncode != 0:
        tail = err.strip().splitlines()[-3:]
        raise RuntimeError(f"{shlex.join(cmd[:4])}... exited {proc.returncode}: {' | '.join(tail)}")
    return seconds, peak[0] // 1024, _children_cpu() - cpu0


def print_processes(processes: list[ProcPeak]) -> None:
    """Each process's own peak, to stderr."""
    for p in processes:
        print(f"    {p.role:16} pid {p.pid}: peak RSS {p.peak_rss_kb / 1024:.0f} MiB, "
              f"VmHWM {p.hwm_kb / 1024:.0f} MiB, at the tree's peak "
              f"{p.at_tree_peak_kb / 1024:.0f} MiB, alive {p.first_s:.0f}-{p.last_s:.0f} s",
              file=sys.stderr)


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
    processes: list[list[dict[str, object]]] = field(default_factory=list)  # per run

    def row(self, n: int) -> dict[str, object]:
        med = statistics.median(self.seconds)
        return {"tool": self.name, "images": n, "images_per_s": round(n / med, 2),
                "seconds": [round(s, 1) for s in self.seconds],
                "cpu_s": round(statistics.median(self.cpu_s), 1),
                "peak_mib": max(self.peak_mib), "processes": self.processes}


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
            tool.processes.append([p.to_dict() for p in LAST_PROCESSES])
            print(f"run {r + 1}: {tool.name}: {seconds:.1f} s, {n / seconds:.2f} images/s, "
                  f"CPU {cpu:.1f} s, peak {peak} MiB", file=sys.stderr)
            print_processes(LAST_PROCESSES)
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
