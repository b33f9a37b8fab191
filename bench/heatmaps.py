"""Shot heatmaps: rasterising speed, stored size and batch read speed, against baselines.

    python bench/heatmaps.py [--data DIR] [--shots N] [--games G] [--loop-shots N] [--read-shots N] [--json]

Inputs are real motion: the SportVU tracking of ``--data`` (default ../shared/data/sportvu; one
game, 3,621 moments at 5 Hz) seen through the rendered games' fixed ``left`` and ``right``
cameras at 640x360, each moment one frame. Ten players and two referees (who trail the ball on
the sidelines) are detected wherever their foot-point is in frame, with 1 px of foot-point
noise, a detector-like confidence (uniform 0.3-1, full float32 precision) and perfect tracks
per camera, except 3% of detections left out of every track. A shot is centred on every moment
where a player holds the ball (within 4 ft, below 9 ft), that player being the shooter, until
``--shots`` are made; their windows are the layer's (``generators.layers.shots.window``).

Figures, all on one core, in one process:

1. rasterise: ``select`` + ``assign`` + ``rasterise`` (the layer's code) from the game's arrays to
   the stored records, all shots at once; beside it the same selection and slots filled into
   float32 tensors by (a) a straightforward vectorised numpy fill (256 shots at a time into a
   reused buffer) and (b) a Python loop over each (shot, player) pair (on ``--loop-shots``).
   Both baselines must equal the decoded records bit for bit. Timed: best of ``--repeat``.
2. size: zstd (the store's level) of each record against zstd (level 3) of each raw float32 tensor, and
   the bytes the zarr arrays take on disk, per shot, as a share of the raw 225,792 bytes.
3. read: ``--games`` arrays written by ``store.write_array``; shuffled batches of 32 read back
   as float32 by ``HeatmapSet`` (page cache warm), against zarr's own API reading the same
   records (then decoded) and against zarr reading one zstd float32 chunk per shot.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from generators.layers.heatmaps.codec import decode
from generators.layers.heatmaps.footprint import Pairs, select
from generators.layers.heatmaps.inputs import REFEREE, Detections, Tracks, Windows, footprint_height
from generators.layers.heatmaps.layout import CHANNELS, CONFIDENCE, DISTANCE, SHAPE, SHOT, origin_planes
from generators.layers.heatmaps.rasterise import rasterise
from generators.layers.heatmaps.slots import assign, labels
from generators.layers.heatmaps.sportvu import project_people
from generators.layers.heatmaps.store import ZSTD_LEVEL
from generators.layers.shots.annotation import Shot, ShotOrigin
from generators.layers.shots.window import GRID, shot_window
from generators.render.camera import Camera, preset_camera
from generators.render.court import LENGTH_FT, WIDTH_FT
from generators.render.sportvu import find_files, read_moments

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sportvu"
RAW_BYTES = int(np.prod(SHAPE)) * 4  # 225,792
SIZE = (640, 360)
CAMERAS = ("left", "right")
CITATION = "SportVU tracking via github.com/tufts-ml/team-dynamics-time-series (MIT); play-by-play via github.com/sealneaward/nba-movement-data (MIT)"


def game_inputs(data_dir: Path, n_shots: int, seed: int = 0) -> tuple[Detections, Tracks, Windows, dict[str, float]]:
    """The bench's game: detections, tracks and up to ``n_shots`` windows (module doc)."""
    rng = np.random.default_rng(seed)
    m = read_moments(find_files(data_dir).moments)
    r = m.rows
    # Referees trail the ball's x on both sidelines; one column each.
    bx = np.clip(m.ball[:, 0], 8.0, LENGTH_FT - 8.0)
    refs = np.stack([np.stack([bx - 6.0, np.full(r, -2.5)], -1), np.stack([bx + 6.0, np.full(r, WIDTH_FT + 2.5)], -1)], axis=1)
    xy = np.concatenate([m.xy, refs], axis=1)
    ids, person_track = np.unique(m.ids, return_inverse=True)
    person_track = np.concatenate([person_track.reshape(r, 10), np.tile([len(ids), len(ids) + 1], (r, 1))], axis=1)
    n_people = len(ids) + 2
    team = np.concatenate([np.repeat([0, 1], 5), [-1, -1]]).astype(np.int8)
    cams = [preset_camera(c, SIZE) for c in CAMERAS]
    det = project_people(xy, cams, team)
    n = len(det)
    person = det.track  # column in xy
    track = det.camera.astype(np.int64) * n_people + person_track[det.frame, person]
    track[rng.random(n) < 0.03] = -1
    det = Detections(camera=det.camera, frame=det.frame, px=(det.px + rng.normal(0, 1, n)).astype(np.float32),
                     py=(det.py + rng.normal(0, 1, n)).astype(np.float32), confidence=rng.uniform(0.3, 1.0, n).astype(np.float32),
                     track=track, team=det.team)
    # Track rows = track ids here: a category and a jersey per (camera, person).
    cat_person = np.concatenate([np.zeros(len(ids), np.int8), [REFEREE, REFEREE]]).astype(np.int8)
    player_team = np.zeros(len(ids), np.int8)
    player_team[person_track[:, :10].ravel()] = np.tile(team[:10], r)
    cat_person[: len(ids)] = player_team
    jersey_person = np.concatenate([(ids * 7919) % 100, [-1, -1]]).astype(np.int16)
    tracks = Tracks(track_id=np.arange(len(cams) * n_people, dtype=np.int64), category=np.tile(cat_person, len(cams)), jersey=np.tile(jersey_person, len(cams)))
    t0 = time.perf_counter()
    win = _windows(m.xy, m.ball, cams, team, jersey_person[person_track[:, :10]], n_shots)
    return det, tracks, win, {"windows_s": time.perf_counter() - t0, "detections": float(n), "moments": float(r)}


