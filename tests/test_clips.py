"""The clips layer and clips-combined on rendered games: clips, JSONL, skip logic, bad plays.

One module-scoped fixture renders three short games with a broadcast (``wide``) and a
tactical camera and their plays annotation; each test registers them in a workspace of its
own, with the plays file copied there so that a test may change it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import boto3
import fsspec
import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import Ws
from pydantic import ValidationError

from artifacts import api
from artifacts.errors import BuildError, CorruptArtifactError, InvalidNameError, LayerDefinitionError, UnknownLayerError
from artifacts.keys import Recipe, hash_file
from artifacts.operations import CombineContext, Combiner
from artifacts.plan import Engine, State
from artifacts.workspace import SourceSpec, init_workspace
from generators.layers.clips.cut import ClipSpec, cut_clips, video_span
from generators.layers.clips.examples import Example, example, split_of
from generators.layers.clips.plays import parse_plays
from generators.layers.seek import DecodeCount
from generators.render import RenderedGame, read_frames, render_game, simulate
from generators.render.plays import ANGLES, plays_rows, write_plays

SIZE = (320, 192)
SECONDS = 6.0
SEEDS = {"g0": 22, "g1": 21, "g2": 29}  # 3, 2 and 2 shots in 6 s
LAYERS = ["generators.layers.clips.layer:Clips"]
COMBINERS = ["generators.layers.clips.combined:CombinedJsonl"]
HEADER = "play_id,start_time,end_time,angle,description\n"


@pytest.fixture(scope="module")
def games(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RenderedGame]:
    root = tmp_path_factory.mktemp("clips-games")
    return {g: render_game(root / g, g, seed, seconds=SECONDS, size=SIZE, cameras=("wide", "tactical"), plays=True) for g, seed in SEEDS.items()}


def make_ws(root: Path, games: dict[str, RenderedGame], plays: dict[str, str] | None = None, store: str = "store", cameras: tuple[str, ...] = ("wide", "tactical")) -> Ws:
    """A workspace with the clips layer and combiner and ``games`` registered; ``plays``
    replaces a game's annotation text (the file lives in the workspace, free to change)."""
    init_workspace(root, store=store, layers=LAYERS, entry_points=False)
    ws = Ws(root)
    ws.set_config(f"combiners = {json.dumps(COMBINERS)}\n")
    entries = []
    for g, game in games.items():
        path = root / "plays" / f"{g}.csv"
        path.parent.mkdir(exist_ok=True)
        path.write_text((plays or {}).get(g, game.plays_csv.read_text()))
        specs = [SourceSpec(c, str(game.video(c)), "video") for c in cameras]
        entries.append((g, [*specs, SourceSpec("plays", str(path), "annotation")]))
    e = ws.engine()
    e.catalog.add_games(entries)
    e.close()
    return ws


