"""Trajectories driven by real NBA SportVU tracking, with shots joined from the play-by-play.

Inputs, in a data directory passed by the caller (see the data README for the columns):
``*_moments_*.csv`` (one row per tracking moment: clocks, ball, ten players), ``pbp_<game>.csv``
(the official play-by-play) and, optionally, ``player_idx_to_nba_playerid.json`` (b2v id ->
NBA id). How a shot is found:

1. Every made (``EVENTMSGTYPE`` 1) or missed (2) field goal whose ``PERIOD`` has tracking rows
   with the game clock in ``[PCTIMESTRING, PCTIMESTRING + 1 s)`` is joined to the tracking.
2. The shooter is ``PLAYER1_ID`` mapped to a b2v id through the JSON, else ``PLAYER1_NAME``;
   he must be one of the ten tracked players.
3. The play-by-play time is when the result was logged, typically 2-3 s after the release
   (measured on the CLE @ DAL game). The release is therefore searched in the 6 s of game clock
   before it: the last moment the shooter holds the ball (within 3.5 ft) before the ball's last
   arrival at a rim (within 3 ft of a hoop, at least 8 ft up); failing an arrival, the last
   moment he holds it (within 3 ft). No such moment: the shot is not matched.
4. The origin is the shooter's position at the release frame of the rendered window.

A window of ``seconds`` around one matched shot is resampled on the wall clock (which keeps
running when the game clock stops) to the render rate by linear interpolation. It must lie
within one stretch of tracking with no gap over 0.6 s and the same ten players. The data has
no referees, jersey numbers or heights: two referees follow the ball along the sidelines, and
numbers and heights are fixed functions of the b2v id, so a player keeps them in every window.
Which team is on offense is taken from the player nearest to a low ball, carried over while the
ball is in the air; at a release frame it is the shooter's team.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from artifacts.errors import SourceError, UsageError
from generators.render.court import LENGTH_FT, WIDTH_FT, hoop_xy
from generators.render.trajectories import NO_JERSEY, NO_TEAM, ROLE_PLAYER, ROLE_REFEREE, Trajectories

N_TRACKED = 10
REFEREE_IDS = (-1, -2)
MAX_GAP_S = 0.6
RELEASE_SEARCH_S = 6.0
HOLD_FT = 3.5
HOLD_FALLBACK_FT = 3.0
RIM_FT = 3.0
RIM_MIN_Z_FT = 8.0
_GAME_ID = re.compile(r"(\d{10})")


class SportVUSource(BaseModel):
    """Options of a SportVU-driven game: the data directory and which shot to centre on.

    ``shot`` indexes the matched shots in game order; ``lead_s`` is how much video comes before
    its release (default: half the window). The window is moved, not cut, when it would leave
    the stretch of tracking that holds the shot.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path
    shot: int = Field(default=0, ge=0)
    lead_s: float | None = Field(default=None, ge=0)


@dataclass(frozen=True)
class SportVUFiles:
    """The files of one game in a data directory."""

    moments: Path
    pbp: Path
    players: Path | None


@dataclass(frozen=True)
class Moments:
    """The tracking rows, as arrays: ``R`` rows in wall-clock order, ten players each."""

    period: NDArray[np.int64]
    clock_s: NDArray[np.float64]
    wall_s: NDArray[np.float64]
    ball: NDArray[np.float64]
    ids: NDArray[np.int64]
    names: NDArray[np.str_]
    xy: NDArray[np.float64]

    @property
    def rows(self) -> int:
        return int(self.period.shape[0])


@dataclass(frozen=True)
class MatchedShot:
    """A play-by-play field goal found in the tracking: released at tracking row ``row``."""

    row: int
    shooter_b2v: int
    made: bool
    period: int
    pctimestring: str
    shooter_name: str


