"""shot-heatmaps' reads of the upstream tables: time and peak memory against the game's length.

Writes synthetic frame-level and track-level tables of games of several lengths (2 cameras,
25 fps, ``--people`` detections a frame and camera, float16 jersey features, sorted by camera
then frame in 65,536-row groups, as frame-level writes them), then measures, each in a fresh
process (its peak RSS is its own):

- ``windows``: :func:`~generators.layers.heatmaps.upstream.window_detections` of ``--shots``
  16-frame windows spread over the game (one shot chunk's reads);
- ``jerseys``: :func:`~generators.layers.heatmaps.upstream.track_jerseys_streamed` (chunk 0);
- ``whole``: the whole-table read the layer did before it was chunked (the seven columns it
  used, jersey included, as one table).

Usage: ``PYTHONPATH=. python bench/heatmaps_upstream.py [--minutes 10 40] [--shots 64] [--people 10]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

FPS = 25
CAMERAS = ("left", "right")

MEASURE = r"""
import json, resource, sys, time
import numpy as np
import pyarrow.parquet as pq
from generators.layers.heatmaps.upstream import ReadCount, read_tracks, track_jerseys_streamed, window_detections
d, mode, shots, frames = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
det, assign = pq.ParquetFile(f"{d}/detections.parquet"), pq.ParquetFile(f"{d}/assignments.parquet")
tracks = read_tracks(pq.ParquetFile(f"{d}/tracks.parquet"))
count = ReadCount()
t = time.perf_counter()
if mode == "windows":
    first = np.linspace(0, frames - 16, shots).astype(np.int64)
    spans = np.stack([np.arange(shots) % 2, first, first + 16], axis=1)
    n = len(window_detections(det, assign, tracks, ["left", "right"], spans, "bench", count))
elif mode == "jerseys":
    n = int((track_jerseys_streamed(det, assign, tracks, ["left", "right"], "bench") >= 0).sum())
else:
    table = pq.read_table(f"{d}/detections.parquet", columns=["frame", "camera", "px", "py", "confidence", "jersey", "team"])
    a = pq.read_table(f"{d}/assignments.parquet", columns=["detection", "track_id"])
    n = table.num_rows + a.num_rows
s = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"s": s, "rows": n, "groups": count.row_groups, "peak_mb": peak / 1024, "after_imports_mb": base / 1024}))
"""


def write_game(d: Path, minutes: float, people: int, seed: int = 0) -> int:
    """The synthetic tables of a game of ``minutes``; returns its frame count a camera."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from generators.models.tracking.categories import CATEGORIES

    rng = np.random.default_rng(seed)
    frames = int(minutes * 60 * FPS)
    per_cam = frames * people
    n_tracks = max(1, frames // (FPS * 20)) * people  # a track lives about 20 s
    det_w = pq.ParquetWriter(d / "detections.parquet", pa.schema([
        ("frame", pa.int32()), ("camera", pa.string()), ("px", pa.float32()), ("py", pa.float32()), ("confidence", pa.float32()),
        ("jersey", pa.list_(pa.float16(), 133)), ("team", pa.int8())]), compression="zstd")
    asg_w = pq.ParquetWriter(d / "assignments.parquet", pa.schema([
        ("detection", pa.int64()), ("frame", pa.int32()), ("camera", pa.string()), ("track_id", pa.int64())]), compression="zstd")
    step = 65_536
    start = 0
    for c, cam in enumerate(CAMERAS):
        for lo in range(0, per_cam, step):
            n = min(step, per_cam - lo)
            frame = ((lo + np.arange(n)) // people).astype(np.int32)
            jersey = rng.normal(size=(n, 133)).astype(np.float16)
            track = (c * n_tracks // 2 + (frame // (FPS * 20)) * people + (lo + np.arange(n)) % people) % n_tracks
            det_w.write_table(pa.table({
                "frame": frame, "camera": pa.array([cam] * n), "px": rng.uniform(0, 1920, n).astype(np.float32),
                "py": rng.uniform(0, 1080, n).astype(np.float32), "confidence": rng.random(n).astype(np.float32),
                "jersey": pa.FixedSizeListArray.from_arrays(pa.array(jersey.ravel()), 133), "team": rng.integers(0, 3, n).astype(np.int8),
            }), row_group_size=step)
            asg_w.write_table(pa.table({"detection": np.arange(start, start + n, dtype=np.int64), "frame": frame, "camera": pa.array([cam] * n),
                                        "track_id": track.astype(np.int64)}), row_group_size=step)
            start += n
    det_w.close()
    asg_w.close()
    pq.write_table(pa.table({"track_id": np.arange(n_tracks, dtype=np.int64), "category": [CATEGORIES[i % 4] for i in range(n_tracks)]}), d / "tracks.parquet")
    return frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10.0, 40.0])
    ap.add_argument("--shots", type=int, default=64)
    ap.add_argument("--people", type=int, default=10)
    a = ap.parse_args()
    print(f"{'minutes':>7} {'rows':>10} {'mode':>8} {'seconds':>8} {'groups read':>11} {'peak RSS MB':>11} {'after imports':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in a.minutes:
            d = Path(tmp) / f"m{minutes:g}"
            d.mkdir()
            frames = write_game(d, minutes, a.people)
            rows = frames * a.people * len(CAMERAS)
            for mode in ("windows", "jerseys", "whole"):
                out = subprocess.run([sys.executable, "-c", MEASURE, str(d), mode, str(a.shots), str(frames)], capture_output=True, text=True, check=True)
                r = json.loads(out.stdout)
                print(f"{minutes:>7g} {rows:>10,} {mode:>8} {r['s']:>8.2f} {r['groups']:>11} {r['peak_mb']:>11.0f} {r['after_imports_mb']:>13.0f}")


if __name__ == "__main__":
    main()
