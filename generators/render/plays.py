"""The plays annotation of a rendered game (``plays.csv``): one play per shot, in words.

Columns, as the ``plays`` table of a clip/VLM training pipeline holds them (seed 003):
``play_id, start_time, end_time, angle, description``.

- ``play_id``: ``play001``, ``play002``, ... in shot order (unique within the game).
- ``start_time``, ``end_time`` (seconds, on frame boundaries): from :data:`LEAD_S` before the
  release, but not before the shooting team got the ball, to :data:`TAIL_S` after it, but not
  after the video ends.
- ``angle``: which camera angle the clip is for, ``both``, ``broadcast`` and ``tactical`` in
  turn (so every angle occurs in a game of three shots or more).
- ``description``: a templated sentence built from what the trajectories hold: team colour and
  jersey of the shooter, shot kind and distance, the spot on the floor, made or missed, and who
  has the ball afterwards when the video shows it.

Written only when asked (``render_game(..., plays=True)``), so that the default render output
stays byte-identical.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from generators.render.court import LENGTH_FT, THREE_POINT_RADIUS_FT, hoop_xy
from generators.render.trajectories import Shot, Trajectories

PLAYS_VERSION = 1
COLUMNS = ("play_id", "start_time", "end_time", "angle", "description")
ANGLES = ("both", "broadcast", "tactical")
TEAM_NAMES = ("Red", "Blue")  # the jersey colours of generators.render.draw.TEAM_COLOURS
LEAD_S = 3.0
TAIL_S = 2.0
_RESOLVE_S = 0.7 + 0.5 + 0.1  # the simulation's shortest flight plus the rebound, and a frame's margin
_CORNER_Y_FT = 22.0  # beyond this distance from the basket line a shot is in the corner


def _shot_kind(shot: Shot) -> tuple[str, float, str]:
    """(kind, distance ft, spot) of a shot, measured to the nearer hoop."""
    side = 0 if shot.x_ft < LENGTH_FT / 2 else 1
    hx, hy = hoop_xy(side)
    dist = math.hypot(shot.x_ft - hx, shot.y_ft - hy)
    lateral = (shot.y_ft - hy) * (1.0 if side == 1 else -1.0)  # > 0: the shooter's left, facing the hoop
    hand = "left" if lateral > 0 else "right"
    corner = abs(shot.y_ft - hy) >= _CORNER_Y_FT - 3.0 and abs(shot.x_ft - hx) < 10.0
    if dist < 6.0:
        return "layup", dist, "at the rim"
    three = dist >= THREE_POINT_RADIUS_FT or (corner and dist >= _CORNER_Y_FT)
    kind = "three-pointer" if three else "jump shot"
    if corner:
        spot = f"the {hand} corner"
    elif abs(lateral) < 6.0:
        spot = "the top of the key" if dist > 15.0 else "the free-throw line"
    else:
        spot = f"the {hand} wing" if dist > 15.0 else f"the {hand} elbow"
    return kind, dist, spot


def describe(traj: Trajectories, shot: Shot) -> str:
    """One or two sentences about ``shot``, from the trajectories alone."""
    i = traj.index_of(shot.shooter_id)
    team = int(traj.team[i])
    name = TEAM_NAMES[team]
    kind, dist, spot = _shot_kind(shot)
    where = spot if kind == "layup" else f"{round(dist)} ft out at {spot}"
    text = f"{name} #{int(traj.jersey[i])} takes a {kind} {where} and {'makes' if shot.made else 'misses'} it."
    after = shot.frame + math.ceil((_RESOLVE_S + dist / 40.0) * traj.fps)
    if after < traj.n_frames and traj.offense[after] in (0, 1):
        now = int(traj.offense[after])
        if shot.made:
            text += f" {TEAM_NAMES[now]} brings the ball back up." if now != team else ""
        elif now == team:
            text += f" {name} keeps the ball on the offensive rebound."
        else:
            text += f" {TEAM_NAMES[now]} secures the defensive rebound."
    return text


def _possession_start(traj: Trajectories, shot: Shot, team: int) -> int:
    f = shot.frame
    while f > 0 and traj.offense[f - 1] == team:
        f -= 1
    return f


def plays_rows(traj: Trajectories) -> list[dict[str, str]]:
    """The rows of ``plays.csv`` for ``traj``: one play per shot (see the module doc)."""
    rows = []
    lead, tail = round(LEAD_S * traj.fps), round(TAIL_S * traj.fps)
    for k, shot in enumerate(traj.shots):
        team = int(traj.team[traj.index_of(shot.shooter_id)])
        first = max(_possession_start(traj, shot, team), shot.frame - lead, 0)
        end = min(shot.frame + tail, traj.n_frames)
        rows.append({
            "play_id": f"play{k + 1:03d}",
            "start_time": f"{first / traj.fps:.3f}",
            "end_time": f"{end / traj.fps:.3f}",
            "angle": ANGLES[k % len(ANGLES)],
            "description": describe(traj, shot),
        })
    return rows


def write_plays(path: Path, traj: Trajectories) -> None:
    """Write ``plays.csv`` for ``traj`` at ``path``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(plays_rows(traj))
    path.write_text(buf.getvalue())