def find_files(data_dir: Path) -> SportVUFiles:
    """The moments CSV, its play-by-play and the player map in ``data_dir``."""
    moments = sorted(data_dir.glob("*_moments_*.csv"))
    if len(moments) != 1:
        raise UsageError("sportvu data directory", str(data_dir), f"holds {len(moments)} *_moments_*.csv files", "give a directory with exactly one game")
    m = _GAME_ID.search(moments[0].name)
    if m is None:
        raise SourceError("sportvu moments file", moments[0].name, "has no 10-digit NBA game id in its name", "name it like <teams>_<game id>_moments_5hz.csv")
    pbp = data_dir / f"pbp_{m.group(1)}.csv"
    if not pbp.is_file():
        raise SourceError("sportvu play-by-play", str(pbp), "is missing", "put the game's play-by-play next to its moments file")
    players = data_dir / "player_idx_to_nba_playerid.json"
    return SportVUFiles(moments=moments[0], pbp=pbp, players=players if players.is_file() else None)


def _columns(df: pl.DataFrame, path: Path, names: list[str]) -> None:
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise SourceError("sportvu file", str(path), f"lacks columns {missing}", "use the SportVU CSV layout of the data README")


def read_moments(path: Path) -> Moments:
    """The tracking rows of a moments CSV, sorted by wall clock."""
    try:
        df = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as e:
        raise SourceError("sportvu moments file", str(path), f"cannot be read ({e})", "check the file") from e
    players = [f"p{k}_{f}" for k in range(N_TRACKED) for f in ("name", "b2v_id", "x", "y")]
    _columns(df, path, ["period", "game_clock_remaining_s", "wall_clock_ms", "ball_x", "ball_y", "ball_z", *players])
    try:
        num = df.select(
            pl.col("period").cast(pl.Int64), pl.col("game_clock_remaining_s").cast(pl.Float64), pl.col("wall_clock_ms").cast(pl.Float64),
            *[pl.col(c).cast(pl.Float64) for c in ("ball_x", "ball_y", "ball_z")],
            *[pl.col(f"p{k}_b2v_id").cast(pl.Float64).cast(pl.Int64) for k in range(N_TRACKED)],
            *[pl.col(f"p{k}_{a}").cast(pl.Float64) for k in range(N_TRACKED) for a in ("x", "y")],
        )
    except pl.exceptions.PolarsError as e:
        raise SourceError("sportvu moments file", str(path), f"has a malformed number ({e})", "check the file") from e
    a = num.to_numpy()
    order = np.argsort(a[:, 2], kind="stable")
    a = a[order]
    names = df.select([f"p{k}_name" for k in range(N_TRACKED)]).to_numpy().astype(str)[order]
    return Moments(
        period=a[:, 0].astype(np.int64), clock_s=a[:, 1], wall_s=a[:, 2] / 1000.0, ball=a[:, 3:6],
        ids=a[:, 6 : 6 + N_TRACKED].astype(np.int64), names=names, xy=a[:, 6 + N_TRACKED :].reshape(-1, N_TRACKED, 2),
    )


def _clock_seconds(text: str) -> int:
    m = re.fullmatch(r"(\d+):(\d\d)", text.strip())
    if m is None:
        raise ValueError(text)
    return int(m.group(1)) * 60 + int(m.group(2))


