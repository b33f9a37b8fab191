"""frame-level and track-level on rendered video with trained reference models, end to end.

The session's reference models (trained once, tests/conftest.py) run on small rendered games;
the tests build real layers on them: the incremental promise (a tracker change rebuilds only
track-level) and a truncated video failing only its game.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from conftest import make_pipeline_ws

from artifacts import api
from artifacts.keys import hash_file
from artifacts.plan import State
from generators.render.game import render_game


def test_frame_and_track_level_on_rendered_video(tmp_path: Path, trained: dict[str, Path]) -> None:
    ws = make_pipeline_ws(tmp_path / "ws", trained)
    report = api.build(ws.engine(), ["track-level"], jobs=1)
    assert report.ok(), [ev.message for ev in (report.result.events.values() if report.result else []) if ev.message]
    e = ws.engine()
    plan = e.plan_keys(["track-level"])
    m = e.store.manifest("frame-level", "r0", plan.key("frame-level", "r0") or "")
    assert m is not None and m.contracts["embedding_dim"] > 0
    det = pq.read_table(ws.root / "store" / m.data / "detections.parquet")
    assert det.num_rows > 0
    assert det.schema.field("jersey").type.list_size == 133 and det.schema.field("team_probs").type.list_size == 3
    assert set(det.column("camera").to_pylist()) <= {"left", "right"}
    frames = det.column("frame").to_numpy()
    assert frames.min() >= 0 and frames.max() < 20  # 2 s at 10 fps
    t = e.store.manifest("track-level", "r0", plan.key("track-level", "r0") or "")
    assert t is not None
    assign = pq.read_table(ws.root / "store" / t.data / "assignments.parquet")
    tracks = pq.read_table(ws.root / "store" / t.data / "tracks.parquet")
    assert assign.num_rows == det.num_rows
    ids = assign.column("track_id").to_numpy()
    assert (ids >= 0).any() and set(np.unique(ids[ids >= 0]).tolist()) == set(tracks.column("track_id").to_pylist())
    assert set(tracks.column("category").to_pylist()) <= {"team_a", "team_b", "referee", "other"}


def test_tracker_change_rebuilds_only_track_level(tmp_path: Path, trained: dict[str, Path]) -> None:
    ws = make_pipeline_ws(tmp_path / "ws", trained)
    assert api.build(ws.engine(), ["track-level"], jobs=1).ok()
    status = api.status(ws.engine(), ["frame-level", "track-level"], collection="staging")
    by_layer = {(x.layer, x.state) for x in status.entries}
    assert by_layer == {("frame-level", State.FRESH), ("track-level", State.STALE)}
    assert {c.text() for x in status.entries for c in x.causes} == {"tracker trk-v1 -> trk-v2"}
    report = api.build(ws.engine(), ["track-level"], collection="staging", jobs=1)
    assert report.ok() and report.result is not None
    assert {tid for tid, ev in report.result.events.items() if ev.kind == "built"} == {("track-level", "r0"), ("track-level", "r1")}


def test_truncated_video_fails_only_its_game(tmp_path: Path, trained: dict[str, Path]) -> None:
    ws = make_pipeline_ws(tmp_path / "ws", trained)
    assert api.build(ws.engine(), ["frame-level"], jobs=1).ok()
    store = ws.root / "store"
    before = {p: hash_file(p) for p in store.rglob("*") if p.is_file() and ".staging" not in p.parts}
    bad = render_game(ws.root / "games" / "bad", "bad", seed=99, seconds=2.0, size=(320, 192))
    video = bad.video("left")
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    ws.engine().catalog.add_games([bad.entry()])
    report = api.build(ws.engine(), ["track-level"], jobs=1)
    assert not report.ok() and report.result is not None
    ev = report.result.events[("frame-level", "bad")]
    assert ev.kind == "failed" and "video left" in (ev.message or "") and "unreadable" in (ev.message or "")
    assert report.result.events[("track-level", "bad")].kind == "skipped"
    assert report.result.events[("track-level", "r0")].kind == "built"
    for p, digest in before.items():  # every committed file untouched
        assert hash_file(p) == digest, p
    status = {(x.layer, x.game): x.state for x in api.status(ws.engine(), ["frame-level"]).entries}
    assert status == {("frame-level", "bad"): State.FAILED, ("frame-level", "r0"): State.FRESH, ("frame-level", "r1"): State.FRESH}
    assert json.loads((bad.directory / "game.json").read_text())  # the renderer's record is intact
