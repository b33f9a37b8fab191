"""track-level in chunks: the plan, the same tables whatever the chunk size and the same as
tracking each camera whole, resume after a kill, unusable detections counted.

Most games here are synthetic frame-level tables (tests/synthetic_frames.py) published by a
stand-in ``frame-level`` layer and tracked by the real layer through the engine; one test
runs the real pipeline on a rendered game with the session's reference models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO, TESTS, Ws, make_pipeline_ws
from s3_server import S3Server
from synthetic_frames import synthetic_workspace, write_detections

from artifacts import api
from artifacts.build.execute import TaskExecutor
from artifacts.build.task import TaskSpec
from artifacts.errors import ContractError
from artifacts.store import committed_chunks
from generators.layers.track_level.plan import cut
from generators.models.tracking.categories import categorize
from generators.models.tracking.params import TrackerParams
from generators.models.tracking.tracker import Tracker

LAYER = "track-level"
PARAMS = TrackerParams(min_hits=2, new_track_confidence=0.55)


# ----- the oracle: today's layer, each camera tracked whole ------------------------------------

def tracked_whole(det: pa.Table, tracker: Tracker, min_confidence: float = 0.0, usable: np.ndarray | None = None) -> tuple[pa.Table, pa.Table]:
    """assignments and tracks as the layer made them before chunks: Tracker.track on each
    camera's whole sequence, then the category head, cameras numbered in name order."""
    n = det.num_rows
    frame = det.column("frame").to_numpy()
    camera = np.asarray(det.column("camera").to_pylist(), dtype=object)
    xy = np.stack([det.column("px").to_numpy(), det.column("py").to_numpy()], axis=1).astype(np.float64)
    conf = det.column("confidence").to_numpy()
    dim = det.schema.field("embedding").type.list_size
    emb = det.column("embedding").combine_chunks().flatten().to_numpy().reshape(n, dim)
    probs3 = det.column("team_probs").combine_chunks().flatten().to_numpy().reshape(n, 3)
    probs = np.concatenate([probs3, np.zeros((n, 1), probs3.dtype)], axis=1)
    ok = np.ones(n, bool) if usable is None else usable
    track_id = np.full(n, -1, np.int64)
    rows: dict[str, list[object]] = {k: [] for k in ("track_id", "camera", "category", "detections", "first_frame", "last_frame")}
    next_id = 0
    for cam in sorted(set(camera.tolist())):
        sel = np.flatnonzero((camera == cam) & (conf >= min_confidence) & ok)
        if len(sel) == 0:
            continue
        local = tracker.track(frame[sel], xy[sel], conf[sel], emb[sel])
        track_id[sel[local >= 0]] = local[local >= 0] + next_id
        for tid, category in categorize(local, probs[sel]).items():
            member = frame[sel][local == tid]
            for k, v in (("track_id", tid + next_id), ("camera", cam), ("category", category), ("detections", len(member)),
                         ("first_frame", int(member.min())), ("last_frame", int(member.max()))):
                rows[k].append(v)
        next_id += int(local.max()) + 1 if (local >= 0).any() else 0
    assignments = pa.table({"detection": pa.array(np.arange(n, dtype=np.int64)), "frame": det.column("frame"), "camera": det.column("camera"),
                            "track_id": pa.array(track_id)})
    types = {"track_id": pa.int64(), "camera": pa.string(), "category": pa.string(), "detections": pa.int64(), "first_frame": pa.int64(), "last_frame": pa.int64()}
    return assignments, pa.table({k: pa.array(v, types[k]) for k, v in rows.items()})


# ----- helpers -------------------------------------------------------------------------------

def synthetic_ws(tmp_path: Path, games: dict[str, Path], chunk_size: int | None = None, name: str = "ws") -> Ws:
    tracker = tmp_path / "trk-v1.safetensors"
    if not tracker.exists():
        Tracker(PARAMS).save(tracker)
    ws = Ws(tmp_path / name)
    synthetic_workspace(ws.root, games, tracker)
    if chunk_size is not None:
        ws.set_config(f"\n[chunk_size]\ntrack-level = {chunk_size}\n")
    return ws


def outputs(ws: Ws, game: str) -> tuple[int, dict[str, str], pa.Table, pa.Table, list[dict[str, object]]]:
    """(chunks merged, output digests, assignments, tracks, signals) of the built artifact."""
    e = ws.engine()
    reader = api.artifact(e, LAYER, game)
    m = reader.manifest
    return (m.chunks, {o.path: o.digest for o in m.outputs}, reader.table("assignments.parquet"), reader.table("tracks.parquet"),
            [s.model_dump() for s in m.signals])