def _windows(xy: NDArray[np.float64], ball: NDArray[np.float64], cams: list[Camera], team: NDArray[np.int8], jersey: NDArray[np.int16], n_shots: int) -> Windows:
    d = np.hypot(xy[..., 0] - ball[:, None, 0], xy[..., 1] - ball[:, None, 1])
    holder = np.argmin(d, axis=1)
    rows = np.flatnonzero((d[np.arange(len(d)), holder] <= 4.0) & (ball[:, 2] <= 9.0))
    cols: dict[str, list[Any]] = {k: [] for k in ("camera", "x0", "y0", "first", "origin", "offense", "jersey")}
    for row in rows.tolist():
        who = int(holder[row])
        x, y = xy[row, who]
        origins = {}
        for cam in cams:
            u, v = cam.project_ground(np.array(x), np.array(y))
            origins[cam.name] = ShotOrigin(px=float(u), py=float(v), visible=bool(cam.in_frame(u, v)))
        shot = Shot(index=len(cols["x0"]), frame=row, shooter_id=who, shooter_team=int(team[who]), shooter_jersey=int(jersey[row, who]), made=False,
                    x_ft=float(x), y_ft=float(y), origins=origins)
        w = shot_window(shot, SIZE[0], SIZE[1], len(xy), "bench")
        if w is None:
            continue
        for k, v in (("camera", CAMERAS.index(w.camera)), ("x0", w.x0), ("y0", w.y0), ("first", w.first_frame), ("origin", (w.origin_x, w.origin_y)),
                     ("offense", shot.shooter_team), ("jersey", shot.shooter_jersey)):
            cols[k].append(v)
        if len(cols["x0"]) >= n_shots:
            break
    return Windows(camera=np.array(cols["camera"], np.int32), x0=np.array(cols["x0"], np.int32), y0=np.array(cols["y0"], np.int32),
                   first_frame=np.array(cols["first"], np.int32), origin=np.array(cols["origin"], np.float32), offense=np.array(cols["offense"], np.int8),
                   shooter_jersey=np.array(cols["jersey"], np.int16), footprint_px=np.full(len(cams), footprint_height(SIZE[1])))


def records_of(det: Detections, tracks: Tracks, win: Windows, out: NDArray[np.void] | None = None) -> NDArray[np.void]:
    """The layer's path: selection, slots, rasterising into records (and the labels)."""
    pairs = select(det, win)
    slots = assign(pairs, det, tracks, win)
    rec = rasterise(len(win), pairs, slots.channel, det.confidence[pairs.det], win.origin, out=out)
    labels(slots, tracks, win.shooter_jersey)
    return rec


