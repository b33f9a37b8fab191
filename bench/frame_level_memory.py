"""frame-level's peak memory against game length, and the table's bytes per detection.

    .venv/bin/python bench/frame_level_memory.py WEIGHTS_DIR [--seconds 30] [--factor 4] [--size 320x192]
        [--chunk-size 256] [--layer module:Class] [--dtypes float32,float16] [--dir DIR] [--json]

WEIGHTS_DIR holds the reference models (a directory from ``generators.reference.build``). For
each length (``--seconds``, then ``--factor`` times longer) a game is rendered (two cameras,
10 fps, ``--size``), and ``artifacts build frame-level --jobs 1`` runs in a fresh process
(``--jobs 1`` runs the task in that process; chunks of ``--chunk-size`` frames) under a small
launcher that reads its peak resident set size from ``os.wait4`` (``ru_maxrss``: that process
alone). ``floor`` is the same command once the artifact exists (imports and planning only).

For every ``--dtypes`` value the longer game is built with that ``vector_dtype`` and the
table's size is divided by its rows: bytes per detection, and per game-hour at 10 detections a
frame, 25 fps and 2 cameras (1.8 million detections).

``--merge-rows N`` then measures the merge alone, the one step whose memory depends on rows:
synthetic chunk parts (D = 64, float32, 2,048 rows each) of ``N`` and ``--factor`` times ``N``
rows in all are merged into ``detections.parquet`` by the layer's ``RowGroupWriter`` in a fresh
process (``merge_rss_mib``, under the same launcher). Rendered games long enough to fill a
65,536-row group (~8,000 frames at the reference detector's ~8 detections a frame) take
minutes per build on a CPU; the merge's buffer stops growing there.

``--layer`` builds another implementation of frame-level (a ``module:Class`` on
``PYTHONPATH``), for example the unchunked one of an older commit, to compare its memory.
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
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from artifacts import api
from artifacts.plan import Engine
from artifacts.workspace import init_workspace
from generators.reference.workspace import reference_models_yaml
from generators.render import render_game

LAYER = "generators.layers.frame_level.layer:FrameLevel"
DETECTIONS_PER_HOUR = 10 * 25 * 2 * 3600
# The build runs under this small launcher, not as a child of this process: Linux counts in a
# child's ru_maxrss the memory it shared with its parent before exec.
LAUNCHER = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            "_pid, status, usage = os.wait4(p.pid, 0); print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))")


def peak(command: list[str], what: str) -> tuple[float, float]:
    """(peak RSS MiB, wall s) of ``command`` run in a fresh process under the launcher."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *command], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    maxrss_kib, code = (int(x) for x in out.stdout.split())
    if code != 0:
        raise SystemExit(f"{what} failed with exit code {code}")
    return maxrss_kib / 1024, wall


def peak_build(root: Path) -> tuple[float, float]:
    """(peak RSS MiB, wall s) of ``artifacts build frame-level --jobs 1`` on ``root``."""
    return peak([sys.executable, "-m", "cli.main", "-w", str(root), "build", "frame-level", "--jobs", "1"], f"build frame-level on {root}")


PART_ROWS = 2048
MERGE = ("import sys; from pathlib import Path; import pyarrow.parquet as pq; "
         "from generators.layers.frame_level.merge import RowGroupWriter, copy_part; "
         "part, n, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]); "
         "w = RowGroupWriter(out, pq.ParquetFile(part).schema_arrow); "
         "[copy_part(pq.ParquetFile(part), w, 'part') for _ in range(n)]; w.close()")


