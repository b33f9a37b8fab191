"""track-level's peak memory against game length: a synthetic game and one ``--factor`` times longer.

    PYTHONPATH=.:tests python bench/track_level_memory.py [--frames 25000] [--factor 4] [--layer module:Class] [--dir DIR] [--json]

For each length, a synthetic frame-level table (``tests/synthetic_frames.py``: two cameras,
12 people each, ~11 detections a frame, 16-d embeddings, row groups of 65,536 rows) is
published by the stand-in ``frame-level`` layer; then ``artifacts build track-level --jobs 1``
runs in a fresh process (``--jobs 1`` runs the task in that process) and its peak resident
set size is read from ``os.wait4`` in a small launcher (``ru_maxrss``: that process alone). ``floor`` is the same
command once the artifact exists (a no-op build: imports and planning only).

``--layer`` builds another implementation of track-level instead (a ``module:Class`` on
``PYTHONPATH``), for example the unchunked one of an older commit, to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from synthetic_frames import synthetic_workspace, write_detections

from artifacts import api
from artifacts.plan import Engine
from generators.models.tracking.tracker import Tracker

LAYER = "generators.layers.track_level.layer:TrackLevel"
# The build runs under this small launcher, not as a child of this process: Linux counts in a
# child's ru_maxrss the memory it shared with its parent before exec, and this process holds
# the tables it wrote.
LAUNCHER = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            "_pid, status, usage = os.wait4(p.pid, 0); print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))")


def peak_build(root: Path) -> tuple[float, float, int]:
    """(peak RSS MiB, wall s, exit code) of ``artifacts build track-level --jobs 1`` on ``root``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, "-m", "cli.main", "-w", str(root), "build", "track-level", "--jobs", "1"],
                         env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    maxrss_kib, code = (int(x) for x in out.stdout.split())
    return maxrss_kib / 1024, wall, code


def measure(base: Path, frames: int, layer: str) -> dict[str, object]:
    base.mkdir(parents=True, exist_ok=True)
    table = base / "detections.parquet"
    t0 = time.perf_counter()
    rows = write_detections(table, frames=frames, seed=frames)
    made_s = time.perf_counter() - t0
    Tracker().save(base / "tracker.safetensors")
    root = base / "ws"
    synthetic_workspace(root, {"g": table}, base / "tracker.safetensors")
    cfg = root / "artifacts.toml"
    cfg.write_text(cfg.read_text().replace(LAYER, layer))
    assert api.build(Engine.open(root), ["frame-level"]).ok()
    peak, wall, code = peak_build(root)
    if code != 0:
        raise SystemExit(f"build track-level on {root} failed with exit code {code}")
    floor, _wall, _code = peak_build(root)
    e = Engine.open(root)
    m = api.artifact(e, "track-level", "g").manifest
    return {"frames_per_camera": frames, "rows": rows, "table_mib": round(table.stat().st_size / 2**20, 1), "made_s": round(made_s, 1),
            "chunks": m.chunks, "build_s": round(wall, 1), "peak_rss_mib": round(peak, 1), "floor_rss_mib": round(floor, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=25_000, help="frames per camera of the short game")
    ap.add_argument("--factor", type=int, default=4, help="the long game has this many times the frames")
    ap.add_argument("--layer", default=LAYER, help="track-level implementation to build (module:Class)")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="track-level-memory-") as tmp:
        work = args.dir or Path(tmp)
        results = [measure(work / f"x{k}", args.frames * k, args.layer) for k in (1, args.factor)]
    if args.json:
        print(json.dumps({"layer": args.layer, "results": results}, indent=1))
        return
    print(f"layer {args.layer}")
    print(f"{'frames/camera':>13} {'rows':>10} {'table MiB':>9} {'chunks':>6} {'build s':>7} {'peak RSS MiB':>12} {'floor MiB':>9}")
    for r in results:
        print(f"{r['frames_per_camera']:>13,} {r['rows']:>10,} {r['table_mib']:>9} {r['chunks']:>6} {r['build_s']:>7} {r['peak_rss_mib']:>12} {r['floor_rss_mib']:>9}")


if __name__ == "__main__":
    main()
