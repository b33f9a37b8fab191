"""Render one game to a directory: a video per camera, the shots annotation and ground truth.

Layout of ``out_dir`` (every file deterministic for the same arguments and library versions):

- ``<camera>.mp4``: H.264 (yuv420p) video of the camera, ``frames`` frames at ``fps``.
- ``shots.csv``: the annotation the layers read, one row per shot: ``frame, time_s,
  shooter_id, shooter_team, shooter_jersey, made, x_ft, y_ft`` and per camera
  ``<camera>_px, <camera>_py, <camera>_visible`` (the origin's pixel and whether it is in frame).
- ``plays.csv`` (only with ``plays=True``): the plays annotation, one play per shot with its
  times, camera angle and a description (:mod:`generators.render.plays`).
- ``cameras.json``: every camera's parameters (:class:`~generators.render.camera.Camera`).
- ``truth/positions.parquet``: one row per frame and person: ``frame, player_id, team, role,
  jersey, on_offense, x_ft, y_ft`` and per camera ``<camera>_px, <camera>_py`` (foot-point =
  bottom centre of the drawn figure), ``<camera>_visible`` (foot-point inside the frame),
  ``<camera>_visible_frac`` (share of the figure's pixels in frame and not hidden) and
  ``<camera>_height_px`` (figure height).
- ``truth/ball.parquet``: per frame ``frame, x_ft, y_ft, z_ft`` and ``<camera>_px, <camera>_py``.
- ``game.json``: game id, rate, frame count, size, camera names, shot count, the request and
  every file's size and digest; written last, so a directory with it is complete. Rendering happens in a sibling staging directory renamed into place.

The truth files are for evaluation and training labels; they are not registered as sources, so
no layer can read them by accident.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from artifacts.errors import UsageError
from artifacts.keys import check_game_id, hash_file
from artifacts.workspace import SourceSpec
from generators.render.camera import DEFAULT_CAMERAS, Camera, preset_camera
from generators.render.draw import FramePainter, Projection, project_people
from generators.render.plays import PLAYS_VERSION, write_plays
from generators.render.simulate import simulate
from generators.render.sportvu import SportVUSource, load_sportvu
from generators.render.trajectories import ROLE_NAMES, Trajectories
from generators.render.video import VideoWriter

RENDER_VERSION = "1"
DEFAULT_SIZE = (640, 360)
SHOTS_SOURCE = "shots"
PLAYS_SOURCE = "plays"
ROW_GROUP = 65_536


@dataclass(frozen=True)
class RenderedGame:
    """A rendered game directory and what it holds."""

    game_id: str
    directory: Path
    fps: int
    frames: int
    size: tuple[int, int]
    cameras: tuple[Camera, ...]
    shots: int
    plays: bool = False  # whether plays.csv was written

    def video(self, camera: str) -> Path:
        return self.directory / f"{camera}.mp4"

    @property
    def shots_csv(self) -> Path:
        return self.directory / "shots.csv"

    @property
    def plays_csv(self) -> Path:
        return self.directory / "plays.csv"

    @property
    def positions(self) -> Path:
        return self.directory / "truth" / "positions.parquet"

    @property
    def ball(self) -> Path:
        return self.directory / "truth" / "ball.parquet"

    @property
    def cameras_json(self) -> Path:
        return self.directory / "cameras.json"

    def sources(self) -> list[SourceSpec]:
        """The game's sources for the catalog: one video per camera, then the shots (and the plays)."""
        specs = [SourceSpec(c.name, str(self.video(c.name)), "video") for c in self.cameras]
        specs.append(SourceSpec(SHOTS_SOURCE, str(self.shots_csv), "annotation"))
        return [*specs, SourceSpec(PLAYS_SOURCE, str(self.plays_csv), "annotation")] if self.plays else specs

    def entry(self) -> tuple[str, list[SourceSpec]]:
        """``(game_id, sources)``, one item of ``engine.catalog.add_games``."""
        return self.game_id, self.sources()

    @classmethod
    def load(cls, directory: Path) -> RenderedGame:
        """The rendered game in ``directory``, from its ``game.json``."""
        meta = _read_meta(directory)
        if meta is None:
            raise UsageError("rendered game", str(directory), "has no readable game.json", "render it with render_game")
        try:
            cams = tuple(Camera.model_validate(c) for c in json.loads((directory / "cameras.json").read_text())["cameras"])
            return cls(game_id=meta["game_id"], directory=directory, fps=meta["fps"], frames=meta["frames"], size=(meta["size"][0], meta["size"][1]),
                       cameras=cams, shots=meta["shots"], plays="plays.csv" in meta["files"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UsageError("rendered game", str(directory), f"has a malformed game.json or cameras.json ({e})", "render it again") from e


def _read_meta(directory: Path) -> dict[str, Any] | None:
    try:
        meta: dict[str, Any] = json.loads((directory / "game.json").read_text())
    except (OSError, ValueError):
        return None
    return meta


def _intact(directory: Path, meta: dict[str, Any]) -> bool:
    """Whether every file game.json lists is there with its recorded size (a cheap check)."""
    try:
        return all((directory / name).stat().st_size == f["bytes"] for name, f in meta["files"].items())
    except (OSError, KeyError, TypeError, AttributeError):
        return False


def render_game(
    out_dir: Path,
    game_id: str,
    seed: int = 0,
    *,
    seconds: float = 6.0,
    fps: int = 10,
    size: tuple[int, int] = DEFAULT_SIZE,
    cameras: Sequence[str] = DEFAULT_CAMERAS,
    source: Literal["sim"] | SportVUSource = "sim",
    overwrite: bool = False,
    plays: bool = False,
) -> RenderedGame:
    """Render ``game_id`` into ``out_dir`` (see the module doc for the files) and describe it.

    ``source="sim"`` simulates the play from ``seed``; a :class:`SportVUSource` drives it with
    real tracking (the seed is then unused). A directory already holding this exact request is
    reused as it is; one holding anything else is an error unless ``overwrite``. ``plays``
    also writes ``plays.csv``; without it the output is exactly what it was before plays existed.
    """
    check_game_id(game_id)
    request: dict[str, Any] = {
        "game_id": game_id, "seed": seed, "seconds": seconds, "fps": fps, "size": list(size), "cameras": list(cameras),
        "source": "sim" if source == "sim" else _sportvu_request(source), "render_version": RENDER_VERSION,
    }
    if plays:  # only when asked: the default request, and so game.json, stay as they were
        request["plays"] = PLAYS_VERSION
    if out_dir.exists():
        meta = _read_meta(out_dir)
        if meta is not None and meta.get("request") == request and _intact(out_dir, meta):
            return RenderedGame.load(out_dir)
        if not overwrite:
            raise UsageError("render output", str(out_dir), "already exists and holds another game or request", "pass overwrite=True or another directory")
    traj = simulate(seed, seconds=seconds, fps=fps) if source == "sim" else load_sportvu(source, seconds=seconds, fps=fps)
    return render_trajectories(out_dir, game_id, traj, size=size, cameras=cameras, request=request, plays=plays)


def _sportvu_request(source: SportVUSource) -> dict[str, Any]:
    # The data files' names and digests, not the directory: the request must not hold paths.
    from generators.render.sportvu import find_files

    files = find_files(source.data_dir)
    named = [files.moments, files.pbp, *([files.players] if files.players else [])]
    return {"kind": "sportvu", "shot": source.shot, "lead_s": source.lead_s, "files": {p.name: hash_file(p) for p in named}}


def render_trajectories(
    out_dir: Path,
    game_id: str,
    traj: Trajectories,
    *,
    size: tuple[int, int] = DEFAULT_SIZE,
    cameras: Sequence[str | Camera] = DEFAULT_CAMERAS,
    request: dict[str, Any] | None = None,
    plays: bool = False,
) -> RenderedGame:
    """Render given trajectories into ``out_dir``, replacing whatever is there.

    ``cameras`` are preset names or :class:`Camera` values (whose size must be ``size``).
    ``request`` is what :func:`render_game` was asked (``None``: trajectories made elsewhere,
    which a later ``render_game`` never mistakes for its own). ``plays`` also writes ``plays.csv``.
    """
    check_game_id(game_id)
    cams = tuple(c if isinstance(c, Camera) else preset_camera(c, size) for c in cameras)
    if not cams or len({c.name for c in cams}) != len(cams) or any((c.width, c.height) != tuple(size) for c in cams):
        raise UsageError("cameras", [c.name for c in cams], f"must be at least one, uniquely named, each {size[0]}x{size[1]}", "fix the camera list")
    for taken in (SHOTS_SOURCE, PLAYS_SOURCE):
        if taken in {c.name for c in cams}:
            raise UsageError("camera name", taken, f"is the {taken} annotation's source name", "name the camera otherwise")
    stage = out_dir.with_name(f".{out_dir.name}.partial")
    if stage.exists():
        shutil.rmtree(stage)  # our own leftover from an interrupted render
    (stage / "truth").mkdir(parents=True)
    projections = {c.name: project_people(c, traj) for c in cams}
    visible_frac: dict[str, NDArray[np.float32]] = {}
    for cam in cams:
        painter = FramePainter(cam, traj, projections[cam.name])
        frac = np.zeros((traj.n_frames, traj.n_people), dtype=np.float32)
        with VideoWriter(stage / f"{cam.name}.mp4", size, traj.fps) as writer:
            for t in range(traj.n_frames):
                rgb, frac[t] = painter.paint(t)
                writer.write(rgb)
        visible_frac[cam.name] = frac
    _write_positions(stage / "truth" / "positions.parquet", traj, cams, projections, visible_frac)
    _write_ball(stage / "truth" / "ball.parquet", traj, cams, projections)
    _write_shots(stage / "shots.csv", traj, cams, projections)
    if plays:
        write_plays(stage / "plays.csv", traj)
    (stage / "cameras.json").write_text(json.dumps({"schema": 1, "cameras": [c.model_dump(mode="json") for c in cams]}, indent=2, sort_keys=True) + "\n")
    files = {str(p.relative_to(stage)): {"bytes": p.stat().st_size, "digest": hash_file(p)} for p in sorted(stage.rglob("*")) if p.is_file()}
    meta = {
        "schema": 1, "game_id": game_id, "fps": traj.fps, "frames": traj.n_frames, "size": list(size), "cameras": [c.name for c in cams],
        "shots": len(traj.shots), "request": request, "files": files,
    }
    (stage / "game.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if out_dir.exists():
        trash = out_dir.with_name(f".{out_dir.name}.old")
        if trash.exists():
            shutil.rmtree(trash)
        os.replace(out_dir, trash)
        os.replace(stage, out_dir)
        shutil.rmtree(trash)
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage, out_dir)
    return RenderedGame(game_id=game_id, directory=out_dir, fps=traj.fps, frames=traj.n_frames, size=(size[0], size[1]), cameras=cams, shots=len(traj.shots), plays=plays)


def _in_frame(cam: Camera, uv: NDArray[np.float64]) -> NDArray[np.bool_]:
    return cam.in_frame(uv[..., 0], uv[..., 1])


def _write_positions(path: Path, traj: Trajectories, cams: tuple[Camera, ...], proj: dict[str, Projection], frac: dict[str, NDArray[np.float32]]) -> None:
    t, n = traj.n_frames, traj.n_people
    roles = pa.array([ROLE_NAMES[int(r)] for r in traj.role]).dictionary_encode()
    cols: dict[str, Any] = {
        "frame": pa.array(np.repeat(np.arange(t, dtype=np.int32), n)),
        "player_id": pa.array(np.tile(traj.player_id, t)),
        "team": pa.array(np.tile(traj.team, t)),
        "role": pa.DictionaryArray.from_arrays(pa.array(np.tile(roles.indices.to_numpy(), t)), roles.dictionary),
        "jersey": pa.array(np.tile(traj.jersey, t)),
        "on_offense": pa.array(((traj.team[None, :] == traj.offense[:, None]) & (traj.offense[:, None] >= 0)).ravel()),
        "x_ft": pa.array(traj.xy[..., 0].ravel()),
        "y_ft": pa.array(traj.xy[..., 1].ravel()),
    }
    for cam in cams:
        p = proj[cam.name]
        cols[f"{cam.name}_px"] = pa.array(p.foot[..., 0].ravel().astype(np.float32))
        cols[f"{cam.name}_py"] = pa.array(p.foot[..., 1].ravel().astype(np.float32))
        cols[f"{cam.name}_visible"] = pa.array(_in_frame(cam, p.foot).ravel())
        cols[f"{cam.name}_visible_frac"] = pa.array(frac[cam.name].ravel())
        cols[f"{cam.name}_height_px"] = pa.array(p.height_px.ravel().astype(np.float32))
    pq.write_table(pa.table(cols), path, row_group_size=ROW_GROUP)


def _write_ball(path: Path, traj: Trajectories, cams: tuple[Camera, ...], proj: dict[str, Projection]) -> None:
    cols: dict[str, Any] = {"frame": pa.array(np.arange(traj.n_frames, dtype=np.int32))}
    for a, name in enumerate(("x_ft", "y_ft", "z_ft")):
        cols[name] = pa.array(traj.ball[:, a])
    for cam in cams:
        cols[f"{cam.name}_px"] = pa.array(proj[cam.name].ball[:, 0].astype(np.float32))
        cols[f"{cam.name}_py"] = pa.array(proj[cam.name].ball[:, 1].astype(np.float32))
    pq.write_table(pa.table(cols), path, row_group_size=ROW_GROUP)


def _write_shots(path: Path, traj: Trajectories, cams: tuple[Camera, ...], proj: dict[str, Projection]) -> None:
    header = ["frame", "time_s", "shooter_id", "shooter_team", "shooter_jersey", "made", "x_ft", "y_ft"]
    for cam in cams:
        header += [f"{cam.name}_px", f"{cam.name}_py", f"{cam.name}_visible"]
    lines = [",".join(header)]
    for s in traj.shots:
        i = traj.index_of(s.shooter_id)
        # repr() of a float round-trips exactly: the origin in the CSV equals the truth's.
        row = [str(s.frame), repr(s.frame / traj.fps), str(s.shooter_id), str(int(traj.team[i])), str(int(traj.jersey[i])), str(int(s.made)), repr(s.x_ft), repr(s.y_ft)]
        for cam in cams:
            uv = proj[cam.name].foot[s.frame, i]
            row += [f"{uv[0]:.3f}", f"{uv[1]:.3f}", str(int(bool(_in_frame(cam, uv))))]
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n")
