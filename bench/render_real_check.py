"""Render games driven by real SportVU tracking: a check of the real-data path, with timings.

Not a test (the unit tests never read real data): it reads a SportVU directory given on the
command line (moments CSV, play-by-play, player map; see the data README), matches the
play-by-play shots to the tracking, renders ``--windows`` windows of ``--seconds`` each centred
on a shot, and prints:

- the shots matched in the whole game and those inside each rendered window (with shooter,
  whether the truth origin equals the shooter's position at the release frame, and whether the
  origin is in view of a camera);
- frames rendered per second (all cameras), end to end through ``render_game``, against two
  limits measured on the same frames: painting alone (numpy drawing) and encoding alone
  (libx264 through PyAV, one thread), so the ratio says how close the renderer is to its encoder.

    .venv/bin/python bench/render_real_check.py ../shared/data/sportvu
    .venv/bin/python bench/render_real_check.py DIR --seconds 10 --windows 5 --size 1280x720
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from generators.render import SportVUSource, load_sportvu, preset_camera, render_game
from generators.render.draw import FramePainter, project_people
from generators.render.sportvu import find_files, match_shots, read_moments
from generators.render.video import VideoWriter


def _size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir", type=Path, help="SportVU directory (moments CSV, play-by-play, player map)")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--size", type=_size, default=(640, 360), help="WIDTHxHEIGHT (default 640x360)")
    ap.add_argument("--windows", type=int, default=3, help="how many shots to centre a window on (spread over the game)")
    ap.add_argument("--out", type=Path, default=None, help="keep the rendered games here (default: a temporary directory)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    files = find_files(args.data_dir)
    moments = read_moments(files.moments)
    shots = match_shots(moments, files.pbp, files.players)
    match_s = time.perf_counter() - t
    picks = sorted({round(i * (len(shots) - 1) / max(1, args.windows - 1)) for i in range(args.windows)}) if shots else []

    windows: list[dict[str, object]] = []
    frames_total, render_s, paint_s, encode_s = 0, 0.0, 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        for k in picks:
            src = SportVUSource(data_dir=args.data_dir, shot=k)
            t = time.perf_counter()
            game = render_game(root / f"sportvu-shot{k:03d}", f"sportvu-shot{k:03d}", seconds=args.seconds, fps=args.fps, size=args.size, source=src, overwrite=True)
            render_s += time.perf_counter() - t
            frames_total += game.frames * len(game.cameras)
            # The limits, on the same frames: painting alone, then encoding alone.
            traj = load_sportvu(src, seconds=args.seconds, fps=args.fps)
            for name in ("left", "right"):
                cam = preset_camera(name, args.size)
                painter = FramePainter(cam, traj, project_people(cam, traj))
                t = time.perf_counter()
                painted = [painter.paint(i)[0].copy() for i in range(traj.n_frames)]
                paint_s += time.perf_counter() - t
                t = time.perf_counter()
                with VideoWriter(root / f"encode-only-{name}.mp4", args.size, args.fps) as w:
                    for rgb in painted:
                        w.write(rgb)
                encode_s += time.perf_counter() - t
            pos = pl.read_parquet(game.positions)
            with game.shots_csv.open() as f:
                rows = list(csv.DictReader(f))
            in_window = []
            for r in rows:
                at = pos.filter((pl.col("frame") == int(r["frame"])) & (pl.col("player_id") == int(r["shooter_id"])))
                in_window.append({
                    "frame": int(r["frame"]), "shooter_id": int(r["shooter_id"]), "made": r["made"] == "1",
                    "origin_is_truth": bool(np.allclose(at.select("x_ft", "y_ft").to_numpy()[0], (float(r["x_ft"]), float(r["y_ft"])))),
                    "on_offense": bool(at["on_offense"][0]),
                    "in_view": [c.name for c in game.cameras if r[f"{c.name}_visible"] == "1"],
                })
            m = shots[k]
            windows.append({"shot": k, "pbp": f"P{m.period} {m.pctimestring} {m.shooter_name}", "frames": game.frames, "shots_in_window": in_window})
    report: dict[str, object] = {
        "moments_rows": moments.rows, "shots_matched": len(shots), "match_s": round(match_s, 3), "windows": windows,
        "frames_rendered": frames_total,
        "render_fps": round(frames_total / render_s, 1) if render_s else None,
        "paint_only_fps": round(frames_total / paint_s, 1) if paint_s else None,
        "encode_only_fps": round(frames_total / encode_s, 1) if encode_s else None,
        "size": f"{args.size[0]}x{args.size[1]}",
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"SportVU: {moments.rows} tracking rows, {len(shots)} play-by-play shots matched to the tracking ({match_s:.2f} s)")
    for win in windows:
        print(f"  window on shot {win['shot']} ({win['pbp']}): {win['frames']} frames, shots in window: {win['shots_in_window']}")
    print(f"frames rendered: {frames_total} at {report['size']} ({len(picks)} games x 2 cameras)")
    print(f"render_game      {report['render_fps']:>8} frames/s  (end to end: load, paint, encode, truth files)")
    print(f"paint only       {report['paint_only_fps']:>8} frames/s")
    print(f"encode only      {report['encode_only_fps']:>8} frames/s  (libx264, 1 thread: the limit)")
    if render_s and encode_s:
        print(f"ratio render / encode-only: {encode_s / render_s * 1.0:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
