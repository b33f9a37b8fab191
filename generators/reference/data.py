"""Training and evaluation data: rendered games, decoded frames and their per-person truth.

Games are rendered with :func:`generators.render.render_game` from seeds derived from a run
seed and a purpose (``"train"``, ``"eval"``), so training and held-out games never share a
seed. A :class:`View` is one camera of one game: its decoded frames and, aligned with them,
every person's foot-point, visibility, figure height and labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from generators.render import DEFAULT_CAMERAS, RenderedGame, read_frames, render_game

PURPOSES = {"train": 1, "eval": 2, "test": 3}
REFEREE_TEAM = 2  # the team class of referees (after team 0 and team 1)


@dataclass(frozen=True)
class View:
    """One camera of one game: frames ``[T, H, W, 3]`` and per-person truth ``[T, P]``.

    ``identity`` ``[P]`` numbers the people of all views of a run uniquely (the embedding's
    class); ``team`` ``[P]`` is 0, 1 or :data:`REFEREE_TEAM`; ``jersey`` ``[P]`` is 0-99 or -1.
    """

    game_id: str
    camera: str
    frame_index: NDArray[np.int64]
    frames: NDArray[np.uint8]
    px: NDArray[np.float32]
    py: NDArray[np.float32]
    visible: NDArray[np.bool_]
    visible_frac: NDArray[np.float32]
    height_px: NDArray[np.float32]
    identity: NDArray[np.int64]
    team: NDArray[np.int64]
    jersey: NDArray[np.int64]


def game_seed(seed: int, purpose: str, index: int) -> int:
    """The render seed of game ``index`` of ``purpose`` in a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, PURPOSES[purpose], index]).generate_state(1)[0])


def render_games(
    cache_dir: Path, seed: int, purpose: str, games: int, seconds: float, *, fps: int = 10, size: tuple[int, int] = (640, 360),
    cameras: Sequence[str] = DEFAULT_CAMERAS,
) -> list[RenderedGame]:
    """Render (or reuse from ``cache_dir``) the ``games`` games of ``purpose`` for ``seed``."""
    out = []
    for i in range(games):
        gid = f"{purpose}-{seed}-{i}"
        name = f"{gid}-{seconds:g}s-{fps}fps-{size[0]}x{size[1]}-{'-'.join(cameras)}"
        out.append(render_game(cache_dir / name, gid, game_seed(seed, purpose, i), seconds=seconds, fps=fps, size=size, cameras=cameras))
    return out


def _column(table: pa.Table, name: str, shape: tuple[int, int]) -> NDArray[Any]:
    """Column ``name`` of a per-(frame, person) table as an array ``[frames, people]``."""
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False)).reshape(shape)


def load_views(games: Sequence[RenderedGame], *, every: int = 1) -> list[View]:
    """Every camera of every game as a :class:`View`, keeping every ``every``-th frame.

    People are numbered across ``games`` in order (game, then the truth's person order).
    """
    views: list[View] = []
    offset = 0
    for game in games:
        table = pq.read_table(game.positions)
        frame = table.column("frame").to_numpy()
        n_people = int(np.count_nonzero(frame == frame[0]))
        if frame.shape[0] != game.frames * n_people or not (np.diff(frame) >= 0).all():
            raise ValueError(f"{game.positions}: expected {n_people} rows per frame, in frame order")
        shape = (game.frames, n_people)
        ids = _column(table, "player_id", shape)
        if not (ids == ids[0]).all():
            raise ValueError(f"{game.positions}: people are not in the same order in every frame")
        role = np.asarray(table.column("role").to_pylist()[:n_people])
        team = np.where(role == "referee", REFEREE_TEAM, _column(table, "team", shape)[0].astype(np.int64))
        keep = np.arange(0, game.frames, every)
        for cam in game.cameras:
            frames = np.stack([f for i, f in enumerate(read_frames(game.video(cam.name))) if i % every == 0])
            if frames.shape[0] != keep.shape[0]:
                raise ValueError(f"{game.video(cam.name)}: decoded {frames.shape[0]} frames, expected {keep.shape[0]}")
            c = cam.name
            views.append(View(
                game_id=game.game_id, camera=c, frame_index=keep.astype(np.int64), frames=frames,
                px=_column(table, f"{c}_px", shape)[keep].astype(np.float32), py=_column(table, f"{c}_py", shape)[keep].astype(np.float32),
                visible=_column(table, f"{c}_visible", shape)[keep].astype(np.bool_), visible_frac=_column(table, f"{c}_visible_frac", shape)[keep].astype(np.float32),
                height_px=_column(table, f"{c}_height_px", shape)[keep].astype(np.float32),
                identity=np.arange(offset, offset + n_people, dtype=np.int64), team=team.astype(np.int64),
                jersey=_column(table, "jersey", shape)[0].astype(np.int64),
            ))
        offset += n_people
    return views
