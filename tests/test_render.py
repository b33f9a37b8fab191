"""The embedded game source: rendered H.264 games whose pixels agree with their ground truth."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import REPO

from artifacts.errors import SourceError, UsageError
from artifacts.plan import Engine
from artifacts.workspace import init_workspace
from generators.render import (
    Camera,
    RenderedGame,
    SportVUSource,
    load_sportvu,
    preset_camera,
    probe,
    read_frames,
    render_game,
    render_trajectories,
    simulate,
)
from generators.render.draw import FLOOR, LAYOUT, REFEREE_SHIRT, TEAM_COLOURS, TORSO_HALF
from generators.render.sportvu import find_files, match_shots, read_moments

SIZE = (320, 192)
SECONDS, FPS = 2.0, 10


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RenderedGame]:
    root = tmp_path_factory.mktemp("render")
    return {
        "a": render_game(root / "a", "game-a", 3, seconds=SECONDS, fps=FPS, size=SIZE),
        "a2": render_game(root / "a2", "game-a", 3, seconds=SECONDS, fps=FPS, size=SIZE),
        "b": render_game(root / "b", "game-a", 4, seconds=SECONDS, fps=FPS, size=SIZE),
    }


def _files(game: RenderedGame) -> dict[str, bytes]:
    return {str(p.relative_to(game.directory)): p.read_bytes() for p in sorted(game.directory.rglob("*")) if p.is_file()}


def test_videos_decode_to_the_requested_frames(renders: dict[str, RenderedGame]) -> None:
    game = renders["a"]
    assert [c.name for c in game.cameras] == ["left", "right"]
    for cam in game.cameras:
        info = probe(game.video(cam.name))
        assert (info.codec, info.width, info.height, info.fps, info.frames) == ("h264", 320, 192, Fraction(10), 20)
        frames = list(read_frames(game.video(cam.name)))
        assert len(frames) == 20 and all(f.shape == (192, 320, 3) and f.dtype == np.uint8 for f in frames)
        assert not np.array_equal(frames[0], frames[-1])  # people move


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(renders: dict[str, RenderedGame]) -> None:
    a, a2, b = (_files(renders[k]) for k in ("a", "a2", "b"))
    assert sorted(a) == ["cameras.json", "game.json", "left.mp4", "right.mp4", "shots.csv", "truth/ball.parquet", "truth/positions.parquet"]
    assert a == a2
    assert a["left.mp4"] != b["left.mp4"] and a["truth/positions.parquet"] != b["truth/positions.parquet"]
    assert a["cameras.json"] == b["cameras.json"]  # same cameras, other play


def test_the_bytes_do_not_depend_on_leftover_memory(tmp_path: Path, renders: dict[str, RenderedGame]) -> None:
    # glibc fills fresh heap memory with MALLOC_PERTURB_'s byte: an encoder that read
    # uninitialised memory would write other bytes in these processes (x264 did, with mbtree).
    script = "import sys; from pathlib import Path; from generators.render import render_game; render_game(Path(sys.argv[1]), 'game-a', 3, seconds=2.0, size=(320, 192))"
    for perturb in ("1", "170"):
        out = tmp_path / f"perturbed-{perturb}"
        env = dict(os.environ, MALLOC_PERTURB_=perturb, PYTHONPATH=str(REPO))
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env, cwd=REPO, timeout=120)
        assert (out / "left.mp4").read_bytes() == renders["a"].video("left").read_bytes()
        assert (out / "right.mp4").read_bytes() == renders["a"].video("right").read_bytes()


def test_pixels_agree_with_the_ground_truth(renders: dict[str, RenderedGame]) -> None:
    game = renders["a"]
    pos = pl.read_parquet(game.positions)
    palette = {"team0": TEAM_COLOURS[0], "team1": TEAM_COLOURS[1], "referee": REFEREE_SHIRT, "floor": FLOOR}
    checked = {"player": 0, "referee": 0}
    for cam in game.cameras:
        frames = [f.astype(np.int64) for f in read_frames(game.video(cam.name))]
        # Fully visible figures tall enough to hold a shorts band a few pixels high.
        rows = pos.filter((pl.col(f"{cam.name}_visible_frac") == 1.0) & (pl.col(f"{cam.name}_height_px") >= 14) & pl.col(f"{cam.name}_visible"))
        for r in rows.iter_rows(named=True):
            img, u, v, h = frames[r["frame"]], r[f"{cam.name}_px"], r[f"{cam.name}_py"], r[f"{cam.name}_height_px"]
            if r["role"] == "player":
                lo, hi = LAYOUT["shorts"]
                colour = img[int(v - (lo + hi) / 2 * h), int(u)]
                nearest = min(palette, key=lambda k: float(np.abs(colour - palette[k]).sum()))
                assert nearest == f"team{r['team']}", (r, colour.tolist())
                assert np.abs(colour - TEAM_COLOURS[r["team"]]).max() < 60, (r, colour.tolist())
            else:
                lo, hi = LAYOUT["jersey"]
                band = img[int(v - hi * h) + 1 : int(v - lo * h), int(u - TORSO_HALF * h) + 1 : int(u + TORSO_HALF * h)].reshape(-1, 3)
                mean = band.mean(axis=0)
                assert mean.max() - mean.min() < 25 and 40 < mean.mean() < 170, (r, mean.tolist())  # grey, striped dark
                assert band.min(axis=0).max() < 60 and band.max(axis=0).min() > 110  # black stripes on a grey shirt
            checked[r["role"]] += 1
    assert checked["player"] >= 100 and checked["referee"] >= 20


def test_each_shot_is_by_an_offensive_player_from_his_truth_position(renders: dict[str, RenderedGame]) -> None:
    game = renders["a"]
    pos = pl.read_parquet(game.positions)
    with game.shots_csv.open() as f:
        shots = list(csv.DictReader(f))
    assert len(shots) == game.shots >= 1
    for s in shots:
        at = pos.filter((pl.col("frame") == int(s["frame"])) & (pl.col("player_id") == int(s["shooter_id"]))).row(0, named=True)
        assert at["role"] == "player" and at["on_offense"] and at["team"] == int(s["shooter_team"]) and at["jersey"] == int(s["shooter_jersey"])
        assert (at["x_ft"], at["y_ft"]) == (float(s["x_ft"]), float(s["y_ft"]))  # exact: the CSV round-trips
        for cam in game.cameras:
            assert abs(at[f"{cam.name}_px"] - float(s[f"{cam.name}_px"])) < 0.01 and abs(at[f"{cam.name}_py"] - float(s[f"{cam.name}_py"])) < 0.01
    # The simulation puts a first shot in the first 2 s of every game, by the team in possession.
    for seed in range(12):
        traj = simulate(seed, seconds=2.0)
        assert traj.shots, seed
        for shot in traj.shots:
            i = traj.index_of(shot.shooter_id)
            assert traj.offense[shot.frame] == traj.team[i] and traj.role[i] == 0
            assert tuple(traj.xy[shot.frame, i]) == (shot.x_ft, shot.y_ft)


def test_simulation_is_smooth_seeded_and_the_same_at_any_rate() -> None:
    a = simulate(7, seconds=6.0, fps=10)
    assert a.n_frames == 60 and a.n_people == 12 and sorted(a.role.tolist()) == [0] * 10 + [1] * 2
    assert np.array_equal(a.xy, simulate(7, seconds=6.0, fps=10).xy)
    assert not np.array_equal(a.xy, simulate(8, seconds=6.0, fps=10).xy)
    fast = simulate(7, seconds=6.0, fps=20)
    assert np.allclose(fast.xy[::2], a.xy) and [s.shooter_id for s in fast.shots] == [s.shooter_id for s in a.shots]
    # Each release falls on the nearest frame of either rate: the times agree within half a frame.
    assert all(abs(f.frame / 20 - s.frame / 10) <= 0.05 + 0.025 for f, s in zip(fast.shots, a.shots, strict=True))
    longer = simulate(7, seconds=12.0, fps=10)
    assert np.array_equal(longer.xy[:60], a.xy) and longer.shots[: len(a.shots)] == a.shots
    step = np.hypot(*np.diff(a.xy, axis=0).transpose(2, 0, 1))
    assert step.max() < 2.5  # under 25 ft/s at 10 fps: no teleporting
    players = a.role == 0
    assert (a.xy[:, players] >= 0).all() and (a.xy[:, players, 0] <= 94).all() and (a.xy[:, players, 1] <= 50).all()
    assert ((a.xy[:, ~players, 1] < 0) | (a.xy[:, ~players, 1] > 50)).all()  # referees on the sidelines
    for team in (0, 1):
        numbers = a.jersey[players & (a.team == team)]
        assert len(set(numbers.tolist())) == 5 and ((numbers >= 0) & (numbers <= 99)).all()


def test_trajectories_refuse_a_shot_that_disagrees_with_them() -> None:
    traj = simulate(2, seconds=2.0)
    shot = traj.shots[0]
    with pytest.raises(ValueError, match="origin"):
        dataclasses.replace(traj, shots=(shot.model_copy(update={"x_ft": shot.x_ft + 1.0}),))
    defender = next(int(p) for p, t in zip(traj.player_id, traj.team, strict=True) if t not in (-1, traj.team[traj.index_of(shot.shooter_id)]))
    with pytest.raises(ValueError, match="not on offense"):
        dataclasses.replace(traj, shots=(traj.shot_at(shot.frame, defender, False),))
    with pytest.raises(ValueError, match="not a player"):
        dataclasses.replace(traj, shots=(traj.shot_at(shot.frame, -1, False),))
    assert not traj.xy.flags.writeable


def test_render_game_reuses_the_same_request_and_refuses_another(tmp_path: Path) -> None:
    out = tmp_path / "g"
    first = render_game(out, "g1", 1, seconds=1.0, size=SIZE, cameras=["wide"])
    stamp = (out / "wide.mp4").stat().st_mtime_ns
    again = render_game(out, "g1", 1, seconds=1.0, size=SIZE, cameras=["wide"])
    assert again == first and (out / "wide.mp4").stat().st_mtime_ns == stamp
    with pytest.raises(UsageError, match="already exists"):
        render_game(out, "g1", 2, seconds=1.0, size=SIZE, cameras=["wide"])
    other = render_game(out, "g1", 2, seconds=1.0, size=SIZE, cameras=["wide"], overwrite=True)
    assert other.frames == 10 and RenderedGame.load(out) == other
    (out / "shots.csv").write_text("frame\n")  # damaged: not reused as if it were the request
    with pytest.raises(UsageError, match="already exists"):
        render_game(out, "g1", 2, seconds=1.0, size=SIZE, cameras=["wide"])
    custom = render_trajectories(out, "g1", simulate(5, seconds=0.5), size=SIZE, cameras=["left"])
    assert RenderedGame.load(out) == custom and [s.name for s in custom.sources()] == ["left", "shots"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]  # no staging left behind
    with pytest.raises(UsageError):
        render_game(tmp_path / "h", "../escape", 1, seconds=1.0, size=SIZE)


def test_a_rendered_game_registers_in_a_workspace(tmp_path: Path, renders: dict[str, RenderedGame]) -> None:
    init_workspace(tmp_path / "ws")
    engine = Engine.open(tmp_path / "ws")
    try:
        engine.catalog.add_games([renders["a"].entry()])
        sources = engine.catalog.sources()["game-a"]
        assert {n: s.kind for n, s in sources.items()} == {"left": "video", "right": "video", "shots": "annotation"}
        assert sources["left"].size == renders["a"].video("left").stat().st_size
    finally:
        engine.close()


def test_cameras_round_trip_through_json_and_invert_on_the_floor(renders: dict[str, RenderedGame]) -> None:
    cams = [Camera.model_validate(c) for c in json.loads(renders["a"].cameras_json.read_text())["cameras"]]
    assert tuple(cams) == renders["a"].cameras
    for cam in [*cams, preset_camera("wide", (640, 360))]:
        x, y = np.meshgrid(np.linspace(0, 94, 9), np.linspace(0, 50, 5))
        u, v = cam.project_ground(x, y)
        gx, gy = cam.ground(u, v)
        assert np.allclose(gx, x) and np.allclose(gy, y)
    left = cams[0]
    u, v = left.project_ground(np.array([10.0, 10.0]), np.array([0.0, 50.0]))
    assert left.in_frame(u, v).all() and v[0] > v[1]  # the near sideline is lower in the picture
    with pytest.raises(ValueError):
        preset_camera("nope", SIZE)


def test_an_unreadable_video_is_a_source_error(tmp_path: Path, renders: dict[str, RenderedGame]) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(renders["a"].video("left").read_bytes()[:200])
    with pytest.raises(SourceError, match="broken.mp4"):
        probe(broken)


# A tiny game in the SportVU layout: 25 moments at 5 Hz. LeBron James (b2v 14) walks to
# (70, 20), holds the ball there until moment 9, and shoots; the ball reaches the right rim at
# moment 14 and a defender has it after. The play-by-play logs the make at 11:50, after the
# release, as the real one does; a shot in a period without tracking and a free throw never join.
_TEAM_A = [(14, "LeBron James"), (19, "Kevin Love"), (22, "Tristan Thompson"), (17, "J.R. Smith"), (196, "Kyrie Irving")]
_TEAM_B = [(277, "Chandler Parsons"), (267, "Dirk Nowitzki"), (268, "Zaza Pachulia"), (275, "Wesley Matthews"), (272, "Deron Williams")]
_PBP = """GAME_ID,EVENTNUM,EVENTMSGTYPE,EVENTMSGACTIONTYPE,PERIOD,WCTIMESTRING,PCTIMESTRING,HOMEDESCRIPTION,PLAYER1_ID,PLAYER1_NAME
0021500999,1,12,0,1,8:42 PM,12:00,,0,
0021500999,2,1,1,1,8:43 PM,11:50,James 20' Jump Shot (2 PTS),2544,LeBron James
0021500999,3,3,10,1,8:43 PM,11:50,Love Free Throw 1 of 1,201567,Kevin Love
0021500999,4,2,1,2,9:20 PM,5:00,MISS Nowitzki 18' Jump Shot,1717,Dirk Nowitzki
"""


def _write_sportvu(root: Path, with_player_map: bool) -> Path:
    root.mkdir()
    header = ["event_idx", "event_label", "period", "game_clock_remaining_s", "period_elapsed_s", "shot_clock", "wall_clock_ms", "left_score", "right_score", "ball_x", "ball_y", "ball_z"]
    for k in range(10):
        header += [f"p{k}_name", f"p{k}_b2v_id", f"p{k}_x", f"p{k}_y", f"p{k}_hoop_side"]
    rows = []
    for r in range(25):
        shooter = (60.0 + 2.0 * min(r, 5), 20.0)
        if r <= 9:
            ball = (shooter[0] + 0.5, shooter[1], 4.0)
        elif r <= 14:
            u = (r - 9) / 5
            ball = (70.5 + (88.75 - 70.5) * u, 20.0 + 5.0 * u, 4.0 + 6.0 * u)
        else:
            ball = (85.0, 25.0, 3.0)
        row: list[object] = [0, "shot_made", 1, round(715.0 - 0.2 * r, 2), round(5.0 + 0.2 * r, 2), 20.0, 1452649000000 + 200 * r, 0, 0, *ball]
        for k, (b2v, name) in enumerate(_TEAM_A + _TEAM_B):
            x, y = shooter if b2v == 14 else (50.0 + 4.0 * k, 5.0 + 4.0 * k)
            row += [name, b2v, x, y, int(k >= 5)]
        rows.append(row)
    with (root / "cle_at_dal_0021500999_moments_5hz.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    (root / "pbp_0021500999.csv").write_text(_PBP)
    if with_player_map:
        (root / "player_idx_to_nba_playerid.json").write_text(json.dumps({"14": {"name": "LeBron James", "playerid": 2544}, "19": {"name": "Kevin Love", "playerid": 201567}}))
    return root


@pytest.mark.parametrize("with_player_map", [True, False], ids=["by-id", "by-name"])
def test_sportvu_shots_join_to_their_shooter_and_origin(tmp_path: Path, with_player_map: bool) -> None:
    data = _write_sportvu(tmp_path / "sportvu", with_player_map)
    files = find_files(data)
    moments = read_moments(files.moments)
    matched = match_shots(moments, files.pbp, files.players)
    assert [(m.row, m.shooter_b2v, m.made, m.pctimestring) for m in matched] == [(9, 14, True, "11:50")]
    traj = load_sportvu(SportVUSource(data_dir=data), seconds=SECONDS, fps=FPS)
    # The window puts the release (moment 9, 1.8 s in) at its middle: frame 10 of 20.
    assert traj.n_frames == 20 and len(traj.shots) == 1
    shot = traj.shots[0]
    assert (shot.frame, shot.shooter_id, shot.made, shot.x_ft, shot.y_ft) == (10, 14, True, 70.0, 20.0)
    i = traj.index_of(14)
    assert traj.team[i] == 0 and traj.offense[shot.frame] == 0
    assert sorted(traj.player_id.tolist()) == sorted([-1, -2] + [p for p, _ in _TEAM_A + _TEAM_B])
    # Tracking moments are 0.2 s apart; frames every 0.1 s lie halfway: interpolated.
    assert np.allclose(traj.xy[:, i, 0], [min(70.0, 60 + 10 * (0.8 + f / 10)) for f in range(20)])


def test_sportvu_drives_a_rendered_game_and_reports_bad_windows(tmp_path: Path) -> None:
    data = _write_sportvu(tmp_path / "sportvu", True)
    game = render_game(tmp_path / "real", "sv", seconds=SECONDS, fps=FPS, size=SIZE, source=SportVUSource(data_dir=data))
    with game.shots_csv.open() as f:
        (row,) = list(csv.DictReader(f))
    assert (row["frame"], row["shooter_id"], row["shooter_team"], row["made"], float(row["x_ft"]), float(row["y_ft"])) == ("10", "14", "0", "1", 70.0, 20.0)
    assert probe(game.video("right")).frames == 20
    assert "sportvu" in (game.directory / "game.json").read_text() and str(data) not in (game.directory / "game.json").read_text()
    with pytest.raises(UsageError, match="out of range"):
        load_sportvu(SportVUSource(data_dir=data, shot=1), seconds=SECONDS, fps=FPS)
    with pytest.raises(UsageError, match="continuous tracking"):
        load_sportvu(SportVUSource(data_dir=data), seconds=8.0, fps=FPS)
    with pytest.raises(UsageError, match="moments"):
        load_sportvu(SportVUSource(data_dir=tmp_path), seconds=SECONDS, fps=FPS)
