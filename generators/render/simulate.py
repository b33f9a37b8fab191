"""A seeded, simple basketball game: ten players, two referees and a ball.

Enough game to make rendered video and its ground truth meaningful, not a model of basketball:
the offense spreads to spots around the hoop it attacks, moves between them and passes; each
defender shadows one attacker between him and the hoop; the handler stops, shoots, the ball
flies to the rim, and after a rebound the other team usually gets the ball and the play goes
the other way. Referees follow the ball along the sidelines.

The game is stepped at a fixed internal rate and sampled at the render rate, so a seed gives
the same game at any ``fps``; random draws happen in time order, so a longer game starts as
the shorter one with the same seed does.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from generators.render.court import HOOP_HEIGHT_FT, LENGTH_FT, WIDTH_FT, hoop_xy
from generators.render.trajectories import NO_JERSEY, NO_TEAM, ROLE_PLAYER, ROLE_REFEREE, Trajectories, jersey_numbers

SIM_HZ = 50
PLAYERS_PER_TEAM = 5
REFEREE_IDS = (-1, -2)
# Offensive spots around the attacked hoop: (distance ft, angle deg from the line to mid-court).
_SPOTS = np.array([(23.5, 0), (23.5, 45), (23.5, -45), (22.5, 85), (22.5, -85), (15, 30), (15, -30), (8, 70), (8, -70), (17, 0)], dtype=np.float64)
_RELEASE_Z_FT = 7.5
_GUARD_DISTANCE_FT = 4.0
_PERSONAL_SPACE_FT = 2.2
_SHOOTING_RANGE_FT = 25.0
_PLANT_S = 0.5


@dataclass
class _Flight:
    """The ball moving from ``start`` to ``end`` between two times, optionally on an arc."""

    start: NDArray[np.float64]
    end: NDArray[np.float64]
    t0: float
    t1: float
    apex_ft: float

    def at(self, t: float) -> NDArray[np.float64]:
        u = min(1.0, max(0.0, (t - self.t0) / (self.t1 - self.t0)))
        p: NDArray[np.float64] = self.start + (self.end - self.start) * u
        p[2] += 4.0 * self.apex_ft * u * (1.0 - u)
        return p


@dataclass
class _State:
    """Mutable state of one simulation run (local to :func:`simulate`, never shared)."""

    pos: NDArray[np.float64]
    vel: NDArray[np.float64]
    target: NDArray[np.float64]
    retarget_at: NDArray[np.float64]
    offense: int
    handler: int | None
    next_shot: float
    next_pass: float
    flight: _Flight | None = None
    flight_kind: str = ""  # "pass", "shot" or "rebound"
    receiver: int = -1
    shot_made: bool = False
    planted_at: float | None = None  # when the handler stopped to shoot


def _attack_side(team: int) -> int:
    # Team 0 attacks the right hoop, team 1 the left one, for the whole (short) game.
    return 1 if team == 0 else 0


def _spot(rng: np.random.Generator, team: int) -> NDArray[np.float64]:
    hx, hy = hoop_xy(_attack_side(team))
    r, ang = (float(v) for v in _SPOTS[rng.integers(len(_SPOTS))])
    into_court = 1.0 if hx < LENGTH_FT / 2 else -1.0
    a = math.radians(ang + float(rng.normal(0, 6)))
    r += float(rng.normal(0, 1.0))
    x = min(max(hx + into_court * r * math.cos(a), 1.0), LENGTH_FT - 1.0)
    y = min(max(hy + r * math.sin(a), 1.0), WIDTH_FT - 1.0)
    return np.array([x, y], dtype=np.float64)


def _team_slice(team: int) -> slice:
    return slice(team * PLAYERS_PER_TEAM, (team + 1) * PLAYERS_PER_TEAM)


def simulate(seed: int, *, seconds: float = 6.0, fps: int = 10) -> Trajectories:
    """A game of ``seconds`` at ``fps``, the same for the same arguments on any machine.

    Players 1-5 are team 0 (attacking the right hoop), 6-10 team 1; referees have ids -1, -2.
    Shots: the handler's, released from where he stands at the release frame.
    """
    if seconds <= 0 or fps <= 0:
        raise ValueError(f"simulate needs seconds > 0 and fps > 0, got seconds={seconds}, fps={fps}")
    n_frames = max(1, round(seconds * fps))
    # Separate streams: the roster does not change with the game's length, the motion does not
    # change when the roster rules do.
    roster_rng = np.random.default_rng([seed, 1])
    rng = np.random.default_rng([seed, 2])
    n_players = 2 * PLAYERS_PER_TEAM
    n = n_players + len(REFEREE_IDS)
    team = np.array([0] * PLAYERS_PER_TEAM + [1] * PLAYERS_PER_TEAM + [NO_TEAM] * len(REFEREE_IDS), dtype=np.int8)
    jersey = np.concatenate([jersey_numbers(roster_rng, PLAYERS_PER_TEAM), jersey_numbers(roster_rng, PLAYERS_PER_TEAM), np.full(len(REFEREE_IDS), NO_JERSEY)])
    height = np.concatenate([roster_rng.uniform(6.0, 7.1, n_players), roster_rng.uniform(5.9, 6.3, len(REFEREE_IDS))])
    max_speed = np.concatenate([roster_rng.uniform(15.0, 21.0, n_players), np.full(len(REFEREE_IDS), 12.0)])

    offense = int(rng.integers(2))
    st = _State(pos=np.zeros((n, 2)), vel=np.zeros((n, 2)), target=np.zeros((n, 2)), retarget_at=np.zeros(n),
                offense=offense, handler=None, next_shot=float(rng.uniform(0.5, 1.0)), next_pass=0.0)
    for i in range(PLAYERS_PER_TEAM):
        o = offense * PLAYERS_PER_TEAM + i
        st.pos[o] = st.target[o] = _spot(rng, offense)
        st.retarget_at[o] = rng.uniform(0.5, 1.5)
    st.handler = offense * PLAYERS_PER_TEAM + int(rng.integers(PLAYERS_PER_TEAM))
    st.next_pass = float(rng.uniform(0.3, 1.0))
    _defense_targets(st)
    st.pos[_team_slice(1 - offense)] = st.target[_team_slice(1 - offense)]
    st.pos[n_players:] = st.target[n_players:] = [(LENGTH_FT / 2, -2.5), (LENGTH_FT / 2, WIDTH_FT + 2.5)]

    steps = math.ceil(n_frames / fps * SIM_HZ) + 2
    pos_log = np.zeros((steps, n, 2))
    ball_log = np.zeros((steps, 3))
    off_log = np.zeros(steps, dtype=np.int8)
    releases: list[tuple[float, int, bool]] = []
    dt = 1.0 / SIM_HZ
    for k in range(steps):
        t = k * dt
        ball = _step_ball(st, rng, t, releases)
        _offense_targets(st, rng, t)
        _defense_targets(st)
        st.target[n_players] = (np.clip(ball[0] - 6.0, 8.0, LENGTH_FT - 8.0), -2.5)
        st.target[n_players + 1] = (np.clip(ball[0] + 6.0, 8.0, LENGTH_FT - 8.0), WIDTH_FT + 2.5)
        pos_log[k], ball_log[k], off_log[k] = st.pos, ball, st.offense
        _move(st, max_speed, n_players, dt)

    # Sample the internal steps at the frame times (linear interpolation between steps).
    f = np.arange(n_frames) / fps * SIM_HZ
    lo = np.floor(f).astype(np.int64)
    w = (f - lo)
    xy = pos_log[lo] * (1 - w)[:, None, None] + pos_log[lo + 1] * w[:, None, None]
    ball_xyz = ball_log[lo] * (1 - w)[:, None] + ball_log[lo + 1] * w[:, None]
    traj = Trajectories(
        fps=fps, xy=xy, player_id=np.array([*range(1, n_players + 1), *REFEREE_IDS]), team=team,
        role=np.array([ROLE_PLAYER] * n_players + [ROLE_REFEREE] * len(REFEREE_IDS)), jersey=jersey,
        height_ft=height, ball=ball_xyz, offense=off_log[lo],
    )
    shots = []
    for t_rel, shooter, made in releases:
        frame = round(t_rel * fps)
        if frame < n_frames:
            shots.append(traj.shot_at(frame, int(traj.player_id[shooter]), made))
    return dataclasses.replace(traj, shots=tuple(shots))


def _step_ball(st: _State, rng: np.random.Generator, t: float, releases: list[tuple[float, int, bool]]) -> NDArray[np.float64]:
    """Advance possession, passes and shots to time ``t``; return the ball position."""
    if st.flight is not None and t >= st.flight.t1:
        end = st.flight.end.copy()
        if st.flight_kind == "pass":
            st.handler = st.receiver
            st.next_pass = t + float(rng.uniform(0.7, 1.8))
        elif st.flight_kind == "shot":
            # Off the rim: made shots drop under the hoop, misses bounce out 5-10 ft.
            hx, hy = end[0], end[1]
            into = 1.0 if hx < LENGTH_FT / 2 else -1.0
            r = 0.0 if st.shot_made else float(rng.uniform(5.0, 10.0))
            a = float(rng.uniform(-1.2, 1.2))
            land = np.array([hx + into * r * math.cos(a), hy + r * math.sin(a), 3.0])
            st.flight, st.flight_kind = _Flight(end, land, t, t + 0.5, 1.0 if r else 0.0), "rebound"
            return st.flight.at(t)
        elif st.flight_kind == "rebound":
            keep = (not st.shot_made) and rng.uniform() < 0.35
            if not keep:
                st.offense = 1 - st.offense
            members = np.arange(PLAYERS_PER_TEAM) + st.offense * PLAYERS_PER_TEAM
            st.handler = int(members[np.argmin(np.hypot(*(st.pos[members] - end[:2]).T))])
            st.next_shot = t + float(rng.uniform(0.8, 1.5) if keep else rng.uniform(1.0, 2.0))
            st.next_pass = t + float(rng.uniform(0.4, 1.0))
            st.retarget_at[members] = t  # the whole offense heads for its new spots now
        st.flight, st.flight_kind = None, ""
    if st.flight is not None:
        return st.flight.at(t)
    assert st.handler is not None
    h = st.handler
    hx, hy = hoop_xy(_attack_side(st.offense))
    dist = float(np.hypot(hx - st.pos[h, 0], hy - st.pos[h, 1]))
    if st.planted_at is None and t >= st.next_shot - _PLANT_S and dist <= _SHOOTING_RANGE_FT:
        st.planted_at = t
    if st.planted_at is not None and t >= max(st.next_shot, st.planted_at + _PLANT_S):
        start = np.array([st.pos[h, 0], st.pos[h, 1], _RELEASE_Z_FT])
        st.shot_made = bool(rng.uniform() < 0.45)
        st.flight = _Flight(start, np.array([hx, hy, HOOP_HEIGHT_FT]), t, t + 0.7 + dist / 40.0, 3.0 + dist / 5.0)
        st.flight_kind, st.handler, st.planted_at = "shot", None, None
        releases.append((t, h, st.shot_made))
        return st.flight.at(t)
    if t >= st.next_pass and t < st.next_shot - 0.8 and st.planted_at is None:
        mates = [m for m in range(st.offense * PLAYERS_PER_TEAM, (st.offense + 1) * PLAYERS_PER_TEAM) if m != h]
        to = mates[int(rng.integers(len(mates)))]
        start = np.array([st.pos[h, 0], st.pos[h, 1], 3.5])
        end = np.array([st.pos[to, 0], st.pos[to, 1], 3.5])
        dist = float(np.hypot(*(end[:2] - start[:2])))
        st.flight, st.flight_kind, st.receiver = _Flight(start, end, t, t + 0.1 + dist / 35.0, 0.5), "pass", to
        st.handler = None
        return st.flight.at(t)
    # Dribbling beside the handler; the ball rises to the shooting pocket just before a shot.
    z = _RELEASE_Z_FT - 1.5 if st.planted_at is not None and t > st.planted_at + _PLANT_S - 0.3 else 0.8 + 2.2 * abs(math.sin(2 * math.pi * 1.4 * t))
    return np.array([st.pos[h, 0] + 0.8, st.pos[h, 1] - 0.6, z])


def _offense_targets(st: _State, rng: np.random.Generator, t: float) -> None:
    for i in range(st.offense * PLAYERS_PER_TEAM, (st.offense + 1) * PLAYERS_PER_TEAM):
        if i == st.handler and st.planted_at is not None:
            st.target[i] = st.pos[i]  # the shooter plants his feet before the release
        elif t >= st.retarget_at[i]:
            st.target[i] = _spot(rng, st.offense)
            st.retarget_at[i] = t + float(rng.uniform(1.0, 2.2))


def _defense_targets(st: _State) -> None:
    d = 1 - st.offense
    hx, hy = hoop_xy(_attack_side(st.offense))
    attackers = st.pos[_team_slice(st.offense)]
    to_hoop = np.array([hx, hy]) - attackers
    norm = np.maximum(np.hypot(*to_hoop.T), 1e-6)[:, None]
    st.target[_team_slice(d)] = attackers + to_hoop / norm * np.minimum(norm, _GUARD_DISTANCE_FT)


def _move(st: _State, max_speed: NDArray[np.float64], n_players: int, dt: float) -> None:
    desired = (st.target - st.pos) * 2.5
    speed = np.maximum(np.hypot(*desired.T), 1e-9)
    desired *= np.minimum(1.0, max_speed / speed)[:, None]
    # Players keep a little personal space so they overlap in pictures, not on the floor.
    p = st.pos[:n_players]
    diff = p[:, None, :] - p[None, :, :]
    dist = np.hypot(diff[..., 0], diff[..., 1]) + np.eye(n_players) * 1e9
    push = np.clip(_PERSONAL_SPACE_FT - dist, 0.0, None) / np.maximum(dist, 1e-6) * 6.0
    desired[:n_players] += (diff * push[..., None]).sum(axis=1)
    st.vel += (desired - st.vel) * min(1.0, 6.0 * dt)
    st.pos += st.vel * dt
    st.pos[:n_players] = np.clip(st.pos[:n_players], (0.5, 0.5), (LENGTH_FT - 0.5, WIDTH_FT - 0.5))