def merge_peak(base: Path, rows: int) -> dict[str, object]:
    """Peak RSS of merging ``rows`` rows of synthetic parts (one 2,048-row part, copied)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from generators.layers.frame_level.table import schema

    base.mkdir(parents=True, exist_ok=True)
    part = base / "part.parquet"
    if not part.exists():
        rng = np.random.default_rng(0)
        target = schema(64, "float32")
        with pq.ParquetWriter(part, target, compression="zstd") as w:
            for k in range(PART_ROWS // 128):  # as a chunk writes them: a batch of 16 frames at a time
                n = 128
                w.write_table(pa.table({
                    "frame": pa.array(np.arange(n, dtype=np.int32) // 8 + 16 * k), "camera": pa.array(["left"] * n),
                    "px": pa.array(rng.random(n, np.float32)), "py": pa.array(rng.random(n, np.float32)), "confidence": pa.array(rng.random(n, np.float32)),
                    "embedding": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * 64, np.float32)), 64),
                    "jersey": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * 133, np.float32)), 133),
                    "team_probs": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(n * 3, np.float32)), 3),
                    "team": pa.array(rng.integers(0, 3, n).astype(np.int8)),
                }, schema=target))
    copies = max(1, rows // PART_ROWS)
    out = base / "detections.parquet"
    mib, wall = peak([sys.executable, "-c", MERGE, str(part), str(copies), str(out)], "merge")
    merged = pq.ParquetFile(out).metadata
    return {"rows": merged.num_rows, "row_groups": merged.num_row_groups, "merge_s": round(wall, 1), "merge_rss_mib": round(mib, 1)}


def measure(base: Path, weights: Path, seconds: float, size: tuple[int, int], layer: str, chunk_size: int, dtype: str) -> dict[str, object]:
    game = render_game(base / "game", "g", seed=5, seconds=seconds, size=size)
    root = base / f"ws-{dtype}"
    init_workspace(root, layers=[layer], entry_points=False)
    (root / "models.yaml").write_text(reference_models_yaml(weights, root))
    params = "" if dtype == "float32" else f'\n[params.frame-level]\nvector_dtype = "{dtype}"\n'
    with (root / "artifacts.toml").open("a") as f:
        f.write(f"\n[chunk_size]\nframe-level = {chunk_size}\n{params}")
    Engine.open(root).catalog.add_games([game.entry()])
    peak, wall = peak_build(root)
    floor, _wall = peak_build(root)
    e = Engine.open(root)
    reader = api.artifact(e, "frame-level", "g")
    rows = reader.table("detections.parquet", columns=["frame"]).num_rows
    nbytes = Path(reader.location("detections.parquet")).stat().st_size
    frames = game.frames * len(game.cameras)
    return {"seconds": seconds, "frames": frames, "dtype": dtype, "rows": rows, "chunks": reader.manifest.chunks, "build_s": round(wall, 1),
            "peak_rss_mib": round(peak, 1), "floor_rss_mib": round(floor, 1), "table_bytes": nbytes, "bytes_per_detection": round(nbytes / max(rows, 1), 1),
            "gib_per_game_hour": round(nbytes / max(rows, 1) * DETECTIONS_PER_HOUR / 2**30, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("weights_dir", type=Path)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the short game (10 fps, two cameras)")
    ap.add_argument("--factor", type=int, default=4, help="the long game is this many times longer")
    ap.add_argument("--size", default="320x192", help="frame size WxH")
    ap.add_argument("--chunk-size", type=int, default=256, help="frames per chunk")
    ap.add_argument("--layer", default=LAYER, help="frame-level implementation to build (module:Class)")
    ap.add_argument("--dtypes", default="float32,float16", help="vector_dtype values to build the long game with")
    ap.add_argument("--merge-rows", type=int, default=131_072, help="rows of the shorter merge-only measurement (0: none)")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    dtypes = [d for d in args.dtypes.split(",") if d]
    with tempfile.TemporaryDirectory(prefix="frame-level-memory-") as tmp:
        work = args.dir or Path(tmp)
        results = [measure(work / "short", args.weights_dir, args.seconds, (w, h), args.layer, args.chunk_size, "float32")]
        results += [measure(work / "long", args.weights_dir, args.seconds * args.factor, (w, h), args.layer, args.chunk_size, d) for d in dtypes]
        merges = [merge_peak(work / "merge", k * args.merge_rows) for k in (1, args.factor)] if args.merge_rows else []
    if args.json:
        print(json.dumps({"layer": args.layer, "size": args.size, "chunk_size": args.chunk_size, "results": results, "merges": merges}, indent=1))
        return
    print(f"layer {args.layer}, {args.size}, chunks of {args.chunk_size} frames")
    print(f"{'seconds':>7} {'frames':>7} {'dtype':>7} {'rows':>8} {'chunks':>6} {'build s':>7} {'peak RSS MiB':>12} {'floor MiB':>9} {'B/detection':>11} {'GiB/game-hour':>13}")
    for r in results:
        print(f"{r['seconds']:>7} {r['frames']:>7,} {r['dtype']:>7} {r['rows']:>8,} {r['chunks']:>6} {r['build_s']:>7} {r['peak_rss_mib']:>12} "
              f"{r['floor_rss_mib']:>9} {r['bytes_per_detection']:>11} {r['gib_per_game_hour']:>13}")
    if merges:
        print("merge alone (synthetic parts, D = 64, float32)")
        print(f"{'rows':>9} {'row groups':>10} {'merge s':>7} {'peak RSS MiB':>12}")
        for m in merges:
            print(f"{m['rows']:>9,} {m['row_groups']:>10} {m['merge_s']:>7} {m['merge_rss_mib']:>12}")


if __name__ == "__main__":
    main()
