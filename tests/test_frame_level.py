"""frame-level in chunks: frame ranges from the container, seeks to keyframes, streaming merge.

Rendered games (two cameras, keyframes every 10 frames) with the session's reference models;
the reference for "unchunked" is the detector and crop encoder run over each camera decoded
from frame 0 (``decode_batches``), written in one ``pq.write_table``, as the layer did before
chunks.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Ws, make_pipeline_ws

from artifacts import api
from artifacts.build.execute import TaskExecutor
from artifacts.build.task import TaskSpec
from artifacts.errors import BuildError
from artifacts.keys import hash_file
from artifacts.store import Manifest, committed_chunks
from generators.layers.frame_level.decode import decode_batches, decode_range
from generators.layers.frame_level.index import frame_ranges, index_video
from generators.layers.frame_level.infer import detect_and_encode
from generators.layers.frame_level.layer import INFERENCE_THREADS, cpu_threads
from generators.layers.frame_level.merge import RowGroupWriter
from generators.layers.frame_level.table import detection_batch, schema, vectors
from generators.models.crop_encoder import CropEncoder
from generators.models.detector import FootpointDetector
from generators.reference.workspace import PIPELINE_LAYERS
from generators.render.game import render_game

LAYER = "frame-level"
SIZE = (640, 360)  # the size the tiny reference models were trained at: they find people there
HEATMAPS = [*PIPELINE_LAYERS, "generators.layers.heatmaps.layer:ShotHeatmaps"]


def _ws(root: Path, trained: dict[str, Path], params: str = "batch = 4", chunk_size: int = 8, layers: list[str] | None = None) -> Ws:
    """One rendered game r0 (2 s at 10 fps, cameras left and right) with frame-level ``params``."""
    ws = make_pipeline_ws(root, trained, games=1, layers=layers, size=SIZE)
    ws.set_config(f"\n[params.frame-level]\n{params}\n\n[chunk_size]\nframe-level = {chunk_size}\n")
    return ws


def _manifest(ws: Ws, game: str = "r0") -> Manifest:
    e = ws.engine()
    key = e.plan_keys([LAYER]).key(LAYER, game)
    m = e.store.manifest(LAYER, game, key or "")
    assert m is not None
    return m


def _table_path(ws: Ws) -> Path:
    return ws.root / "store" / _manifest(ws).data / "detections.parquet"


def _unchunked(ws: Ws, trained: dict[str, Path], out: Path, batch: int) -> Path:
    """detections.parquet as the layer wrote it before chunks: each camera decoded from frame 0."""
    detector = FootpointDetector.from_weights(trained["det-v1"])
    encoder = CropEncoder.from_weights(trained["ce-v1"])
    target = schema(int(encoder.embedding_dim), "float32")
    batches = []
    with cpu_threads(INFERENCE_THREADS):  # as the layer: the last bits depend on the thread count
        for cam in ("left", "right"):
            url = str(ws.root / "games" / "r0" / f"{cam}.mp4")
            for idx, frames in decode_batches(cam, url, 1, batch):
                found = detect_and_encode(detector, encoder, frames, idx.astype(np.int32))
                batches.append(detection_batch(cam, found, target))
    pq.write_table(pa.Table.from_batches(batches, target), out, row_group_size=65_536, compression="zstd")
    return out


def test_chunked_equals_unchunked_for_two_chunk_sizes(tmp_path: Path, trained: dict[str, Path]) -> None:
    ws = _ws(tmp_path / "ws", trained)  # chunks of 8 frames: boundaries 8 and 16, keyframes 0 and 10
    assert api.build(ws.engine(), [LAYER], jobs=1).ok()
    small = _manifest(ws)
    dim = small.contracts["embedding_dim"]
    assert small.chunks == 6 and isinstance(dim, int) and dim > 0
    chunked = pq.read_table(_table_path(ws))
    reference = _unchunked(ws, trained, tmp_path / "unchunked.parquet", batch=4)
    assert chunked.num_rows > 40  # the detector finds people: the comparison means something
    assert chunked.equals(pq.read_table(reference))
    assert hash_file(_table_path(ws)) == hash_file(reference)  # byte for byte the layer before chunks
    assert chunked.column("camera").to_pylist() == sorted(chunked.column("camera").to_pylist())
    frames = chunked.column("frame").to_numpy()
    for cam in ("left", "right"):
        mine = frames[np.asarray(chunked.column("camera").to_pylist()) == cam]
        assert (np.diff(mine) >= 0).all() and mine.min() == 0 and mine.max() == 19
    digest = hash_file(_table_path(ws))
    # one chunk per camera: the same key (the size is no part of it), the same bytes
    cfg = ws.root / "artifacts.toml"
    cfg.write_text(cfg.read_text().replace("frame-level = 8\n", "frame-level = 100000\n"))
    e = ws.engine()
    e.store.remove_artifact(small)
    assert api.build(e, [LAYER], jobs=1).ok()
    whole = _manifest(ws)
    assert whole.key == small.key and whole.chunks == 2
    assert hash_file(_table_path(ws)) == digest


def test_the_merge_writes_whole_row_groups_whatever_the_batches(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 1000
    target = schema(4, "float16")
    rows = pa.table({
        "frame": pa.array(np.arange(n, dtype=np.int32)), "camera": pa.array(["left"] * 600 + ["right"] * 400),
        "px": pa.array(rng.random(n, np.float32)), "py": pa.array(rng.random(n, np.float32)), "confidence": pa.array(rng.random(n, np.float32)),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(n * 4).astype(np.float16)), 4),
        "jersey": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(n * 133).astype(np.float16)), 133),
        "team_probs": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(n * 3, np.float32)), 3),
        "team": pa.array(rng.integers(0, 3, n).astype(np.int8)),
    }, schema=target)
    once = tmp_path / "once.parquet"
    pq.write_table(rows, once, row_group_size=256, compression="zstd")
    for cuts in ([0, 1000], [0, 1, 255, 256, 700, 1000], sorted({0, 1000, *rng.integers(0, 1000, 30).tolist()})):
        streamed = tmp_path / "streamed.parquet"
        writer = RowGroupWriter(streamed, target, rows=256)
        writer.write(pa.RecordBatch.from_pylist([], schema=target))  # a chunk without detections
        for lo, hi in itertools.pairwise(cuts):
            (batch,) = rows.slice(lo, hi - lo).to_batches()
            writer.write(batch)
        writer.close()
        meta = pq.ParquetFile(streamed).metadata
        assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [256, 256, 256, 232]
        assert hash_file(streamed) == hash_file(once), cuts  # the same bytes as one write of all the rows


def _write_video(path: Path, frames: int, gop: int) -> None:
    """Frames of one grey level each (frame i: 9 * i mod 256), a keyframe every ``gop`` frames,
    B-frames on: presentation order differs from decoding order."""
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=10, options={"g": str(gop), "bf": "2", "preset": "veryfast"})
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = np.full((48, 64, 3), (i * 9) % 256, np.uint8)
            for pk in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)


def test_a_chunk_boundary_off_keyframes_numbers_frames_as_a_decode_from_frame_0(tmp_path: Path) -> None:
    p = tmp_path / "cam.mp4"
    _write_video(p, 47, gop=10)
    url = str(p)
    ix = index_video("cam", url)
    assert ix.frames == 47 and len(ix.keyframe_pts) >= 4
    ranges = frame_ranges("cam", url, ix, 12)  # starts 12, 24, 36: none on a keyframe (0, 10, 20, ...)
    assert [(r.start, r.stop) for r in ranges] == [(0, 12), (12, 24), (24, 36), (36, 47)]
    assert ranges[0].seek_pts is None and ranges[-1].stop_pts is None
    for r in ranges[1:]:
        assert r.seek_pts is not None and r.seek_pts < r.start_pts  # the keyframe before the range
        assert r.seek_pts == max(k for k in ix.keyframe_pts.tolist() if k <= r.start_pts)
    whole = [(i.copy(), b.copy()) for i, b in decode_batches("cam", url, 2, 3)]
    parts = [(i.copy(), b.copy()) for r in ranges for i, b in decode_range("cam", url, r.start, r.stop, r.start_pts, r.stop_pts, r.seek_pts, 2, 3)]
    assert [i.tolist() for i, _ in parts] == [i.tolist() for i, _ in whole]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(parts, whole, strict=True))
    for idx, frames in parts:  # each frame is the one its number says (grey level 9 * n)
        assert all(abs(float(f.mean()) - (n * 9) % 256) <= 3 for n, f in zip(idx.tolist(), frames, strict=True))
    with pytest.raises(ValueError, match="not a multiple of stride"):
        next(decode_range("cam", url, 12, 24, ranges[1].start_pts, ranges[1].stop_pts, ranges[1].seek_pts, 2, 4))
    # a range that claims more frames than the file decodes fails like a truncated file
    last = ranges[-1]
    with pytest.raises(BuildError, match=r"^video cam '.*cam.mp4': unreadable: truncated: decoded 11 of the 12 frames 36-47 its packets hold; replace"):
        list(decode_range("cam", url, last.start, last.stop + 1, last.start_pts, None, last.seek_pts, 2, 3))


def test_a_killed_task_resumes_at_the_chunks_not_committed(tmp_path: Path, trained: dict[str, Path]) -> None:
    ws = _ws(tmp_path / "ws", trained)
    e = ws.engine()
    plan = e.plan_keys([LAYER])
    key = plan.key(LAYER, "r0")
    assert key is not None
    e.store.ensure()
    worker = TaskExecutor(e)
    recipe = plan.recipe(LAYER, "r0").model_dump_json()
    planned = worker.run(TaskSpec(LAYER, "r0", key, recipe, "plan"))
    assert planned.ok and planned.plan is not None
    chunks = json.loads(planned.plan)["chunks"]
    assert [c["label"] for c in chunks] == ["left frames 0-7", "left frames 8-15", "left frames 16-19",
                                            "right frames 0-7", "right frames 8-15", "right frames 16-19"]
    for i in (0, 1, 3):  # then the build stops (killed): three chunks committed
        assert worker.run(TaskSpec(LAYER, "r0", key, recipe, "chunk", i)).published
    assert committed_chunks(e.store, LAYER, "r0", key) == {0, 1, 3}
    report = api.build(ws.engine(), [LAYER], jobs=1)
    assert report.ok() and report.result is not None
    computed = sorted(o.chunk for o in report.result.outcomes if o.step == "chunk" and o.published)
    assert computed == [2, 4, 5]
    reference = _unchunked(ws, trained, tmp_path / "unchunked.parquet", batch=4)
    assert hash_file(_table_path(ws)) == hash_file(reference)


def test_float16_vectors_are_read_by_track_level_and_heatmaps(tmp_path: Path, trained: dict[str, Path]) -> None:
    ws = _ws(tmp_path / "ws", trained, chunk_size=2048, layers=HEATMAPS)
    assert api.build(ws.engine(), [LAYER], jobs=1).ok()
    f32 = pq.read_table(_table_path(ws))
    cfg = ws.root / "artifacts.toml"
    cfg.write_text(cfg.read_text().replace("batch = 4\n", 'batch = 4\nvector_dtype = "float16"\n', 1))
    e = ws.engine()
    assert e.plan_keys([LAYER]).recipe(LAYER, "r0").params == {"batch": 4, "vector_dtype": "float16"}
    report = api.build(e, ["shot-heatmaps"], jobs=1)
    assert report.ok(), [ev.message for ev in report.result.events.values()] if report.result else report
    f16 = pq.read_table(_table_path(ws))
    assert f16.schema.field("embedding").type.value_type == pa.float16()
    assert f16.schema.field("jersey").type.value_type == pa.float16()
    assert f16.schema.field("team_probs").type.value_type == pa.float32()
    for name in ("frame", "camera", "px", "py", "confidence", "team_probs", "team"):
        assert f16.column(name).equals(f32.column(name)), name
    for name in ("embedding", "jersey"):
        a, b = vectors(f16.column(name)), vectors(f32.column(name))
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_array_equal(a, b.astype(np.float16).astype(np.float32))
    plan = ws.engine().plan_keys(["shot-heatmaps"])
    t = ws.engine().store.manifest("track-level", "r0", plan.key("track-level", "r0") or "")
    assert t is not None and t.recipe.upstream[LAYER] == _manifest(ws).key
    assert pq.read_table(ws.root / "store" / t.data / "assignments.parquet").num_rows == f16.num_rows
    h = ws.engine().store.manifest("shot-heatmaps", "r0", plan.key("shot-heatmaps", "r0") or "")
    assert h is not None and pq.read_table(ws.root / "store" / h.data / "shots.parquet").num_rows >= 1


def test_frames_at_the_detectors_maximum_are_counted(tmp_path: Path, trained: dict[str, Path]) -> None:
    ws = _ws(tmp_path / "ws", trained, params="batch = 4\nmax_detections = 2")
    report = api.build(ws.engine(), [LAYER], jobs=1)
    assert report.ok()
    table = pq.read_table(_table_path(ws))
    per_frame = Counter(zip(table.column("camera").to_pylist(), table.column("frame").to_pylist(), strict=True))
    assert max(per_frame.values()) == 2
    full = sorted(k for k, n in per_frame.items() if n == 2)
    assert len(full) > 0
    signals = _manifest(ws).signals
    assert [(s.kind, s.what, s.count, s.total, s.reason, s.fix) for s in signals] == [
        ("capped", "frames", len(full), 40, "the detector returned its maximum of 2 detections", "raise params.frame-level.max_detections")]
    assert set(signals[0].examples) <= {f"{c} frame {f}" for c, f in full} and len(signals[0].examples) == min(5, len(full))
    # the default cap (the detector's own 100) is not reached: nothing is recorded
    default = _ws(tmp_path / "default", trained)
    assert api.build(default.engine(), [LAYER], jobs=1).ok()
    assert _manifest(default).signals == [] and _manifest(default).recipe.params == {"batch": 4}


def _faststart(video: Path, out: Path) -> Path:
    """``video`` remuxed with its header (the frame count) at the front: a cut at the end keeps it."""
    with av.open(str(video)) as src, av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for pk in src.demux(src.streams.video[0]):
            if pk.size:
                pk.stream = stream
                dst.mux(pk)
    return out


def test_a_video_truncated_behind_its_header_fails_at_the_plan(tmp_path: Path, trained: dict[str, Path]) -> None:
    ws = _ws(tmp_path / "ws", trained)
    cut = render_game(ws.root / "games" / "cut", "cut", seed=7, seconds=2.0, size=(320, 192))
    video = cut.video("right")
    data = _faststart(video, tmp_path / "faststart.mp4").read_bytes()
    video.write_bytes(data[: len(data) * 2 // 3])  # the header, at the front, still declares 20 frames
    ws.engine().catalog.add_games([cut.entry()])
    report = api.build(ws.engine(), [LAYER], jobs=1)
    assert not report.ok() and report.result is not None
    assert report.result.events[(LAYER, "r0")].kind == "built"  # the other game builds
    message = report.result.events[(LAYER, "cut")].message or ""
    assert re.search(r"video right '[^']*right\.mp4': unreadable: truncated: holds \d+ of the 20 frames its header declares; replace the file", message), message
    assert "\n" not in message


def test_the_plan_refuses_what_it_cannot_number(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_bytes(b"this is a text file" * 20)
    with pytest.raises(BuildError, match=r"^video cam '[^']*notes.mp4': unreadable: .*; replace the file with a complete export"):
        index_video("cam", str(text))
    p = tmp_path / "cam.mp4"
    _write_video(p, 30, gop=10)
    cut = _faststart(p, tmp_path / "cut.mp4")
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    with pytest.raises(BuildError, match=r"unreadable: truncated: holds \d+ of the 30 frames its header declares; replace the file"):
        index_video("cut", str(cut))
