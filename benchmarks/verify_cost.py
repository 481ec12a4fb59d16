"""Verification's cost on photos, in CPU-seconds: the default job, then ``verify_pair``.

    python -m benchmarks.verify_cost [--data DIR] [--limit N] [--work bench-out/vcost]
        [--profile out.pstats] [--json out.json] [--threads N]
    python -m benchmarks.verify_cost --repair [--no-memo] [--yunet-search tiled] ...
    python -m benchmarks.verify_cost --yunet [--seeds 0.05 0.1 0.2] ...

Each picture (a WIDER root's ``images/``, or any folder of pictures) is made the way
``veil`` makes it by default (blur, verification off) once; its output and plan are kept
under ``--work`` and reused by later runs, so that a change to verification is measured on
the very same outputs. Then every output is verified with its plan, as the default run
does. Costs are process CPU-seconds (``time.process_time``: user + system of every thread
of this process), which stay meaningful on a shared machine where wall time does not;
the ratio is verification's CPU-s over the job's. ``--repair`` runs what the default run
runs after a job, verification with its repair rounds (on a copy of each output), and
``--no-memo`` keeps nothing between a photo's rounds. ``--profile`` writes a cProfile of the
verification phase only. Wall speed, on a quiet machine, is ``benchmarks.speed``'s
(default against ``--no-verify``).

``--yunet`` compares, on the same outputs, YuNet's search over the whole picture at 2x
(``tiled``) with the adaptive one (2x on the chips YuNet's own faint candidates open) at
each ``--seeds`` score: YuNet CPU-s, the share of the picture the chips cover, and the
candidates of the whole search (scoring 0.3 / 0.6 or more, 8 px or more) that the adaptive
one does not find again (IoU < 0.5 with all of its candidates).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import sys
import time
from pathlib import Path
from typing import Any

from veil.jobs.image import anonymize_image_file
from veil.plan.record import Plan
from veil.verify.check import verify_pair

PICTURES = (".jpg", ".jpeg", ".png", ".webp")


def pictures(data: Path) -> list[Path]:
    folder = data / "images" if (data / "images").is_dir() else data
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in PICTURES)


def make_jobs(items: list[Path], work: Path) -> dict[str, float]:
    """The default job's output and plan of each picture (made once); job CPU-s each."""
    cost_file = work / "job_cpu.json"
    costs: dict[str, float] = json.loads(cost_file.read_text()) if cost_file.exists() else {}
    for k, src in enumerate(items):
        key = str(k)
        out, plan = work / f"{k:04d}{src.suffix.lower()}", work / f"{k:04d}.plan.json"
        if key in costs and out.exists() and plan.exists():
            continue
        t0 = time.process_time()
        res = anonymize_image_file(src, out, plan_path=plan, overwrite=True)
        if not res.ok:
            raise SystemExit(f"verify_cost: {src.name}: {res.error}")
        costs[key] = time.process_time() - t0
        cost_file.write_text(json.dumps(costs))
    return costs


def compare_yunet(items: list[Path], work: Path, seeds: list[float],
                  whole_scale: float | None = None) -> dict[str, Any]:
    """Whole 2x search against adaptive, per seed score (see the module's text)."""
    import numpy as np

    from veil.detections import box_iou
    from veil.verify import frames as media
    from veil.verify.residual import MIN_RESIDUAL_SIDE, ResidualFinder

    full = ResidualFinder(hog=False, yunet_floor=0.3, yunet_search="tiled")
    ada = {s: ResidualFinder(hog=False, yunet_floor=0.3, seed_score=s, whole_scale=whole_scale)
           for s in seeds}
    assert full.yunet is not None
    total: dict[str, Any] = {"tiled_cpu_s": 0.0, "pictures": 0, "megapixels": 0.0,
                             **{f"seed {s}": {"cpu_s": 0.0, "chip_share": 0.0,
                                              "lost_0.3": [], "lost_0.6": [],
                                              "found_0.3": 0, "found_0.6": 0}
                                for s in seeds}}
    for k, src in enumerate(items):
        out = media.read_any_rgb(work / f"{k:04d}{src.suffix.lower()}")
        h, w = out.shape[:2]
        t0 = time.process_time()
        ref = full.yunet.scan(out)
        total["tiled_cpu_s"] += time.process_time() - t0
        total["pictures"] += 1
        total["megapixels"] += w * h / 1e6
        b = ref.boxes
        keep = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) >= MIN_RESIDUAL_SIDE
        ref = ref[keep]
        for s, f in ada.items():
            t0 = time.process_time()
            assert f.yunet is not None
            parts, chips = f.yunet_parts(out)
            got = f.yunet.combine(parts, w, h)
            row = total[f"seed {s}"]
            row["cpu_s"] += time.process_time() - t0
            row["chip_share"] += sum((c[2] - c[0]) * (c[3] - c[1]) for c in chips) / (w * h)
            for floor in (0.3, 0.6):
                mine = ref[ref.scores >= floor]
                row[f"found_{floor}"] += len(mine)
                if not len(mine):
                    continue
                iou = (box_iou(mine.boxes, got.boxes).max(axis=1) if len(got)
                       else np.zeros(len(mine)))
                for i in np.flatnonzero(iou < 0.5):
                    bb = mine.boxes[i]
                    row[f"lost_{floor}"].append(
                        {"name": src.name, "box": [round(float(v), 1) for v in bb],
                         "score": round(float(mine.scores[i]), 3)})
        print(f"[{k + 1}/{len(items)}] {src.name}: " + ", ".join(
            f"seed {s}: lost {len(total[f'seed {s}']['lost_0.6'])}" for s in seeds),
            file=sys.stderr, flush=True)
    for s in seeds:
        total[f"seed {s}"]["chip_share"] /= max(1, total["pictures"])
    return total