def _cells(p: Pairs) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    h, w = p.r1 - p.r0, p.c1 - p.c0
    dr, dc = np.meshgrid(np.arange(int(h.max()) + 1), np.arange(int(w.max()) + 1), indexing="ij")
    cover = (dr.ravel()[None, :] <= h[:, None]) & (dc.ravel()[None, :] <= w[:, None])
    flat = ((p.shot * SHAPE[0] + p.t) * GRID + p.r0) * GRID + p.c0
    return (flat[:, None] + (dr.ravel() * GRID + dc.ravel())[None, :])[cover], cover.sum(axis=1)


def dense_fill(det: Detections, tracks: Tracks, win: Windows, check: NDArray[np.float32] | None = None, block: int = 256) -> bool:
    """Baseline (a): the same selection and slots, filled into float32 tensors with numpy, ``block``
    shots at a time into one reused buffer (all at once would write 225 KB of fresh memory a
    shot). Returns whether every block equals ``check`` (the decoded records) bit for bit."""
    pairs = select(det, win)
    slots = assign(pairs, det, tracks, win)
    out = np.zeros((block, *SHAPE), np.float32)
    flat = out.reshape(-1, CHANNELS)
    conf = np.zeros(len(flat), np.float32)
    starts = np.searchsorted(pairs.shot, np.arange(0, len(win) + block, block))
    same = True
    for b, s0 in enumerate(range(0, len(win), block)):
        n = min(block, len(win) - s0)
        lo, hi = int(starts[b]), int(starts[b + 1])
        part = Pairs(*(getattr(pairs, f)[lo:hi] - (s0 if f == "shot" else 0) for f in Pairs.__dataclass_fields__))
        out.fill(0)
        conf.fill(0)
        cells, per = _cells(part)
        flat[cells, np.repeat(slots.channel[lo:hi], per)] = 1.0
        np.maximum.at(conf, cells, np.repeat(det.confidence[part.det], per))
        flat[:, CONFIDENCE] = conf
        out[:n, ..., SHOT : DISTANCE + 1] = origin_planes(win.origin[s0 : s0 + n])[:, None]
        if check is not None:
            same = same and bool(np.array_equal(out[:n].view(np.uint32), check[s0 : s0 + n].view(np.uint32)))
    return same


def python_loop(det: Detections, tracks: Tracks, win: Windows) -> NDArray[np.float32]:
    """Baseline (b): the same selection and slots, one Python step per (shot, player) pair."""
    pairs = select(det, win)
    slots = assign(pairs, det, tracks, win)
    out = np.zeros((len(win), *SHAPE), np.float32)
    for s in range(len(win)):
        out[s, ..., SHOT : DISTANCE + 1] = origin_planes(win.origin[s : s + 1])[0]
    for k in range(len(pairs)):
        box = out[pairs.shot[k], pairs.t[k], pairs.r0[k] : pairs.r1[k] + 1, pairs.c0[k] : pairs.c1[k] + 1]
        box[..., slots.channel[k]] = 1.0
        np.maximum(box[..., CONFIDENCE], det.confidence[pairs.det[k]], out=box[..., CONFIDENCE])
    return out


def _subset(win: Windows, n: int) -> Windows:
    return Windows(**{f: (getattr(win, f)[:n] if f != "footprint_px" else win.footprint_px) for f in win.__dataclass_fields__})


def best_of(fn: Callable[[], Any], repeat: int, cpu: list[float] | None = None) -> tuple[float, Any]:
    """The best wall time of ``repeat`` runs and the last result; the best CPU time (this
    process, user + system) is appended to ``cpu`` when given: on a shared machine the wall
    time counts the waits for a core, the CPU time only the work."""
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    if cpu is not None:
        cpu.append(best_cpu)
    return best, result


