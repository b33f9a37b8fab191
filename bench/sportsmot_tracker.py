"""The tracker on SportsMOT basketball sequences, beside a greedy nearest-neighbour baseline.

    python bench/sportsmot_tracker.py [DATA_DIR] [--fit-per-video N] [--threshold PX] [--seed S] [--json]

DATA_DIR holds MOT Challenge sequence folders (default: ../shared/data/sportsmot relative to
the repository), named ``<video>_c<clip>`` as SportsMOT names them. The tracker's parameters
and the baseline's are fitted (``generators.reference.fit_tracker``: coordinate search maximising mean
IDF1) on the first N clips (name order) of each video, default 1, and both are scored with
motmetrics on all the other clips: held-out moments of the same broadcasts, so that the fit
sees each broadcast's scale (players' size in pixels, hence their speed in pixels, differs
between broadcasts). docs/quality.md records the figures. Two conditions, each fitted separately:

    clean   every ground-truth box's exact foot-point, confidence 1
    noisy   foot-points with 3%-of-box-height noise, 10% dropouts, 0.5 false positives a frame

Detections are seeded by --seed and the sequence name, so every run prints the same figures.
Data: SportsMOT (Cui et al., "SportsMOT: A Large Multi-Object Tracking Dataset in Multiple
Sports Scenes", ICCV 2023), CC BY-NC 4.0; research and test use only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from generators.models.tracking.tracker import Tracker
from generators.reference.fit_tracker import FitSequence, fit_greedy, fit_tracker
from generators.reference.mot import DetectionNoise, MotScores, MotSequence, detections_from_gt, evaluate, read_sequence
from generators.reference.tracker_baseline import greedy_nearest

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sportsmot"
CITATION = 'Cui et al., "SportsMOT: A Large Multi-Object Tracking Dataset in Multiple Sports Scenes", ICCV 2023 (CC BY-NC 4.0)'
CONDITIONS: dict[str, DetectionNoise | None] = {"clean": None, "noisy": DetectionNoise()}
METRICS = ("idf1", "mota", "id_switches")


def _mean(scores: list[MotScores]) -> dict[str, float]:
    return {m: float(np.mean([getattr(s, m) for s in scores])) for m in METRICS}


def fit_split(names: list[str], per_video: int) -> list[bool]:
    """Whether each sequence (names in order) is fitted on: the first ``per_video`` of its video."""
    seen: dict[str, int] = {}
    fit = []
    for name in names:
        video = name.rsplit("_c", 1)[0]
        seen[video] = seen.get(video, 0) + 1
        fit.append(seen[video] <= per_video)
    return fit


def run_condition(name: str, noise: DetectionNoise | None, sequences: list[MotSequence], is_fit: list[bool], threshold: float, seed: int) -> dict[str, Any]:
    dets = [detections_from_gt(s.gt, s.info, noise, seed=seed + zlib.crc32(s.info.name.encode())) for s in sequences]
    fit_set = [FitSequence(s.gt, d) for s, d, f in zip(sequences, dets, is_fit, strict=True) if f]
    t0 = time.perf_counter()
    fitted = fit_tracker(fit_set, threshold)
    t1 = time.perf_counter()
    fitted_greedy = fit_greedy(fit_set, threshold)
    t2 = time.perf_counter()
    tracker = Tracker(fitted.params)
    rows: list[dict[str, Any]] = []
    track_seconds = 0.0
    n_dets = 0
    for s, d, f in zip(sequences, dets, is_fit, strict=True):
        t = time.perf_counter()
        ids = tracker.track(d.frame, d.xy, d.conf)
        track_seconds += time.perf_counter() - t
        n_dets += len(d.frame)
        base = greedy_nearest(d.frame, d.xy, d.conf, fitted_greedy.params)
        rows.append(
            {
                "sequence": s.info.name,
                "split": "fit" if f else "held-out",
                "detections": len(d.frame),
                "tracker": evaluate(s.gt, d.frame, d.xy, ids, threshold).model_dump(),
                "baseline": evaluate(s.gt, d.frame, d.xy, base, threshold).model_dump(),
            }
        )
    held = [r for r in rows if r["split"] == "held-out"]
    return {
        "condition": name,
        "noise": noise.model_dump() if noise is not None else None,
        "tracker_params": fitted.params.model_dump(),
        "tracker_fit": {"mean_idf1": fitted.score, "evaluations": fitted.evaluations, "seconds": t1 - t0},
        "baseline_params": fitted_greedy.params.model_dump(),
        "baseline_fit": {"mean_idf1": fitted_greedy.score, "evaluations": fitted_greedy.evaluations, "seconds": t2 - t1},
        "sequences": rows,
        "held_out_mean": {
            "tracker": _mean([MotScores(**r["tracker"]) for r in held]),
            "baseline": _mean([MotScores(**r["baseline"]) for r in held]),
        },
        "tracker_detections_per_second": n_dets / track_seconds if track_seconds else 0.0,
    }


def print_condition(result: dict[str, Any]) -> None:
    print(f"\n== {result['condition']} detections" + (f" (noise {result['noise']})" if result["noise"] else ""))
    print(f"tracker params  {result['tracker_params']}")
    print(f"baseline params {result['baseline_params']}")
    print(f"{'sequence':22} {'split':9} {'tracker IDF1':>12} {'MOTA':>6} {'IDsw':>5}   {'baseline IDF1':>13} {'MOTA':>6} {'IDsw':>5}")
    for r in result["sequences"]:
        t, b = r["tracker"], r["baseline"]
        print(f"{r['sequence']:22} {r['split']:9} {t['idf1']:12.3f} {t['mota']:6.3f} {t['id_switches']:5d}   {b['idf1']:13.3f} {b['mota']:6.3f} {b['id_switches']:5d}")
    t, b = result["held_out_mean"]["tracker"], result["held_out_mean"]["baseline"]
    print(f"{'mean of held-out':32} {t['idf1']:12.3f} {t['mota']:6.3f} {t['id_switches']:5.1f}   {b['idf1']:13.3f} {b['mota']:6.3f} {b['id_switches']:5.1f}")
    print(f"tracking speed: {result['tracker_detections_per_second']:,.0f} detections/s; fit: {result['tracker_fit']['evaluations']} parameter sets in {result['tracker_fit']['seconds']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="folder of MOT sequence folders")
    ap.add_argument("--fit-per-video", type=int, default=1, help="fit on the first N clips of each video (name order), score on the rest")
    ap.add_argument("--threshold", type=float, default=25.0, help="foot-point match distance in pixels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    folders = sorted(p for p in args.data.iterdir() if (p / "gt" / "gt.txt").is_file()) if args.data.is_dir() else []
    is_fit = fit_split([p.name for p in folders], args.fit_per_video)
    if not any(is_fit) or all(is_fit):
        print(f"{args.data}: {len(folders)} MOT sequence folders; --fit-per-video {args.fit_per_video} leaves nothing to fit on or to score", file=sys.stderr)
        return 2
    sequences = [read_sequence(p) for p in folders]
    results = [run_condition(name, noise, sequences, is_fit, args.threshold, args.seed) for name, noise in CONDITIONS.items()]
    report = {
        "data": str(args.data.resolve()),
        "citation": CITATION,
        "threshold_px": args.threshold,
        "seed": args.seed,
        "fit_on": [s.info.name for s, f in zip(sequences, is_fit, strict=True) if f],
        "held_out": [s.info.name for s, f in zip(sequences, is_fit, strict=True) if not f],
        "conditions": results,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"SportsMOT tracker benchmark: {len(sequences)} sequences from {report['data']}")
    print(f"data: {CITATION}")
    print(f"fitted on {', '.join(report['fit_on'])}; scored with motmetrics, foot-points matched within {args.threshold:g} px")
    for r in results:
        print_condition(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