def main(argv: list[str] | None = None) -> int:
    from benchmarks.wider import default_root

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_root())
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--work", type=Path, default=Path("bench-out/vcost"))
    ap.add_argument("--profile", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--yunet", action="store_true",
                    help="compare YuNet's whole 2x search with the adaptive one instead")
    ap.add_argument("--seeds", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    ap.add_argument("--whole-scale", type=float, default=None,
                    help="with --yunet: the adaptive search's finest whole pass (default 1)")
    ap.add_argument("--repair", action="store_true",
                    help="verify and repair as the default run does (a copy of each "
                         "output): the CPU-s include the repair rounds")
    ap.add_argument("--no-memo", action="store_true",
                    help="keep nothing between verifications of the same photo (as "
                         "before session 7)")
    ap.add_argument("--yunet-search", choices=("adaptive", "tiled"), default=None,
                    help="verify with this YuNet search (default: the shipped one)")
    ap.add_argument("--yunet-scale", type=float, default=None,
                    help="with --yunet-search: YuNet's finest pass at this zoom")
    ap.add_argument("--yunet-score", type=float, default=None,
                    help="with --yunet-search: a YuNet candidate counts from this score")
    ap.add_argument("--yunet-seed", type=float, default=None,
                    help="with --yunet-search adaptive: the score of YuNet's seeds at 1x")
    ap.add_argument("--threads", type=int, default=None,
                    help="onnxruntime threads of every network in this process (default: "
                         "the cores it may use); 1 is what each worker of a default batch "
                         "runs with, and avoids counting idle threads' spinning as CPU-s")
    args = ap.parse_args(argv)
    if args.threads is not None:
        from veil.scan.base import set_default_threads

        set_default_threads(args.threads)
    if args.yunet_search:
        from benchmarks.planted_miss import use_finder

        use_finder(args.yunet_scale, args.yunet_search, args.yunet_score, args.yunet_seed)
    if args.no_memo:
        from veil.verify import recognition, residual

        recognition.MEMO_SIZE = -1
        residual.MEMO_INPUTS = -1
    items = pictures(args.data)[: args.limit]
    if not items:
        ap.error(f"no pictures under {args.data}")
    args.work.mkdir(parents=True, exist_ok=True)
    job = make_jobs(items, args.work)
    if args.yunet:
        result = compare_yunet(items, args.work, args.seeds, args.whole_scale)
        print(json.dumps({k: ({kk: vv for kk, vv in v.items() if not kk.startswith("lost")}
                              | {kk: len(vv) for kk, vv in v.items() if kk.startswith("lost")}
                              if isinstance(v, dict) else v) for k, v in result.items()}))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1))
        return 0
    # load the models once (a one-off per process, not a per-photo cost)
    from veil.verify.check import _finder
    from veil.verify.recognition import _models

    _finder(Plan.load(args.work / "0000.plan.json").scan, True, True)
    _models()
    prof = cProfile.Profile() if args.profile else None
    rows: list[dict[str, Any]] = []
    for k, src in enumerate(items):
        out, plan = args.work / f"{k:04d}{src.suffix.lower()}", args.work / f"{k:04d}.plan.json"
        p = Plan.load(plan)
        rounds = 0
        if args.repair:  # as the default run does: verify, repair, verify again
            import shutil

            from veil.jobs.repair import verify_and_repair
            from veil.jobs.result import FileResult

            tmp = args.work / "repair" / out.name
            tmp.parent.mkdir(exist_ok=True)
            shutil.copyfile(out, tmp)
            res = FileResult(source=src, output=tmp, plan=p)
        t0 = time.process_time()
        if prof is not None:
            prof.enable()
        if args.repair:
            res, _ = verify_and_repair(res)
            assert res.verification is not None and res.verification.verification is not None
            v = res.verification.verification
            rounds = int(res.verification.repair["rounds"])
        else:
            v = verify_pair(src, out, p)
        if prof is not None:
            prof.disable()
        cpu = time.process_time() - t0
        rows.append({"name": src.name, "job_cpu_s": round(job[str(k)], 3),
                     "verify_cpu_s": round(cpu, 3), "passed": v.passed,
                     "residual": len(v.residual_faces), "reid": len(v.reid),
                     "reid_refs": sum(r.reference is not None for r in v.reid),
                     "repair_rounds": rounds})
        print(f"[{k + 1}/{len(items)}] {src.name}: job {job[str(k)]:.2f} CPU-s, "
              f"verify {cpu:.2f} CPU-s, {'passed' if v.passed else 'FAILED'}",
              file=sys.stderr, flush=True)
    if prof is not None:
        prof.dump_stats(str(args.profile))
    job_s = sum(r["job_cpu_s"] for r in rows)
    ver_s = sum(r["verify_cpu_s"] for r in rows)
    summary = {"pictures": len(rows), "job_cpu_s": round(job_s, 2),
               "verify_cpu_s": round(ver_s, 2), "ratio": round(ver_s / max(job_s, 1e-9), 3),
               "failed": sum(not r["passed"] for r in rows),
               "reid_faces": sum(r["reid"] for r in rows),
               "reid_refs": sum(r["reid_refs"] for r in rows),
               "repair_rounds": sum(r["repair_rounds"] for r in rows)}
    print(json.dumps(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
