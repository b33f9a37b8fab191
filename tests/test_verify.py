"""verify: re-hashing outputs against manifests; builds refuse corrupt upstream artifacts."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Ws
from s3_server import S3Server

from artifacts import api
from artifacts.plan import Engine
from artifacts.store import verify_store


def data_file(e: Engine, layer: str, game: str, name: str) -> tuple[Path, str]:
    key = e.plan_keys([layer], games=[game]).key(layer, game) or ""
    m = e.store.manifest(layer, game, key)
    assert m is not None
    return Path(e.store.data_path(m.data)) / name, key


def flip_a_byte(path: Path, at: int = 40) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_reports_a_flipped_byte_a_missing_file_and_an_extra_one(ws: Ws) -> None:
    assert api.build(ws.engine(), ["t-tracks"]).ok()
    e = ws.engine()
    clean = verify_store(e.store)
    assert clean.ok() and (clean.artifacts, clean.files) == (6, 6) and clean.layers == ["t-frames", "t-tracks"]
    flipped, fkey = data_file(e, "t-frames", "g0", "detections.parquet")
    flip_a_byte(flipped)
    gone, gkey = data_file(e, "t-tracks", "g1", "tracks.parquet")
    gone.unlink()
    (gone.parent / "stray.txt").write_text("not from the build")
    r = ws.cli("verify")
    assert r.returncode == 1
    assert f"DIGEST t-frames g0 {fkey[:12]} detections.parquet: digest: xxh3-128:" in r.stdout
    assert f"MISSING t-tracks g1 {gkey[:12]} tracks.parquet: missing: the file is gone" in r.stdout
    assert f"EXTRA t-tracks g1 {gkey[:12]} stray.txt: extra: a file the manifest does not list" in r.stdout
    assert "verified 6 artifacts, 6 files" in r.stdout and "2 artifact(s) with problems" in r.stdout
    # limited to a layer, and machine-readable
    r = ws.cli("verify", "t-frames", "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert [(p["layer"], p["game"], p["kind"], p["path"]) for p in doc["problems"]] == [("t-frames", "g0", "digest", "detections.parquet")]
    assert doc["artifacts"] == 3
    assert verify_store(e.store, ["t-frames"], ["g1", "g2"]).ok()


def test_a_build_never_reads_a_corrupt_upstream_artifact(ws: Ws) -> None:
    assert api.build(ws.engine(), ["t-tracks"]).ok()
    flipped, fkey = data_file(ws.engine(), "t-frames", "g0", "detections.parquet")
    flip_a_byte(flipped)
    # the staging collection changes the tracker: t-tracks is rebuilt and reads t-frames
    r = ws.cli("build", "t-tracks", "-c", "staging", "--jobs", "1")
    assert r.returncode == 1
    assert (
        f"FAILED t-tracks g0: artifact t-frames/g0 '{fkey}': output detections.parquet is corrupt (digest: xxh3-128:"
    ) in r.stdout
    assert "run 'artifacts verify t-frames' to list corrupt artifacts and 'artifacts verify t-frames --drop' to remove them, then build again" in r.stdout
    report = api.status(ws.engine(), ["t-tracks"], collection="staging")
    assert {e.game: e.state.value for e in report.entries} == {"g0": "FAILED", "g1": "FRESH", "g2": "FRESH"}
    # drop the corrupt artifact: the next build redoes it and its dependents
    r = ws.cli("verify", "--drop")
    assert r.returncode == 1 and "dropped 1 artifact(s)" in r.stdout
    assert verify_store(ws.engine().store).ok()
    rebuilt = api.build(ws.engine(), ["t-tracks"], collection="staging")
    assert rebuilt.ok() and rebuilt.result is not None and set(rebuilt.result.events) == {("t-frames", "g0"), ("t-tracks", "g0")}
    assert api.status(ws.engine(), ["t-tracks"], collection="staging").all_fresh()
    assert api.status(ws.engine(), ["t-frames"]).all_fresh()


def test_verify_on_s3_finds_a_changed_object(make_ws, s3: S3Server, bucket: str) -> None:  # type: ignore[no-untyped-def]
    ws: Ws = make_ws("s3verify", games=1)
    ws.use_s3(s3, bucket)
    e = ws.engine()
    assert api.build(e, ["t-frames"]).ok()
    key = e.plan_keys(["t-frames"]).key("t-frames", "g0") or ""
    m = e.store.manifest("t-frames", "g0", key)
    assert m is not None
    path = e.store.data_path(m.data) + "/detections.parquet"
    data = bytearray(e.store.fs.cat_file(path))
    data[40] ^= 0x01
    e.store.fs.pipe_file(path, bytes(data))
    report = verify_store(e.store)
    assert [(p.layer, p.game, p.kind) for p in report.problems] == [("t-frames", "g0", "digest")]
