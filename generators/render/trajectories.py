"""What a rendered game shows: people moving on the court, the ball, and the shots.

:class:`Trajectories` is a value: its arrays are private read-only copies, and construction
checks every invariant a renderer or a ground-truth reader relies on, so a malformed game
fails where it is made, not frames later inside a drawing routine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

ROLE_PLAYER = 0
ROLE_REFEREE = 1
ROLE_NAMES = {ROLE_PLAYER: "player", ROLE_REFEREE: "referee"}
NO_TEAM = -1
NO_JERSEY = -1


class Shot(BaseModel):
    """A field-goal attempt: released at ``frame`` by ``shooter_id`` from ``(x_ft, y_ft)``.

    The origin is the shooter's foot position at the release frame, exactly as the
    trajectories hold it (a :class:`Trajectories` refuses a shot whose origin disagrees).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    frame: int = Field(ge=0)
    shooter_id: int
    x_ft: float
    y_ft: float
    made: bool


def _frozen(a: Any, dtype: type[np.generic], name: str, ndim: int) -> NDArray[Any]:
    arr = np.array(a, dtype=dtype, copy=True)
    if arr.ndim != ndim:
        raise ValueError(f"Trajectories.{name}: expected {ndim} dimensions, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Trajectories:
    """Everyone on the court, frame by frame, at ``fps`` frames per second.

    - ``xy`` ``[T, N, 2]`` float64: foot position in court feet (x along 94 ft, y across 50 ft).
    - ``player_id`` ``[N]`` int64, unique. Referees have negative ids.
    - ``team`` ``[N]`` int8: 0 or 1 for players, ``NO_TEAM`` (-1) for referees.
    - ``role`` ``[N]`` int8: ``ROLE_PLAYER`` or ``ROLE_REFEREE``.
    - ``jersey`` ``[N]`` int16: 0-99 and unique within a team for players, ``NO_JERSEY`` for referees.
    - ``height_ft`` ``[N]`` float64: standing height, which sets the drawn figure's size.
    - ``ball`` ``[T, 3]`` float64: ball centre (x, y, z) in feet.
    - ``offense`` ``[T]`` int8: the team in possession at each frame, or -1 when unknown.
    - ``shots``: sorted by frame; each shooter is a player of the team on offense at the
      release frame (where known) and each origin equals the shooter's ``xy`` at that frame.
    """

    fps: int
    xy: NDArray[np.float64]
    player_id: NDArray[np.int64]
    team: NDArray[np.int8]
    role: NDArray[np.int8]
    jersey: NDArray[np.int16]
    height_ft: NDArray[np.float64]
    ball: NDArray[np.float64]
    offense: NDArray[np.int8]
    shots: tuple[Shot, ...] = field(default=())

    def __post_init__(self) -> None:
        # Frozen dataclass: normalising the arrays must bypass the frozen __setattr__.
        put = object.__setattr__
        put(self, "xy", _frozen(self.xy, np.float64, "xy", 3))
        for name, dtype in (("player_id", np.int64), ("team", np.int8), ("role", np.int8), ("jersey", np.int16), ("height_ft", np.float64)):
            put(self, name, _frozen(getattr(self, name), dtype, name, 1))
        put(self, "ball", _frozen(self.ball, np.float64, "ball", 2))
        put(self, "offense", _frozen(self.offense, np.int8, "offense", 1))
        put(self, "shots", tuple(sorted(self.shots, key=lambda s: (s.frame, s.shooter_id))))
        self._check()

    def _check(self) -> None:
        t, n = self.n_frames, self.n_people
        if self.fps <= 0:
            raise ValueError(f"Trajectories.fps must be positive, got {self.fps}")
        if t == 0 or self.xy.shape[2] != 2:
            raise ValueError(f"Trajectories.xy must be [T>0, N, 2], got {self.xy.shape}")
        for name in ("player_id", "team", "role", "jersey", "height_ft"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"Trajectories.{name} must have one entry per person ({n}), got {getattr(self, name).shape}")
        if self.ball.shape != (t, 3) or self.offense.shape != (t,):
            raise ValueError(f"Trajectories.ball must be [{t}, 3] and offense [{t}], got {self.ball.shape} and {self.offense.shape}")
        if not (np.isfinite(self.xy).all() and np.isfinite(self.ball).all()):
            raise ValueError("Trajectories.xy and ball must be finite (interpolate gaps before building)")
        if len(set(self.player_id.tolist())) != n:
            raise ValueError(f"Trajectories.player_id must be unique, got {self.player_id.tolist()}")
        players = self.role == ROLE_PLAYER
        if not np.isin(self.role, (ROLE_PLAYER, ROLE_REFEREE)).all():
            raise ValueError(f"Trajectories.role must be {ROLE_PLAYER} (player) or {ROLE_REFEREE} (referee)")
        if not (np.isin(self.team[players], (0, 1)).all() and (self.team[~players] == NO_TEAM).all()):
            raise ValueError("Trajectories.team must be 0 or 1 for players and -1 for referees")
        if not ((self.jersey[players] >= 0) & (self.jersey[players] <= 99)).all():
            raise ValueError("Trajectories.jersey must be 0-99 for every player")
        for team in (0, 1):
            numbers = self.jersey[players & (self.team == team)].tolist()
            if len(set(numbers)) != len(numbers):
                raise ValueError(f"Trajectories.jersey repeats a number within team {team}: {sorted(numbers)}")
        if not np.isin(self.offense, (-1, 0, 1)).all():
            raise ValueError("Trajectories.offense must be -1, 0 or 1 at every frame")
        for shot in self.shots:
            self._check_shot(shot)

    def _check_shot(self, shot: Shot) -> None:
        if shot.frame >= self.n_frames:
            raise ValueError(f"shot at frame {shot.frame} lies outside the {self.n_frames} frames")
        i = self.index_of(shot.shooter_id)
        if self.role[i] != ROLE_PLAYER:
            raise ValueError(f"shot at frame {shot.frame}: shooter {shot.shooter_id} is not a player")
        if self.offense[shot.frame] not in (-1, self.team[i]):
            raise ValueError(f"shot at frame {shot.frame}: shooter {shot.shooter_id} of team {self.team[i]} is not on offense")
        if not np.allclose(self.xy[shot.frame, i], (shot.x_ft, shot.y_ft), atol=1e-6):
            raise ValueError(f"shot at frame {shot.frame}: origin ({shot.x_ft}, {shot.y_ft}) is not the shooter's position {self.xy[shot.frame, i].tolist()}")

    @property
    def n_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def n_people(self) -> int:
        return int(self.xy.shape[1])

    @property
    def seconds(self) -> float:
        return self.n_frames / self.fps

    def index_of(self, player_id: int) -> int:
        """Column of ``player_id`` in the arrays; ``KeyError`` naming it when absent."""
        hits = np.flatnonzero(self.player_id == player_id)
        if len(hits) == 0:
            raise KeyError(f"no person with id {player_id} in these trajectories")
        return int(hits[0])

    def shot_at(self, frame: int, shooter_id: int, made: bool) -> Shot:
        """The :class:`Shot` released at ``frame`` by ``shooter_id``, origin read from ``xy``."""
        x, y = self.xy[frame, self.index_of(shooter_id)]
        return Shot(frame=frame, shooter_id=shooter_id, x_ft=float(x), y_ft=float(y), made=made)


def jersey_numbers(rng: np.random.Generator, count: int) -> NDArray[np.int16]:
    """``count`` distinct jersey numbers 0-99, mostly two-digit like a real roster."""
    pool = np.concatenate([np.arange(10, 100), np.arange(0, 10)])
    weights = np.where(pool >= 10, 4.0, 1.0)
    return rng.choice(pool, size=count, replace=False, p=weights / weights.sum()).astype(np.int16)
