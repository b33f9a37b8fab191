"""Shot heatmaps and shooter labels from real NBA SportVU positions, for evaluating shooter models.

Every field goal that ``generators.render.sportvu`` joins from the play-by-play to the tracking
becomes one shot: its 16 frames at ``fps`` around the release (``load_sportvu``, release at frame
8 unless the tracking stretch ends sooner), seen through fixed virtual cameras (the rendered
games' ``left`` and ``right`` presets by default, so the geometry matches theirs). The people are
*perfect tracks of known team*: each of the 10 players and 2 referees is one track with its true
team (``team_a`` = column group p0-p4, ``team_b`` = p5-p9, or referee), every in-frame foot-point
is a detection of confidence 1, and a track's jersey is its true number. Offense and shooter
come from the play-by-play. Windows, footprints, slots, channels and the label are exactly the
``shot-heatmaps`` layer's (``footprint``, ``slots``, ``rasterise``), so a model trained on the
layer's heatmaps reads these the same way.

    python -m generators.layers.heatmaps.sportvu OUT_DIR [--data DIR]

writes ``OUT_DIR/heatmaps.zarr`` (the layer's format, ``store``) and ``OUT_DIR/shots.parquet``.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from generators.layers.heatmaps.footprint import select
from generators.layers.heatmaps.inputs import REFEREE, Detections, Tracks, Windows, footprint_height
from generators.layers.heatmaps.rasterise import rasterise
from generators.layers.heatmaps.slots import assign, labels
from generators.layers.shots.annotation import Shot, ShotOrigin
from generators.layers.shots.window import FRAMES, shot_window
from generators.render.camera import DEFAULT_CAMERAS, Camera, preset_camera
from generators.render.game import DEFAULT_SIZE
from generators.render.sportvu import SportVUSource, find_files, load_sportvu, match_shots, read_moments
from generators.render.trajectories import ROLE_PLAYER, Trajectories
from generators.render.trajectories import Shot as TrackedShot

DEFAULT_FPS = 10


def project_people(xy: NDArray[np.float64], cameras: Sequence[Camera], team: NDArray[np.int8], frame_offset: int = 0) -> Detections:
    """Detections of people at court positions ``xy`` ``[T, N, 2]`` (feet) through ``cameras``.

    One detection per camera, frame and person whose foot-point falls inside the frame; frame
    ``t`` becomes ``frame_offset + t``; ``track`` is the person's column, ``team`` their team
    argmax (0, 1, or 2 for a referee, from ``team`` = -1). Sorted by (camera, frame).
    """
    n = xy.shape[1]
    parts: list[tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.float64]]] = []
    for c, cam in enumerate(cameras):
        u, v = cam.project_ground(xy[..., 0], xy[..., 1])
        inside = cam.in_frame(u, v)
        t, person = np.nonzero(inside)
        parts.append((np.full(len(t), c, np.int32), t * n + person, np.stack([u[t, person], v[t, person]], axis=1)))
    cam_idx = np.concatenate([p[0] for p in parts])
    flat = np.concatenate([p[1] for p in parts])
    uv = np.concatenate([p[2] for p in parts]).reshape(-1, 2)
    person = flat % n
    teams = np.where(team[person] < 0, REFEREE, team[person]).astype(np.int8)
    return Detections(camera=cam_idx, frame=(flat // n + frame_offset).astype(np.int32), px=uv[:, 0].astype(np.float32), py=uv[:, 1].astype(np.float32),
                      confidence=np.ones(len(flat), np.float32), track=person.astype(np.int64), team=teams)


@dataclass(frozen=True)
class SportVUShots:
    """The heatmap records of the matched shots that have a window, and what they are."""

    records: NDArray[np.void]
    label: NDArray[np.int8]
    shot: NDArray[np.int64]  # index among the matched shots
    shooter_id: NDArray[np.int64]
    shooter_jersey: NDArray[np.int16]
    made: NDArray[np.bool_]
    camera: list[str]
    skipped: list[tuple[int, str]]  # (matched shot, why it has no heatmap)


def _concat(parts: list[Detections]) -> Detections:
    fields = [f.name for f in dataclasses.fields(Detections)]
    return Detections(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


def sportvu_shots(data_dir: Path, cameras: Sequence[str] = DEFAULT_CAMERAS, size: tuple[int, int] = DEFAULT_SIZE, fps: int = DEFAULT_FPS) -> SportVUShots:
    """Heatmaps and labels of every matched SportVU shot (module doc)."""
    cams = [preset_camera(c, size) for c in cameras]
    files = find_files(data_dir)
    matched = match_shots(read_moments(files.moments), files.pbp, files.players)
    dets: list[Detections] = []
    track_cat: list[NDArray[np.int8]] = []
    track_jersey: list[NDArray[np.int16]] = []
    rows: dict[str, list[int]] = {k: [] for k in ("shot", "camera", "x0", "y0", "first", "offense", "jersey", "shooter", "made")}
    origins: list[tuple[float, float]] = []
    skipped: list[tuple[int, str]] = []
    n_tracks = 0
    for i, m in enumerate(matched):
        traj = load_sportvu(SportVUSource(data_dir=data_dir, shot=i, lead_s=(FRAMES // 2) / fps), seconds=FRAMES / fps, fps=fps)
        shot = _the_shot(traj, m.shooter_b2v)
        who = traj.index_of(shot.shooter_id)
        offset = len(rows["shot"]) * FRAMES
        annotated = _annotation(i, shot, traj, who, cams)
        win = shot_window(annotated, size[0], size[1], traj.n_frames, f"sportvu shot {i}")
        if win is None:
            skipped.append((i, "origin visible in no camera"))
            continue
        d = project_people(traj.xy, cams, traj.team, frame_offset=offset)
        dets.append(dataclasses.replace(d, track=d.track + n_tracks))
        track_cat.append(np.where(traj.role == ROLE_PLAYER, traj.team, REFEREE).astype(np.int8))
        track_jersey.append(traj.jersey.astype(np.int16))
        n_tracks += traj.n_people
        for k, v in (("shot", i), ("camera", cameras.index(win.camera)), ("x0", win.x0), ("y0", win.y0), ("first", offset + win.first_frame),
                     ("offense", int(traj.team[who])), ("jersey", int(traj.jersey[who])), ("shooter", shot.shooter_id), ("made", int(shot.made))):
            rows[k].append(v)
        origins.append((win.origin_x, win.origin_y))
    det = _concat(dets) if dets else project_people(np.zeros((0, 0, 2)), cams, np.zeros(0, np.int8))
    tracks = Tracks(track_id=np.arange(n_tracks, dtype=np.int64), category=np.concatenate(track_cat) if track_cat else np.zeros(0, np.int8),
                    jersey=np.concatenate(track_jersey) if track_jersey else np.zeros(0, np.int16))
    win_arr = Windows(
        camera=np.array(rows["camera"], np.int32), x0=np.array(rows["x0"], np.int32), y0=np.array(rows["y0"], np.int32),
        first_frame=np.array(rows["first"], np.int32), origin=np.array(origins, np.float32).reshape(-1, 2), offense=np.array(rows["offense"], np.int8),
        shooter_jersey=np.array(rows["jersey"], np.int16), footprint_px=np.full(len(cams), footprint_height(size[1]), np.float64),
    )
    pairs = select(det, win_arr)
    slots = assign(pairs, det, tracks, win_arr)
    records = rasterise(len(win_arr), pairs, slots.channel, det.confidence[pairs.det], win_arr.origin)
    label, _, _ = labels(slots, tracks, win_arr.shooter_jersey)
    return SportVUShots(records=records, label=label, shot=np.array(rows["shot"], np.int64), shooter_id=np.array(rows["shooter"], np.int64),
                        shooter_jersey=win_arr.shooter_jersey, made=np.array(rows["made"], bool), camera=[cameras[c] for c in rows["camera"]], skipped=skipped)


def _the_shot(traj: Trajectories, shooter: int) -> TrackedShot:
    """The window's shot by ``shooter`` released nearest the centre frame."""
    mine = [s for s in traj.shots if s.shooter_id == shooter]
    return min(mine, key=lambda s: (abs(s.frame - FRAMES // 2), s.frame))


def _annotation(index: int, shot: TrackedShot, traj: Trajectories, who: int, cams: Sequence[Camera]) -> Shot:
    """The shot as the shots annotation would give it: per camera origin and visibility."""
    frame = shot.frame
    x, y = traj.xy[frame, who]
    origins = {}
    for cam in cams:
        u, v = cam.project_ground(np.array(x), np.array(y))
        origins[cam.name] = ShotOrigin(px=float(u), py=float(v), visible=bool(cam.in_frame(u, v)))
    return Shot(index=index, frame=frame, shooter_id=int(traj.player_id[who]), shooter_team=int(traj.team[who]), shooter_jersey=int(traj.jersey[who]),
                made=shot.made, x_ft=float(x), y_ft=float(y), origins=origins)


def write(out_dir: Path, shots: SportVUShots) -> None:
    """``out_dir/heatmaps.zarr`` and ``out_dir/shots.parquet`` (one row per matched shot)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from generators.layers.heatmaps import store

    out_dir.mkdir(parents=True, exist_ok=True)
    store.write_array(out_dir / "heatmaps.zarr", shots.records, {"source": "sportvu", "shots": len(shots.records), "skipped": len(shots.skipped)})
    n = len(shots.records)
    table = pa.table({
        "shot": pa.array(np.concatenate([shots.shot, [s for s, _ in shots.skipped]]).astype(np.int32)),
        "heatmap_row": pa.array(np.concatenate([np.arange(n), np.full(len(shots.skipped), -1)]).astype(np.int32)),
        "camera": pa.array([*shots.camera, *[None] * len(shots.skipped)], pa.string()),
        "label": pa.array(np.concatenate([shots.label, np.full(len(shots.skipped), -1)]).astype(np.int8)),
        "shooter_id": pa.array(np.concatenate([shots.shooter_id, np.full(len(shots.skipped), -1)]).astype(np.int64)),
        "shooter_jersey": pa.array(np.concatenate([shots.shooter_jersey, np.full(len(shots.skipped), -1)]).astype(np.int16)),
        "made": pa.array([*shots.made.tolist(), *[None] * len(shots.skipped)], pa.bool_()),
        "skipped": pa.array([None] * n + [why for _, why in shots.skipped], pa.string()),
    }).sort_by("shot")
    pq.write_table(table, out_dir / "shots.parquet")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="SportVU shots as shot heatmaps with shooter labels")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data" / "sportvu")
    args = ap.parse_args(argv)
    shots = sportvu_shots(args.data)
    write(args.out_dir, shots)
    print(f"{len(shots.records)} shots ({len(shots.skipped)} skipped), labelled {int((shots.label >= 0).sum())}, written to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