def bench_rasterise(det: Detections, tracks: Tracks, win: Windows, loop_shots: int, repeat: int) -> dict[str, Any]:
    n = len(win)
    buf = np.zeros(n, records_of(det, tracks, _subset(win, 1)).dtype)
    cpu: list[float] = []
    t_ours, rec = best_of(lambda: records_of(det, tracks, win, out=buf), repeat, cpu)
    t_fresh, _ = best_of(lambda: records_of(det, tracks, win), repeat, cpu)
    t_fill, _ = best_of(lambda: dense_fill(det, tracks, win), max(1, repeat // 2), cpu)
    decoded = decode(rec)
    exact_fill = dense_fill(det, tracks, win, check=decoded)
    small = _subset(win, loop_shots)
    pairs = select(det, win)
    slots = assign(pairs, det, tracks, win)
    t_loop, looped = best_of(lambda: python_loop(det, tracks, small), 1, cpu)
    stages = {}
    for name, fn in (("select", lambda: select(det, win)), ("assign", lambda: assign(pairs, det, tracks, win)),
                     ("rasterise", lambda: rasterise(n, pairs, slots.channel, det.confidence[pairs.det], win.origin, out=buf))):
        stage_cpu: list[float] = []
        best_of(fn, repeat, stage_cpu)
        stages[name] = stage_cpu[0] / n * 1e6
    exact_loop = bool(np.array_equal(decoded[:loop_shots].view(np.uint32), looped.view(np.uint32)))
    return {
        "shots": n, "pairs": len(pairs), "pairs_per_shot": len(pairs) / n,
        "ours_shots_per_s": n / t_ours, "ours_fresh_buffer_shots_per_s": n / t_fresh,
        "fill_shots_per_s": n / t_fill, "loop_shots_per_s": loop_shots / t_loop,
        "ratio_vs_fill": t_fill / t_ours, "ratio_vs_loop": (t_loop / loop_shots) / (t_ours / n),
        "cpu_ours_shots_per_s": n / cpu[0], "cpu_fresh_shots_per_s": n / cpu[1], "cpu_fill_shots_per_s": n / cpu[2],
        "cpu_loop_shots_per_s": loop_shots / cpu[3], "cpu_us_per_shot_by_stage": stages,
        "baselines_equal_decoded": exact_fill and exact_loop, "records": rec, "dense": decoded,
    }


def bench_size(rec: NDArray[np.void], dense: NDArray[np.float32]) -> dict[str, Any]:
    from numcodecs import Zstd

    z, z3 = Zstd(level=ZSTD_LEVEL), Zstd(level=3)
    raw = rec.view(np.uint8).reshape(len(rec), -1)
    ours = [len(z.encode(raw[k])) for k in range(len(rec))]
    t0 = time.process_time()
    plain = [len(z3.encode(np.ascontiguousarray(dense[k]))) for k in range(len(dense))]
    t_plain = time.process_time() - t0
    t0 = time.process_time()
    for k in range(len(rec)):
        z.encode(raw[k])
    t_ours = time.process_time() - t0
    back = decode(rec)
    return {
        "ours_bytes_per_shot": float(np.mean(ours)), "ours_share": float(np.mean(ours)) / RAW_BYTES, "ours_max_share": max(ours) / RAW_BYTES,
        "plain_zstd_bytes_per_shot": float(np.mean(plain)), "plain_zstd_share": float(np.mean(plain)) / RAW_BYTES,
        "ratio_vs_plain": float(np.mean(plain)) / float(np.mean(ours)),
        "compress_ours_shots_per_s": len(rec) / t_ours, "compress_plain_shots_per_s": len(dense) / t_plain,
        "round_trip_exact": bool(np.array_equal(back.view(np.uint32), dense.view(np.uint32))),
    }


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_read(rec: NDArray[np.void], dense: NDArray[np.float32], games: int, read_shots: int, root: Path) -> dict[str, Any]:
    import zarr

    from generators.layers.heatmaps.store import HeatmapArray, HeatmapSet, write_array

    parts = np.array_split(np.arange(len(rec)), games)
    t0 = time.perf_counter()
    for g, rows in enumerate(parts):
        write_array(root / f"g{g}" / "heatmaps.zarr", rec[rows])
    t_write = time.perf_counter() - t0
    float_parts = parts[: max(1, games)]
    for g, rows in enumerate(float_parts):
        arr = zarr.create_array(store=str(root / f"g{g}" / "float32.zarr"), shape=(len(rows), *SHAPE), dtype="float32", chunks=(1, *SHAPE),
                                zarr_format=3, compressors=zarr.codecs.ZstdCodec(level=3), config={"write_empty_chunks": True})
        arr[:] = dense[rows]
    ours_disk = sum(_du(root / f"g{g}" / "heatmaps.zarr") for g in range(games)) / len(rec)
    float_disk = sum(_du(root / f"g{g}" / "float32.zarr") for g in range(len(float_parts))) / len(rec)
    hset = HeatmapSet([HeatmapArray(root / f"g{g}" / "heatmaps.zarr") for g in range(games)])
    rng = np.random.default_rng(1)
    order = rng.permutation(len(hset))[:read_shots]
    batches = [order[k : k + 32] for k in range(0, len(order) - 31, 32)]
    hset.read(batches[0])  # warm: buffers, page cache
    t0, c0 = time.perf_counter(), time.process_time()
    ok = True
    for b in batches:
        x = hset.read(b)
        ok = ok and x[0, 0, 0, 0, 0] == dense[b[0], 0, 0, 0, 0]
    t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
    exact = bool(np.array_equal(hset.read(batches[-1]).view(np.uint32), dense[batches[-1]].view(np.uint32)))
    # zarr's own API on the same records, then the same decode.
    zarrs = [zarr.open_array(str(root / f"g{g}" / "heatmaps.zarr"), mode="r") for g in range(games)]
    floats = [zarr.open_array(str(root / f"g{g}" / "float32.zarr"), mode="r") for g in range(len(float_parts))]
    out = np.empty((32, *SHAPE), np.float32)
    n_zarr = min(len(batches), max(8, len(batches) // 4))

    def via_zarr(arrays: list[Any], records: bool) -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        for b in batches[:n_zarr]:
            a, row = hset.locate(b)
            got = np.empty((len(b), arrays[0].shape[1]), np.uint8) if records else out
            for g in np.unique(a).tolist():
                sel = np.flatnonzero(a == g)
                got[sel] = arrays[g].get_orthogonal_selection((np.sort(row[sel]),))[np.argsort(np.argsort(row[sel]))]
            if records:
                decode(got.view(rec.dtype).reshape(len(b)), out)
        return n_zarr * 32 / (time.perf_counter() - t), n_zarr * 32 / (time.process_time() - c)

    zarr_records, cpu_zarr_records = via_zarr(zarrs, True)
    zarr_float, cpu_zarr_float = via_zarr(floats, False)
    ours_rate = len(batches) * 32 / t_ours
    return {
        "games": games, "batches": len(batches), "read_shots_per_s": ours_rate, "cpu_read_shots_per_s": len(batches) * 32 / c_ours,
        "read_exact": exact and bool(ok),
        "zarr_api_records_shots_per_s": zarr_records, "zarr_api_float32_shots_per_s": zarr_float,
        "cpu_zarr_api_records_shots_per_s": cpu_zarr_records, "cpu_zarr_api_float32_shots_per_s": cpu_zarr_float,
        "ratio_vs_zarr_records": ours_rate / zarr_records, "ratio_vs_zarr_float32": ours_rate / zarr_float,
        "write_shots_per_s": len(rec) / t_write, "disk_bytes_per_shot": ours_disk, "disk_share": ours_disk / RAW_BYTES,
        "float32_zarr_disk_bytes_per_shot": float_disk, "float32_zarr_disk_share": float_disk / RAW_BYTES,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--shots", type=int, default=4000)
    ap.add_argument("--games", type=int, default=4)
    ap.add_argument("--loop-shots", type=int, default=300)
    ap.add_argument("--read-shots", type=int, default=3200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    load_before = os.getloadavg()[0]
    det, tracks, win, info = game_inputs(args.data, args.shots)
    r = bench_rasterise(det, tracks, win, min(args.loop_shots, len(win)), args.repeat)
    rec, dense = r.pop("records"), r.pop("dense")
    s = bench_size(rec, dense)
    root = Path(tempfile.mkdtemp(prefix="bench-heatmaps-"))
    try:
        rd = bench_read(rec, dense, args.games, args.read_shots, root)
    finally:
        shutil.rmtree(root)
    load = (load_before, os.getloadavg()[0])
    res = {"load_average": load, "inputs": info, "rasterise": r, "size": s, "read": rd, "data": CITATION, "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
           "numpy": np.__version__}
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"inputs: {len(win)} shots over {int(info['moments'])} SportVU moments x {len(CAMERAS)} cameras, {int(info['detections'])} detections, "
          f"{r['pairs_per_shot']:.0f} (shot, detection) pairs a shot; windows built in {info['windows_s']:.2f} s (not timed below)")
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} before and {load[1]:.1f} after; figures: wall-clock (CPU time of this process)")
    print("rasterise (one core, all shots of the game at once):")
    print(f"  ours, into stored records      {r['ours_shots_per_s']:>8,.0f} ({r['cpu_ours_shots_per_s']:,.0f}) shots/s   target >= 20,000;"
          f" fresh output buffer {r['ours_fresh_buffer_shots_per_s']:,.0f} ({r['cpu_fresh_shots_per_s']:,.0f})")
    print("    CPU us/shot by stage: " + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_us_per_shot_by_stage"].items()))
    print(f"  baseline numpy float32 fill    {r['fill_shots_per_s']:>8,.0f} ({r['cpu_fill_shots_per_s']:,.0f}) shots/s   ours x{r['ratio_vs_fill']:.1f}")
    print(f"  baseline Python loop per pair  {r['loop_shots_per_s']:>8,.0f} ({r['cpu_loop_shots_per_s']:,.0f}) shots/s   ours x{r['ratio_vs_loop']:.0f}")
    print(f"  baselines equal our decoded heatmaps bit for bit: {r['baselines_equal_decoded']}")
    print(f"size per shot (raw float32 {RAW_BYTES:,} bytes):")
    print(f"  ours, zstd-{ZSTD_LEVEL} records           {s['ours_bytes_per_shot']:>10,.0f} bytes  {100 * s['ours_share']:.2f}% (worst shot {100 * s['ours_max_share']:.2f}%)  target <= 5%")
    print(f"  baseline zstd-3 float32        {s['plain_zstd_bytes_per_shot']:>10,.0f} bytes  {100 * s['plain_zstd_share']:.2f}%   ours x{s['ratio_vs_plain']:.1f} smaller")
    print(f"  on disk: ours {rd['disk_bytes_per_shot']:,.0f} bytes ({100 * rd['disk_share']:.2f}%), float32 zarr {rd['float32_zarr_disk_bytes_per_shot']:,.0f} "
          f"({100 * rd['float32_zarr_disk_share']:.2f}%); exact round trip: {s['round_trip_exact']}")
    print(f"  compressing (CPU): ours {s['compress_ours_shots_per_s']:,.0f} shots/s, float32 {s['compress_plain_shots_per_s']:,.0f} shots/s; "
          f"zarr write of records {rd['write_shots_per_s']:,.0f} shots/s")
    print(f"read back as float32, shuffled batches of 32 across {rd['games']} games' arrays (warm):")
    print(f"  ours, HeatmapSet               {rd['read_shots_per_s']:>8,.0f} ({rd['cpu_read_shots_per_s']:,.0f}) shots/s   target >= 2,000; exact: {rd['read_exact']}")
    print(f"  baseline zarr API, records     {rd['zarr_api_records_shots_per_s']:>8,.0f} ({rd['cpu_zarr_api_records_shots_per_s']:,.0f}) shots/s   "
          f"ours x{rd['ratio_vs_zarr_records']:.1f}")
    print(f"  baseline zarr API, float32     {rd['zarr_api_float32_shots_per_s']:>8,.0f} ({rd['cpu_zarr_api_float32_shots_per_s']:,.0f}) shots/s   "
          f"ours x{rd['ratio_vs_zarr_float32']:.1f}")
    print(f"data: {CITATION}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