def plan_of(ws: Ws, game: str) -> dict[str, object]:
    """The chunk plan a build of ``game`` stores (the plan step alone)."""
    e = ws.engine()
    plan = e.plan_keys([LAYER])
    key = plan.key(LAYER, game)
    assert key is not None
    e.store.ensure()
    out = TaskExecutor(e).run(TaskSpec(LAYER, game, key, plan.recipe(LAYER, game).model_dump_json(), "plan"))
    assert out.ok and out.plan is not None, out.message
    body: dict[str, object] = json.loads(out.plan)
    return body


def frame_starts(det: pa.Table) -> set[int]:
    frame, camera = det.column("frame").to_numpy(), np.asarray(det.column("camera").to_pylist())
    return {0, *(np.flatnonzero((frame[1:] != frame[:-1]) | (camera[1:] != camera[:-1])) + 1).tolist()}


# ----- the plan ------------------------------------------------------------------------------

def test_the_plan_cuts_each_camera_into_whole_frames_at_row_groups_where_near(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    total = write_detections(path, frames=700, row_group=1000, seed=1)
    det = pq.read_table(path)
    starts, cameras = frame_starts(det), det.column("camera").to_pylist()
    for size, aligned in ((2500, True), (300, False)):
        pieces = cut(pq.ParquetFile(path), size, "d.parquet")
        assert [p.start for p in pieces] == [0] + [p.stop for p in pieces[:-1]] and pieces[-1].stop == total
        for p in pieces:
            assert p.start in starts and set(cameras[p.start:p.stop]) == {p.camera}  # whole frames of one camera
            assert (p.first_frame, p.last_frame) == (det.column("frame")[p.start].as_py(), det.column("frame")[p.stop - 1].as_py())
        inner = [p for p, q in pairwise(pieces) if q.camera == p.camera]  # not a camera's last piece
        assert len(inner) >= 4
        for p in inner:  # about size rows: within size / 2 of it, plus the rest of a frame
            assert size // 2 <= p.stop - p.start <= size + size // 2 + 30
        # a chunk ends at the first frame boundary after the row-group boundary nearest its
        # size, when one is within size / 2; smaller chunks than that end where their size does
        at_groups = [p.stop % 1000 < 30 for p in inner]
        assert all(at_groups) if aligned else not all(at_groups)
    assert [p.camera for p in cut(pq.ParquetFile(path), 10**9, "d.parquet")] == ["left", "right"]


def test_the_plan_refuses_rows_out_of_order(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    write_detections(path, frames=50, row_group=200, seed=2)
    det = pq.read_table(path)
    swapped = pa.concat_tables([det.slice(0, 100), det.slice(300, 20), det.slice(100, 200), det.slice(320)])
    pq.write_table(swapped, tmp_path / "frames.parquet", row_group_size=200)
    with pytest.raises(ContractError, match=r"^d 120: row has frame \d+ after frame \d+ of camera left: the rows are not sorted by frame; rebuild frame-level"):
        cut(pq.ParquetFile(tmp_path / "frames.parquet"), 50, "d")
    left, right = det.filter(pa.compute.equal(det.column("camera"), "left")), det.filter(pa.compute.equal(det.column("camera"), "right"))
    pq.write_table(pa.concat_tables([left.slice(0, 10), right, left.slice(10)]), tmp_path / "cams.parquet", row_group_size=200)
    with pytest.raises(ContractError, match=f"^d {10 + right.num_rows}: row of camera left comes after other cameras' rows"):
        cut(pq.ParquetFile(tmp_path / "cams.parquet"), 50, "d")


# ----- builds --------------------------------------------------------------------------------

def test_chunked_build_equals_one_chunk_per_camera_and_tracking_each_camera_whole(tmp_path: Path) -> None:
    path = tmp_path / "g0.parquet"
    total = write_detections(path, frames=1500, row_group=4000, seed=3)
    det = pq.read_table(path)
    small = synthetic_ws(tmp_path, {"g0": path}, chunk_size=2500, name="small")
    whole = synthetic_ws(tmp_path, {"g0": path}, chunk_size=10**9, name="whole")
    for ws in (small, whole):
        assert api.build(ws.engine(), ["frame-level"]).ok()
    plan = plan_of(small, "g0")
    chunks = plan["chunks"]
    assert isinstance(chunks, list) and plan["unit"] == "detections" and sum(c["units"] for c in chunks) == total
    for cam in ("left", "right"):  # each camera one chain, continued chunk after chunk; cameras independent
        mine = [c for c in chunks if c["spec"]["camera"] == cam]
        assert len(mine) >= 5 and mine[0]["after"] is None and all(c["after"] == b["index"] for b, c in pairwise(mine))
    for ws in (small, whole):
        report = api.build(ws.engine(), [LAYER], jobs=2)
        assert report.ok(), [ev.message for ev in (report.result.events.values() if report.result else [])]
    n_small, digests, assignments, tracks, signals = outputs(small, "g0")
    n_whole, digests_whole, _, _, _ = outputs(whole, "g0")
    assert (n_small, n_whole) == (len(chunks), 2)
    assert digests == digests_whole  # the same files, byte for byte
    expected = tracked_whole(det, Tracker(PARAMS))
    assert assignments.equals(expected[0]) and tracks.equals(expected[1])
    assert tracks.num_rows > 20 and set(tracks.column("camera").to_pylist()) == {"left", "right"}
    assert len(set(tracks.column("category").to_pylist())) >= 3
    assert signals == []  # nothing skipped


def test_min_confidence_and_a_game_without_detections(tmp_path: Path) -> None:
    busy, empty = tmp_path / "busy.parquet", tmp_path / "empty.parquet"
    write_detections(busy, frames=400, row_group=1000, seed=4)
    assert write_detections(empty, frames=0) == 0
    ws = synthetic_ws(tmp_path, {"busy": busy, "empty": empty}, chunk_size=700)
    ws.set_config("\n[params.track-level]\nmin_confidence = 0.8\n")
    report = api.build(ws.engine(), [LAYER])
    assert report.ok(), [ev.message for ev in (report.result.events.values() if report.result else [])]
    tracker = Tracker(PARAMS)
    for game, path in (("busy", busy), ("empty", empty)):
        _n, _d, assignments, tracks, _s = outputs(ws, game)
        expected = tracked_whole(pq.read_table(path), tracker, min_confidence=0.8)
        assert assignments.equals(expected[0]) and tracks.equals(expected[1]), game
    assert outputs(ws, "empty")[2].num_rows == 0


def test_unusable_detections_are_counted_and_left_out_of_tracks(tmp_path: Path) -> None:
    path, bad_path = tmp_path / "g.parquet", tmp_path / "bad.parquet"
    write_detections(path, frames=600, row_group=1000, seed=5)
    det = pq.read_table(path)
    broken = [17, 2000, 5200]  # in three chunks of two cameras
    px = det.column("px").to_numpy().copy()
    px[broken] = np.nan
    det = det.set_column(det.schema.get_field_index("px"), "px", pa.array(px))
    pq.write_table(det, path, row_group_size=1000)
    all_bad = det.slice(0, 300).set_column(det.schema.get_field_index("px"), "px", pa.array(np.full(300, np.nan, np.float32)))
    pq.write_table(all_bad, bad_path)
    ws = synthetic_ws(tmp_path, {"g": path, "bad": bad_path}, chunk_size=1500)
    report = api.build(ws.engine(), [LAYER])
    assert report.result is not None
    assert report.result.events[(LAYER, "g")].kind == "built"
    _n, _d, assignments, tracks, signals = outputs(ws, "g")
    usable = np.ones(det.num_rows, bool)
    usable[broken] = False
    expected = tracked_whole(det, Tracker(PARAMS), usable=usable)
    assert assignments.equals(expected[0]) and tracks.equals(expected[1])
    assert assignments.column("track_id").to_numpy()[broken].tolist() == [-1, -1, -1]
    assert [(s["kind"], s["what"], s["count"], s["total"], s["examples"]) for s in signals] == [
        ("skipped", "detections", 3, det.num_rows, ["row 17", "row 2000", "row 5200"])]
    failed = report.result.events[(LAYER, "bad")]
    assert failed.kind == "failed" and "every one of its 300 detections was skipped: non-finite foot-point" in (failed.message or "")


def test_a_killed_build_resumes_at_its_unfinished_chunks(tmp_path: Path) -> None:
    path = tmp_path / "long.parquet"
    write_detections(path, frames=4000, row_group=5000, seed=6)
    ws = synthetic_ws(tmp_path, {"long": path}, chunk_size=5000)
    assert api.build(ws.engine(), ["frame-level"]).ok()
    key = ws.engine().plan_keys([LAYER]).key(LAYER, "long")
    assert key is not None
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO)]))
    with open(tmp_path / "builder.out", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "-w", str(ws.root), "build", LAYER, "--jobs", "1"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(committed_chunks(ws.engine().store, LAYER, "long", key)) < 3:
                assert proc.poll() is None, (tmp_path / "builder.out").read_text()
                time.sleep(0.02)
            os.killpg(proc.pid, signal.SIGKILL)  # mid-camera: the next chunk must start from a stored state
            proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    done = committed_chunks(ws.engine().store, LAYER, "long", key)
    chunks = plan_of(ws, "long")["chunks"]
    assert isinstance(chunks, list)
    n = len(chunks)
    assert 3 <= len(done) < n, (done, n)
    assert any(c["after"] in done for c in chunks if c["index"] not in done)  # the rerun continues a stored state
    report = api.build(ws.engine(), [LAYER])
    assert report.ok() and report.result is not None
    computed = sorted(o.chunk for o in report.result.outcomes if o.step == "chunk" and o.published)
    assert computed == sorted(set(range(n)) - done)  # only the rest, each once
    _n, _d, assignments, tracks, _s = outputs(ws, "long")
    expected = tracked_whole(pq.read_table(path), Tracker(PARAMS))
    assert assignments.equals(expected[0]) and tracks.equals(expected[1])


def test_rendered_game_with_reference_models_chunked_equals_whole(tmp_path: Path, trained: dict[str, Path]) -> None:
    ws = make_pipeline_ws(tmp_path / "ws", trained, games=1, size=(640, 360))  # the renderer's size: the detector finds people
    report = api.build(ws.engine(), [LAYER], jobs=1)
    assert report.ok(), [ev.message for ev in (report.result.events.values() if report.result else [])]
    n_whole, digests, assignments, tracks, _s = outputs(ws, "r0")
    e = ws.engine()
    det = api.artifact(e, "frame-level", "r0").table("detections.parquet")
    assert n_whole == len(set(det.column("camera").to_pylist())) >= 1  # a short game: one chunk per camera
    expected = tracked_whole(det, Tracker.from_weights(trained["trk-v1"]))
    assert assignments.equals(expected[0]) and tracks.equals(expected[1])
    assert det.num_rows >= 200 and tracks.num_rows >= 10
    # many small chunks (the size is not part of the key: drop the artifact to build it again)
    ws.set_config("\n[chunk_size]\ntrack-level = 25\n")
    e = ws.engine()
    e.store.remove_artifact(api.artifact(e, LAYER, "r0").manifest)
    assert api.build(e, [LAYER], jobs=1).ok()
    n_small, digests_small, _, _, _ = outputs(ws, "r0")
    assert n_small >= 8 and digests_small == digests


def test_chunks_read_and_merge_through_an_object_store(tmp_path: Path, s3: S3Server, bucket: str) -> None:
    path = tmp_path / "g.parquet"
    write_detections(path, frames=300, row_group=1000, seed=7)
    ws = synthetic_ws(tmp_path, {"g": path}, chunk_size=1500)
    ws.use_s3(s3, bucket)
    report = api.build(ws.engine(), [LAYER])
    assert report.ok(), [ev.message for ev in (report.result.events.values() if report.result else [])]
    n, _d, assignments, tracks, _s = outputs(ws, "g")
    expected = tracked_whole(pq.read_table(path), Tracker(PARAMS))
    assert n >= 4 and assignments.equals(expected[0]) and tracks.equals(expected[1])


def test_float16_embeddings_are_tracked_as_float32(tmp_path: Path) -> None:
    """frame-level may store embeddings as float16: the layer casts them to float32."""
    path = tmp_path / "g.parquet"
    write_detections(path, frames=300, row_group=1000, seed=8)
    det = pq.read_table(path)
    at = det.schema.get_field_index("embedding")
    half = pa.FixedSizeListArray.from_arrays(pa.array(det.column("embedding").combine_chunks().flatten().to_numpy().astype(np.float16)), 16)
    det16 = det.set_column(at, pa.field("embedding", half.type), half)
    pq.write_table(det16, path, row_group_size=1000)
    ws = synthetic_ws(tmp_path, {"g": path}, chunk_size=1500)
    assert api.build(ws.engine(), [LAYER]).ok()
    _n, _d, assignments, tracks, _s = outputs(ws, "g")
    as32 = pa.FixedSizeListArray.from_arrays(pa.array(half.flatten().to_numpy().astype(np.float32)), 16)
    expected = tracked_whole(det16.set_column(at, pa.field("embedding", as32.type), as32), Tracker(PARAMS))
    assert assignments.equals(expected[0]) and tracks.equals(expected[1])