def _manifest_dir(e: Engine, layer: str, game: str) -> Path:
    plan = e.plan_keys([layer], games=[game])
    m = e.store.manifest(layer, game, plan.key(layer, game) or "")
    assert m is not None, (layer, game)
    return Path(e.store.data_path(m.data))


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _files(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _uri(line: dict[str, object]) -> str:
    return line["contents"][0]["parts"][0]["fileData"]["fileUri"]  # type: ignore[index, no-any-return]


# ----- the renderer's plays annotation -------------------------------------------------------


def test_plays_are_opt_in_and_leave_the_default_render_unchanged(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    plain = render_game(tmp_path / "plain", "g0", SEEDS["g0"], seconds=SECONDS, size=SIZE, cameras=("wide", "tactical"))
    with_plays = games["g0"]
    a, b = (_files(g.directory) for g in (plain, with_plays))
    assert set(b) - set(a) == {"plays.csv"} and "plays.csv" not in a
    assert all(a[name] == b[name] for name in a if name != "game.json")  # videos, truth, shots: byte-identical
    assert "plays" not in json.loads(a["game.json"])["request"] and json.loads(b["game.json"])["request"]["plays"] == 1
    assert [s.name for s in plain.sources()] == ["wide", "tactical", "shots"]
    assert [s.name for s in with_plays.sources()] == ["wide", "tactical", "shots", "plays"]
    assert RenderedGame.load(with_plays.directory).plays and not RenderedGame.load(plain.directory).plays


def test_rendered_plays_frame_their_shot_and_describe_it(tmp_path: Path) -> None:
    traj = simulate(SEEDS["g0"], seconds=SECONDS, fps=10)
    rows = plays_rows(traj)
    assert len(rows) == len(traj.shots) == 3
    assert [r["angle"] for r in rows] == list(ANGLES)  # both, broadcast, tactical in turn
    write_plays(tmp_path / "plays.csv", traj)
    plays, rejects = parse_plays((tmp_path / "plays.csv").read_text(), "g0")
    assert rejects == [] and [p.model_dump(exclude={"row"}) for p in plays] == [
        {**r, "start_time": float(r["start_time"]), "end_time": float(r["end_time"])} for r in rows]
    for row, shot in zip(rows, traj.shots, strict=True):
        release = shot.frame / traj.fps
        assert float(row["start_time"]) <= release < float(row["end_time"]) <= SECONDS
        i = traj.index_of(shot.shooter_id)
        assert f"#{int(traj.jersey[i])} " in row["description"] and ("Red" if traj.team[i] == 0 else "Blue") in row["description"]
        assert ("makes it" in row["description"]) == shot.made


# ----- cutting ---------------------------------------------------------------------------------


def test_cut_is_frame_exact_deterministic_and_seeking_changes_nothing(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    video = str(games["g0"].video("wide"))
    assert video_span("wide", video).duration_s == SECONDS
    windows = [(0.95, 2.05), (1.5, 3.0), (4.2, 6.0)]  # overlapping, and one ending with the video
    runs = {}
    for label, gap in (("sequential", float("inf")), ("seeking", 0.5), ("again", float("inf"))):
        specs = [ClipSpec(s, e, tmp_path / label / f"{k}.mp4") for k, (s, e) in enumerate(windows)]
        (tmp_path / label).mkdir()
        runs[label] = (cut_clips("wide", video, specs, seek_gap_s=gap), [p.path.read_bytes() for p in specs])
    cuts, _ = runs["sequential"]
    assert [(c.first_frame, c.frames) for c in cuts] == [(10, 11), (15, 15), (42, 18)]  # frames with 1.0 <= t < 2.05, ...
    assert runs["seeking"] == runs["sequential"] and runs["again"] == runs["sequential"]
    source = np.stack(list(read_frames(Path(video)))).astype(np.int16)
    for cut, k in zip(cuts, range(len(windows)), strict=True):
        clip = list(read_frames(tmp_path / "sequential" / f"{k}.mp4"))
        assert len(clip) == cut.frames
        for j, frame in enumerate(clip):  # each clip frame is nearest to its own source frame
            err = np.abs(source - frame.astype(np.int16)).mean(axis=(1, 2, 3))
            assert int(err.argmin()) == cut.first_frame + j and err.min() < 1.0


def test_a_truncated_video_is_a_clear_error(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    fix = "; replace the file with a complete export and register it again (artifacts games add ... --replace)"
    data = games["g1"].video("wide").read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: the file does not open
    with pytest.raises(BuildError) as info:
        cut_clips("wide", str(broken), [ClipSpec(0.0, 6.0, tmp_path / "c.mp4")])
    assert info.value.line().startswith(f"video wide '{broken}': unreadable: ") and info.value.line().endswith(fix)
    # With the index first (an export with faststart), a cut-off file opens, then ends early.
    fast = tmp_path / "fast.mp4"
    with av.open(str(games["g1"].video("wide"))) as src, av.open(str(fast), "w", format="mp4", options={"movflags": "faststart"}) as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    fast.write_bytes(fast.read_bytes()[: int(fast.stat().st_size * 0.6)])
    assert video_span("wide", str(fast)).duration_s == SECONDS  # the header still says 6 s
    with pytest.raises(BuildError) as info:
        cut_clips("wide", str(fast), [ClipSpec(1.0, 2.0, tmp_path / "a.mp4"), ClipSpec(4.2, 6.0, tmp_path / "b.mp4")])
    decodable = 0
    with av.open(str(fast)) as c, contextlib.suppress(av.error.InvalidDataError):  # the cut-off last packet
        for _ in c.decode(video=0):
            decodable += 1
    assert 20 < decodable < 60
    assert info.value.line() == f"video wide '{fast}': unreadable: truncated: it ends at {decodable / 10:.3f} s, before the window 4.2-6.0 s ends" + fix


def test_a_play_near_the_end_of_a_long_video_is_cut_by_seeking(tmp_path: Path) -> None:
    long = render_game(tmp_path / "long", "long", 5, seconds=60.0, size=SIZE, cameras=("wide",))  # 600 frames, a keyframe a second
    video = str(long.video("wide"))
    seeking, through = DecodeCount(), DecodeCount()
    a = cut_clips("wide", video, [ClipSpec(55.0, 57.0, tmp_path / "seek.mp4")], count=seeking)
    b = cut_clips("wide", video, [ClipSpec(55.0, 57.0, tmp_path / "through.mp4")], seek_gap_s=float("inf"), count=through)  # a decode-all baseline
    assert a == b and [(c.first_frame, c.frames) for c in a] == [(550, 20)]
    assert (tmp_path / "seek.mp4").read_bytes() == (tmp_path / "through.mp4").read_bytes()
    assert through.seeks == 0 and through.frames >= 570  # every frame up to the end of the window
    assert seeking.seeks == 1 and 20 <= seeking.frames <= 20 + 10 + 1  # the window, at most a GOP before it, the frame that ends it


def test_chunked_build_equals_one_chunk(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    ws = make_ws(tmp_path / "ws", games, plays={"g1": bad_plays(SECONDS)})
    assert api.build(ws.engine(), ["clips"], jobs=1).ok()
    e = ws.engine()

    def outputs(g: str) -> dict[str, object]:
        """The artifact's files, with its data directory (which holds the build's attempt id) left out of the URIs."""
        d = _manifest_dir(ws.engine(), "clips", g)
        out: dict[str, object] = {k: v.replace(str(d).encode(), b"DATA") for k, v in _files(d).items() if not k.endswith(".parquet")}
        for name in ("clips.parquet", "rejects.parquet"):
            t = pq.read_table(d / name)
            out[name] = (t.schema, [{k: v.replace(str(d), "DATA") if k == "uri" else v for k, v in r.items()} for r in t.to_pylist()])
        return out

    one = {g: outputs(g) for g in games}
    chunks = {}
    for g in games:
        m = e.store.manifest("clips", g, e.plan_keys(["clips"]).key("clips", g) or "")
        assert m is not None and m.chunks == 1
        e.store.remove_artifact(m)
    ws.set_config("\n[chunk_size]\nclips = 1\n")
    assert api.build(ws.engine(), ["clips"], jobs=1).ok()
    for g in games:
        m = e.store.manifest("clips", g, e.plan_keys(["clips"]).key("clips", g) or "")
        assert m is not None
        chunks[g] = m.chunks
        assert outputs(g) == one[g]
    assert chunks == {"g0": 3, "g1": 5, "g2": 2}  # one chunk a valid play
    assert any(k.endswith(".mp4") for k in one["g0"]) and len(one["g1"]) == 4 + 3  # g1: three clips beside the tables


# ----- JSONL ----------------------------------------------------------------------------------


def test_split_rule_golden_values() -> None:
    # validation iff xxh3_64("<game>/<play_id>") / 2**64 < fraction: pinned, so a library or code change that moved plays shows.
    assert [split_of(g, p, 0.2) for g, p in (("g0", "play001"), ("g1", "play001"), ("g2", "play001"), ("g0", "play002"))] == [
        "training", "validation", "validation", "training"]
    assert split_of("g0", "play001", 0.32) == "validation" and split_of("g0", "play001", 0.31) == "training"  # 5742218282343446625 / 2**64 = 0.3113
    share = sum(split_of("g", f"p{i}", 0.2) == "validation" for i in range(10_000)) / 10_000
    assert 0.19 < share < 0.21
    assert {split_of("g", "p", 0.0), split_of("g", "p", 1.0)} == {"training", "validation"}


def test_example_model_is_the_tuning_format_and_refuses_anything_else() -> None:
    ex = example("gs://bucket/games/g1/clips/p1_broadcast.mp4", "Analyze this basketball play.", "Red #7 scores.")
    assert json.loads(ex.model_dump_json()) == {"contents": [
        {"role": "user", "parts": [{"fileData": {"fileUri": "gs://bucket/games/g1/clips/p1_broadcast.mp4", "mimeType": "video/mp4"}},
                                   {"text": "Analyze this basketball play."}]},
        {"role": "model", "parts": [{"text": "Red #7 scores."}]}]}
    good = json.loads(ex.model_dump_json())
    bad = [
        {**good, "extra": 1},
        {"contents": [{**good["contents"][0], "role": "model"}, good["contents"][1]]},
        {"contents": [good["contents"][0]]},
    ]
    bad_file = json.loads(ex.model_dump_json())
    bad_file["contents"][0]["parts"][0]["fileData"]["mimeType"] = "video/webm"
    bad_uri = json.loads(ex.model_dump_json())
    bad_uri["contents"][0]["parts"][0]["fileData"]["fileUri"] = "clips/p1.mp4"
    for doc in [*bad, bad_file, bad_uri]:
        with pytest.raises(ValidationError):
            Example.model_validate(doc)
    with pytest.raises(ValidationError):
        example("/abs/clip.mp4", "Analyze.", "")


# ----- the layer ------------------------------------------------------------------------------


def test_clips_and_jsonl_of_every_play(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    ws = make_ws(tmp_path / "ws", games)
    report = api.build(ws.engine(), ["clips"], jobs=1)
    assert report.ok() and report.result is not None and report.result.count("built") == 3
    e = ws.engine()
    for g, game in games.items():
        d = _manifest_dir(e, "clips", g)
        clips = pq.read_table(d / "clips.parquet").to_pylist()
        plays, _ = parse_plays(game.plays_csv.read_text(), g)
        assert [(c["play_id"], c["angle"]) for c in clips] == [(p.play_id, a) for p in plays for a in p.angles()]
        assert pq.read_table(d / "rejects.parquet").num_rows == 0
        lines = {s: _lines(d / f"{s}.jsonl") for s in ("training", "validation")}
        assert sum(len(v) for v in lines.values()) == len(clips)
        by_uri = {_uri(line): (s, line) for s, ls in lines.items() for line in ls}
        for c in clips:
            s, line = by_uri[str(d / c["path"])]  # a local store: the URI is the clip's path in the store
            assert s == c["split"] == split_of(g, c["play_id"], 0.2)
            Example.model_validate(line)
            assert line["contents"][1]["parts"][0]["text"] == c["description"]  # type: ignore[index]
            assert c["camera"] == {"broadcast": "wide", "tactical": "tactical"}[c["angle"]]
            n = sum(1 for f in range(60) if c["start_time"] - 1e-6 <= f / 10 < c["end_time"] - 1e-6)
            assert c["frames"] == n == len(list(read_frames(d / c["path"])))
    assert any(_lines(_manifest_dir(e, "clips", g) / "validation.jsonl") for g in games)


def test_second_build_recomputes_nothing_and_one_changed_game_only_that_game(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    ws = make_ws(tmp_path / "ws", games)
    assert api.build(ws.engine(), ["clips"], jobs=1).ok()
    again = api.build(ws.engine(), ["clips"], jobs=1)
    assert again.tasks == [] and again.result is None
    before = {g: _manifest_dir(ws.engine(), "clips", g) for g in games}
    plays = ws.root / "plays" / "g1.csv"
    plays.write_text(plays.read_text().replace("play001,", "play001b,"))
    report = api.status(ws.engine(), ["clips"])
    assert {e.game: e.state for e in report.entries} == {"g0": State.FRESH, "g1": State.STALE, "g2": State.FRESH}
    rebuilt = api.build(ws.engine(), ["clips"], jobs=1)
    assert [(t.layer, t.game) for t in rebuilt.tasks] == [("clips", "g1")] and rebuilt.ok()
    after = {g: _manifest_dir(ws.engine(), "clips", g) for g in games}
    assert after["g0"] == before["g0"] and after["g2"] == before["g2"] and after["g1"] != before["g1"]
    assert (after["g1"] / "clips" / "play001b_broadcast.mp4").exists()


def bad_plays(duration: float) -> str:
    return HEADER + "".join(f"{line}\n" for line in [
        "ok1,0.5,2.0,both,Red #7 drives and scores.",
        "noangle,1.0,2.0,,Blue #4 misses.",
        "late,5.0,6.5,broadcast,Red #9 shoots late.",
        "early,-0.5,1.0,tactical,Blue #5 starts early.",
        f"edge,{duration - 1.0},{duration},tactical,Red #8 ends with the video.",
        "ok1,2.0,3.0,tactical,A repeated id.",
        "tiny,1.01,1.02,broadcast,Falls between two frames.",
        "backwards,3.0,2.0,tactical,Ends before it starts.",
        "nodesc,1.0,2.0,broadcast,",
    ])


def test_bad_plays_are_rejected_one_by_one_and_the_rest_is_cut(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    one = {"g1": games["g1"]}
    ws = make_ws(tmp_path / "ws", one, plays={"g1": bad_plays(SECONDS)})
    report = api.build(ws.engine(), ["clips"], jobs=1)
    assert report.ok() and report.result is not None
    label = "plays row {} ({}) of game g1"
    expected = [
        (3, "noangle", "", f"{label.format(3, 'noangle')} angle '': is missing; set it to broadcast, tactical or both"),
        (4, "late", "broadcast", f"{label.format(4, 'late')} end_time 6.5: is after the end of video wide (6.000 s); fix the play's times or register the whole video"),
        (5, "early", "tactical", f"{label.format(5, 'early')} start_time -0.5: is before the start of video tactical; fix the play's times"),
        (7, "ok1", "tactical", f"{label.format(7, 'ok1')} play_id 'ok1': repeats the play_id of row 2; give every play its own id"),
        (8, "tiny", "broadcast", f"{label.format(8, 'tiny')} times '1.01-1.02': hold no frame of video wide (10 fps); widen the play's window"),
        (9, "backwards", "tactical", f"{label.format(9, 'backwards')} times '3.0-2.0': end_time is not after start_time; fix the play's times"),
        (10, "nodesc", "broadcast", f"{label.format(10, 'nodesc')} description '': is empty; describe the play"),
    ]
    d = _manifest_dir(ws.engine(), "clips", "g1")
    assert [tuple(r.values()) for r in pq.read_table(d / "rejects.parquet").to_pylist()] == expected
    outcome = next(iter(report.result.events.values())).outcome
    assert outcome is not None and list(outcome.warnings) == [m for *_, m in expected]
    cut = [(c["play_id"], c["angle"], c["frames"]) for c in pq.read_table(d / "clips.parquet").to_pylist()]
    assert cut == [("ok1", "broadcast", 15), ("ok1", "tactical", 15), ("edge", "tactical", 10)]
    # The plays left out are counted in the manifest, by reason, out of the 9 rows of the annotation.
    e = ws.engine()
    m = e.store.manifest("clips", "g1", e.plan_keys(["clips"]).key("clips", "g1") or "")
    assert m is not None
    assert [(x.kind, x.what, x.count, x.total, x.reason, x.examples) for x in m.signals] == [
        ("skipped", "plays", 3, 9, "its row is not a valid play", ["noangle (row 3)", "backwards (row 9)", "nodesc (row 10)"]),
        ("skipped", "plays", 1, 9, "its play_id repeats an earlier row's", ["ok1 (row 7)"]),
        ("skipped", "plays", 2, 9, "its window is outside the video", ["late (row 4)", "early (row 5)"]),
        ("skipped", "plays", 1, 9, "its window holds no frame of the video", ["tiny (row 8)"]),
    ]
    # The CLI shows the same lines after its summary; the build succeeds (exit 0).
    shutil.rmtree(ws.root / "store")
    r = ws.cli("build", "clips", "-j", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [line for line in r.stdout.splitlines() if line.startswith("WARNING")] == [f"WARNING clips g1: {m}" for *_, m in expected]


def test_an_angle_without_its_video_is_rejected_and_the_other_angle_cut(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    ws = make_ws(tmp_path / "ws", {"g2": games["g2"]}, cameras=("wide",))
    assert api.build(ws.engine(), ["clips"], jobs=1).ok()
    d = _manifest_dir(ws.engine(), "clips", "g2")
    rejects = pq.read_table(d / "rejects.parquet").to_pylist()
    assert [r["message"] for r in rejects] == [(
        "plays row 2 (play001) of game g2 angle 'tactical': is cut from video tactical, which game g2 does not have; "
        "register it (artifacts games add g2 --source tactical=... --replace) or set tactical_camera in [params.clips]")]
    assert [(c["play_id"], c["angle"]) for c in pq.read_table(d / "clips.parquet").to_pylist()] == [("play001", "broadcast"), ("play002", "broadcast")]
    m = ws.engine().store.manifest("clips", "g2", ws.engine().plan_keys(["clips"]).key("clips", "g2") or "")
    assert m is not None and [(x.count, x.total, x.reason, x.examples) for x in m.signals] == [(1, 2, "the camera of its angle is not a video of the game", ["play001 (row 2)"])]


def test_an_unusable_annotation_fails_only_its_game(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    ws = make_ws(tmp_path / "ws", games, plays={"g2": "play_id,start,end,angle,description\np1,0,1,both,x\n"})
    report = api.build(ws.engine(), ["clips"], jobs=1)
    assert not report.ok() and report.result is not None
    events = {g: ev for (_, g), ev in report.result.events.items()}
    assert events["g0"].kind == events["g1"].kind == "built" and events["g2"].kind == "failed"
    assert events["g2"].message == ("plays annotation of game g2 'play_id,start,end,angle,description': lacks column(s) start_time, end_time; "
                                    "export it with the columns play_id, start_time, end_time, angle, description")


def test_uri_base_maps_the_store_to_a_bucket_and_enters_the_key(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    ws = make_ws(tmp_path / "ws", {"g0": games["g0"]})
    plain_key = ws.engine().plan_keys(["clips"]).key("clips", "g0")
    ws.set_config('\n[params.clips]\nuri_base = "gs://training-data/store"\n')
    e = ws.engine()
    assert e.plan_keys(["clips"]).key("clips", "g0") != plain_key
    assert api.build(e, ["clips"], jobs=1).ok()
    d = _manifest_dir(e, "clips", "g0")
    rel = d.relative_to(ws.root / "store").as_posix()
    uris = [_uri(line) for s in ("training", "validation") for line in _lines(d / f"{s}.jsonl")]
    assert uris and all(u.startswith(f"gs://training-data/store/{rel}/clips/play00") for u in uris)


# ----- combined ---------------------------------------------------------------------------------


def test_combined_is_addressed_by_what_it_merged(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    ws = make_ws(tmp_path / "ws", games)
    e = ws.engine()
    dry = api.combine(e, "clips-combined", "first-two", ["g0", "g1"], dry_run=True)
    assert dry.outcome is None and set(dry.plan.not_fresh) == {"g0", "g1"}
    with pytest.raises(BuildError) as refused:
        api.combine(e, "clips-combined", "first-two", ["g0", "g1"])
    assert refused.value.line() == ("combine clips-combined first-two '2 of 2 games': have no FRESH clips artifact (g0: MISSING; g1: MISSING); "
                                    "build them (artifacts build clips) or leave them out with --game")
    assert api.build(e, ["clips"], jobs=1).ok()
    plan = e.plan_keys(["clips"])
    first = api.combine(e, "clips-combined", "first-two", ["g1", "g0"])
    expected = Recipe(layer="clips-combined", generator_version="1", upstream={f"clips/{g}": plan.key("clips", g) or "" for g in ("g0", "g1")})
    assert first.plan.key == expected.key() and first.outcome is not None and first.outcome.built
    assert first.outcome.manifest.recipe == expected and first.plan.games == ("g0", "g1")
    d = Path(e.store.data_path(first.outcome.manifest.data))
    for s in ("training", "validation"):
        per_game = [line for g in ("g0", "g1") for line in (_manifest_dir(e, "clips", g) / f"{s}.jsonl").read_text().splitlines()]
        assert (d / f"combined_{s}.jsonl").read_text().splitlines() == per_game
    again = api.combine(ws.engine(), "clips-combined", "first-two", ["g0", "g1"])
    assert again.outcome is not None and not again.outcome.built and again.plan.key == first.plan.key
    everything = api.combine(ws.engine(), "clips-combined", "all")
    assert everything.plan.key != first.plan.key and everything.plan.games == ("g0", "g1", "g2")
    # One game's plays change: its clips key changes, so the combined key does; the other games' artifacts are reused.
    plays = ws.root / "plays" / "g0.csv"
    plays.write_text(plays.read_text().replace("play001,", "play001x,"))
    rebuilt = api.build(ws.engine(), ["clips"], jobs=1)
    assert [t.game for t in rebuilt.tasks] == ["g0"]
    changed = api.combine(ws.engine(), "clips-combined", "first-two", ["g0", "g1"])
    assert changed.plan.key != first.plan.key and changed.outcome is not None and changed.outcome.built
    assert changed.plan.recipe.upstream["clips/g1"] == first.plan.recipe.upstream["clips/g1"]


def test_combine_validates_every_line(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    ws = make_ws(tmp_path / "ws", {"g1": games["g1"]})
    e = ws.engine()
    assert api.build(e, ["clips"], jobs=1).ok()
    path = _manifest_dir(e, "clips", "g1") / "training.jsonl"
    path.write_text(path.read_text() + '{"contents": [], "note": "not an example"}\n')  # a corrupted per-game file
    with pytest.raises(CorruptArtifactError) as corrupt:  # caught by the upstream digest check first
        api.combine(e, "clips-combined", "one")
    assert "run 'artifacts verify clips'" in corrupt.value.line()
    # The same bad line in an artifact whose manifest agrees with it (a faulty generator, not a
    # flipped byte): the combiner's own validation refuses it.
    key = e.plan_keys(["clips"]).key("clips", "g1")
    assert key is not None
    mpath = Path(e.store.manifest_path("clips", "g1", key))
    record = json.loads(mpath.read_text())
    for out in record["outputs"]:
        if out["path"] == "training.jsonl":
            out["size"], out["digest"] = path.stat().st_size, hash_file(path)
    mpath.write_text(json.dumps(record))
    with pytest.raises(BuildError) as info:
        api.combine(e, "clips-combined", "one")
    n = len(path.read_text().splitlines())
    assert info.value.line().startswith(f"clips of game g1 training.jsonl line {n} '{key}': is not a valid example (")
    assert e.store.list_layer("clips-combined").committed == {}  # nothing committed


def test_combine_errors_name_the_thing(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    ws = make_ws(tmp_path / "ws", {"g1": games["g1"]})
    e = ws.engine()
    with pytest.raises(UnknownLayerError) as unknown:
        api.combine(e, "clips-merged", "s")
    assert unknown.value.line() == "combiner 'clips-merged': is not a registered combiner; known combiners: clips-combined"
    with pytest.raises(InvalidNameError):
        api.combine(e, "clips-combined", "../up")
    e.catalog.add_games([("g9", [SourceSpec("wide", str(games["g1"].video("wide")), "video")])])
    with pytest.raises(BuildError) as blocked:
        api.combine(e, "clips-combined", "s")
    assert blocked.value.line() == "combine clips-combined s game 'g9': clips cannot be built: game g9 has no source matching 'plays'; fix the game, or leave it out with --game"

    cfg = (ws.root / "artifacts.toml").read_text().replace(json.dumps(COMBINERS), json.dumps([*COMBINERS, "test_clips:Clash"]))
    (ws.root / "artifacts.toml").write_text(cfg)
    with pytest.raises(LayerDefinitionError) as clash:
        api.combine(ws.engine(), "clips-combined", "s")
    assert clash.value.line() == "combiner 'clips': has the name of a layer (they would share a store directory); rename the combiner"


class Clash(Combiner):
    """A combiner that takes a layer's name (refused: both would own one store directory)."""

    name = "clips"
    version = "1"
    reads = "clips"

    def combine(self, ctx: CombineContext) -> None:
        raise AssertionError("never run")


def test_cli_combine_builds_then_reuses(tmp_path: Path, games: dict[str, RenderedGame]) -> None:
    ws = make_ws(tmp_path / "ws", {"g0": games["g0"], "g1": games["g1"]})
    dry = ws.cli("combine", "clips-combined", "both", "--dry-run")
    assert dry.returncode == 1, dry.stderr  # work to do, as build --dry-run says
    assert "2 tasks to run:" in dry.stdout and "combined clips-combined both (2 games) key " in dry.stdout and dry.stdout.rstrip().endswith(": to build")
    first = ws.cli("combine", "clips-combined", "both", "-j", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    key = first.stdout.split(" key ")[1].split(":")[0]
    assert f"combined clips-combined both (2 games) key {key}: built" in first.stdout
    assert f"/store/clips-combined/data/both/{key}." in first.stdout and "combined_training.jsonl" in first.stdout
    second = ws.cli("combine", "clips-combined", "both", "-j", "1")
    assert second.returncode == 0 and "nothing to build" in second.stdout
    assert f"combined clips-combined both (2 games) key {key}: FRESH, reused" in second.stdout


# ----- an S3 store (moto in server mode) ----------------------------------------------------------


@pytest.fixture
def s3_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint, "key": "testing", "secret": "testing"})

    def bucket(name: str) -> str:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket=name)
        return f"s3://{name}/store"

    try:
        yield bucket
    finally:
        fsspec.filesystem("s3").clear_instance_cache()
        server.stop()


def test_on_an_s3_store_uris_are_s3_urls_of_the_clips(tmp_path: Path, games: dict[str, RenderedGame], s3_store: Callable[[str], str]) -> None:
    url = s3_store("clips-bucket")
    ws = make_ws(tmp_path / "ws", {"g1": games["g1"]}, store=url)
    e = ws.engine()
    assert api.build(e, ["clips"], jobs=1).ok()
    combined = api.combine(e, "clips-combined", "s3set")
    assert combined.outcome is not None and combined.outcome.built
    fs = e.store.fs
    lines = [json.loads(x) for x in fs.cat_file(f"{e.store.data_path(combined.outcome.manifest.data)}/combined_training.jsonl").decode().splitlines()]
    lines += [json.loads(x) for x in fs.cat_file(f"{e.store.data_path(combined.outcome.manifest.data)}/combined_validation.jsonl").decode().splitlines()]
    key = e.plan_keys(["clips"]).key("clips", "g1")
    assert len(lines) == 3  # play001 both angles, play002 broadcast
    for line in lines:
        uri = _uri(line)
        assert uri.startswith(f"{url}/clips/data/g1/{key}.") and uri.endswith(".mp4")
        assert fs.cat_file(uri)[4:8] == b"ftyp"  # the object is there, and an mp4