def match_shots(moments: Moments, pbp: Path, players: Path | None) -> list[MatchedShot]:
    """Every play-by-play field goal found in ``moments``, in game order (see the module doc)."""
    try:
        df = pl.read_csv(pbp, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as e:
        raise SourceError("sportvu play-by-play", str(pbp), f"cannot be read ({e})", "check the file") from e
    _columns(df, pbp, ["EVENTMSGTYPE", "PERIOD", "PCTIMESTRING", "PLAYER1_ID", "PLAYER1_NAME"])
    nba_to_b2v: dict[int, int] = {}
    if players is not None:
        for b2v, info in json.loads(players.read_text()).items():
            nba_to_b2v[int(info["playerid"])] = int(b2v)
    found: list[MatchedShot] = []
    for ev in df.filter(pl.col("EVENTMSGTYPE").is_in(["1", "2"])).iter_rows(named=True):
        try:
            period, t = int(float(ev["PERIOD"])), _clock_seconds(ev["PCTIMESTRING"])
            nba_id = int(float(ev["PLAYER1_ID"] or "nan"))
        except ValueError:
            continue  # an event without a usable period, clock or shooter cannot be joined
        in_period = moments.period == period
        if not (in_period & (moments.clock_s >= t) & (moments.clock_s < t + 1)).any():
            continue
        window = np.flatnonzero(in_period & (moments.clock_s >= t) & (moments.clock_s <= t + RELEASE_SEARCH_S))
        shooter = nba_to_b2v.get(nba_id)
        if shooter is None or not (moments.ids[window] == shooter).any():
            by_name = moments.ids[window][moments.names[window] == (ev["PLAYER1_NAME"] or "")]
            if len(by_name) == 0:
                continue
            shooter = int(by_name[0])
        row = _release_row(moments, window, shooter)
        if row is not None:
            found.append(MatchedShot(row=row, shooter_b2v=shooter, made=ev["EVENTMSGTYPE"] == "1", period=period,
                                     pctimestring=ev["PCTIMESTRING"], shooter_name=str(ev["PLAYER1_NAME"])))
    found.sort(key=lambda s: s.row)
    return found


def _release_row(m: Moments, window: NDArray[np.int64], shooter: int) -> int | None:
    slot = m.ids[window] == shooter
    present = slot.any(axis=1)
    sxy = np.where(present[:, None], (m.xy[window] * slot[..., None]).sum(axis=1), np.nan)
    hold = np.hypot(*(sxy - m.ball[window, :2]).T)
    rim = np.min([np.hypot(m.ball[window, 0] - hoop_xy(s)[0], m.ball[window, 1] - hoop_xy(s)[1]) for s in (0, 1)], axis=0)
    at_rim = (rim <= RIM_FT) & (m.ball[window, 2] >= RIM_MIN_Z_FT)
    if at_rim.any():
        last = int(np.flatnonzero(at_rim)[-1])
        while last > 0 and at_rim[last - 1] and window[last - 1] == window[last] - 1:
            last -= 1
        before = np.flatnonzero(hold[:last] <= HOLD_FT)
        if len(before):
            return int(window[before[-1]])
    held = np.flatnonzero(hold <= HOLD_FALLBACK_FT)
    return int(window[held[-1]]) if len(held) else None


def _segment(m: Moments, row: int) -> tuple[int, int]:
    """Rows ``[start, end)`` of the gap-free, same-ten-players stretch holding ``row``."""
    lineup = np.sort(m.ids, axis=1)
    same = (np.diff(m.wall_s) <= MAX_GAP_S) & (lineup[1:] == lineup[:-1]).all(axis=1)
    start, end = row, row + 1
    while start > 0 and same[start - 1]:
        start -= 1
    while end < m.rows and same[end - 1]:
        end += 1
    return start, end


def _id_hash(b2v: int, salt: int) -> int:
    h = (b2v * 0x9E3779B1 + salt * 0x7F4A7C15) & 0xFFFFFFFF
    return ((h ^ (h >> 13)) * 0x5BD1E995) & 0xFFFFFFFF


def _jerseys(ids: list[int], teams: list[int]) -> list[int]:
    # A number per b2v id, probing upwards where a teammate already has it: stable per game.
    taken: dict[int, set[int]] = {0: set(), 1: set()}
    out = {}
    for pid, team in sorted(zip(ids, teams, strict=True)):
        n = _id_hash(pid, 1) % 100
        while n in taken[team]:
            n = (n + 1) % 100
        taken[team].add(n)
        out[pid] = n
    return [out[pid] for pid in ids]


def load_sportvu(source: SportVUSource, *, seconds: float, fps: int) -> Trajectories:
    """A window of ``seconds`` at ``fps`` around matched shot ``source.shot`` (module doc)."""
    files = find_files(source.data_dir)
    moments = read_moments(files.moments)
    shots = match_shots(moments, files.pbp, files.players)
    if source.shot >= len(shots):
        raise UsageError("sportvu shot", source.shot, f"is out of range: {len(shots)} shots are matched in {files.moments.name}", f"use 0-{len(shots) - 1}")
    chosen = shots[source.shot]
    start, end = _segment(moments, chosen.row)
    n_frames = max(1, round(seconds * fps))
    span = (n_frames - 1) / fps
    t_seg0, t_seg1 = moments.wall_s[start], moments.wall_s[end - 1]
    if t_seg1 - t_seg0 < span:
        raise UsageError("sportvu shot", source.shot, f"lies in {t_seg1 - t_seg0:.1f} s of continuous tracking, less than the {seconds} s asked",
                         "ask for fewer seconds or another shot")
    lead = seconds / 2 if source.lead_s is None else source.lead_s
    t0 = float(np.clip(moments.wall_s[chosen.row] - lead, t_seg0, t_seg1 - span))
    times = t0 + np.arange(n_frames) / fps
    rows = slice(start, end)
    order = np.argsort(moments.ids[rows], axis=1, kind="stable")
    ids = np.take_along_axis(moments.ids[rows], order, axis=1)[0]
    xy_rows = np.take_along_axis(moments.xy[rows], order[..., None], axis=1)
    slot_team = (order >= N_TRACKED // 2).astype(np.int8)
    if not (slot_team == slot_team[0]).all():
        raise SourceError("sportvu moments file", str(files.moments), "moves a player between the two five-player column groups", "keep p0-p4 one team and p5-p9 the other")
    wall = moments.wall_s[rows]
    xy = np.stack([np.stack([np.interp(times, wall, xy_rows[:, k, a]) for a in (0, 1)], axis=-1) for k in range(N_TRACKED)], axis=1)
    ball = np.stack([np.interp(times, wall, moments.ball[rows, a]) for a in range(3)], axis=-1)
    team = slot_team[0]
    refs = _referees(ball)
    player_ids = [int(i) for i in ids]
    traj = Trajectories(
        fps=fps, xy=np.concatenate([xy, refs], axis=1), player_id=np.array([*player_ids, *REFEREE_IDS]),
        team=np.array([*team.tolist(), NO_TEAM, NO_TEAM]), role=np.array([ROLE_PLAYER] * N_TRACKED + [ROLE_REFEREE] * 2),
        jersey=np.array([*_jerseys(player_ids, team.tolist()), NO_JERSEY, NO_JERSEY]),
        height_ft=np.array([6.0 + (_id_hash(i, 2) % 13) / 10 for i in player_ids] + [6.1, 6.1]),
        ball=ball, offense=np.zeros(n_frames, dtype=np.int8),
    )
    offense = _offense(traj)
    found = []
    for s in shots:
        frame = round((moments.wall_s[s.row] - t0) * fps)
        if start <= s.row < end and 0 <= frame < n_frames:
            offense[frame] = traj.team[traj.index_of(s.shooter_b2v)]
            found.append((frame, s))
    traj = dataclasses.replace(traj, offense=offense)
    return dataclasses.replace(traj, shots=tuple(traj.shot_at(f, s.shooter_b2v, s.made) for f, s in found))


def _referees(ball: NDArray[np.float64]) -> NDArray[np.float64]:
    # Each referee trails the ball's x smoothly (a first-order lag), one on each sideline.
    lag = np.empty(len(ball))
    acc = float(ball[0, 0])
    for i, x in enumerate(ball[:, 0]):
        acc += 0.15 * (float(x) - acc)
        lag[i] = acc
    near = np.stack([np.clip(lag - 6.0, 8.0, LENGTH_FT - 8.0), np.full(len(ball), -2.5)], axis=-1)
    far = np.stack([np.clip(lag + 6.0, 8.0, LENGTH_FT - 8.0), np.full(len(ball), WIDTH_FT + 2.5)], axis=-1)
    return np.stack([near, far], axis=1)


def _offense(traj: Trajectories) -> NDArray[np.int8]:
    # Possession changes only when the other team holds a low ball for 0.4 s: a defender the
    # ball flies past does not take it.
    players = traj.role == ROLE_PLAYER
    d = np.hypot(*(traj.xy[:, players] - traj.ball[:, None, :2]).transpose(2, 0, 1))
    nearest = np.argmin(d, axis=1)
    holds = (d[np.arange(len(d)), nearest] <= 4.0) & (traj.ball[:, 2] <= 9.0)
    holder = np.where(holds, traj.team[players][nearest], -1)
    need = max(1, round(0.4 * traj.fps))
    out = np.full(traj.n_frames, -1, dtype=np.int8)
    current, run_team, run = -1, -1, 0
    for i in range(traj.n_frames):
        h = int(holder[i])
        if h >= 0:
            run = run + 1 if h == run_team else 1
            run_team = h
            if run >= need or current == -1:
                current = h
        out[i] = current
    known = np.flatnonzero(out >= 0)
    if len(known):
        out[: known[0]] = out[known[0]]
    return out
