"""push / pull between a local store and an S3 store (a real moto server), by key, digests checked."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Ws
from s3_server import S3Server

from artifacts import api
from artifacts.operations import pull, push
from artifacts.store import Store, verify_store


def with_remote(ws: Ws, s3: S3Server, bucket: str) -> str:
    url = f"s3://{bucket}/team"
    ws.set_top(remote=url)
    ws.set_config("\n[remote_options]\n" + s3.toml_options())
    return url


def test_a_teammates_build_is_pulled_instead_of_recomputed(make_ws, s3: S3Server, bucket: str) -> None:  # type: ignore[no-untyped-def]
    a: Ws = make_ws("alice", games=2)
    b: Ws = make_ws("bob", games=2)  # the same games (same content, other paths) and models
    for ws in (a, b):
        with_remote(ws, s3, bucket)
    assert api.build(a.engine(), ["t-summary"]).ok()
    r = a.cli("push")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pushed 6 artifact(s)" in r.stdout and f"to s3://{bucket}/team" in r.stdout
    assert not api.status(b.engine(), ["t-summary"]).all_fresh()
    r = b.cli("pull", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert len(doc["copied"]) == 6 and doc["failed"] == [] and doc["bytes"] > 0
    r = b.cli("status", "t-frames", "t-tracks", "t-summary", "--check")
    assert r.returncode == 0, r.stdout + r.stderr  # FRESH without building
    nothing = api.build(b.engine(), ["t-summary"])
    assert nothing.tasks == [] and nothing.ok()
    eb = b.engine()
    assert verify_store(eb.store).ok()
    # the manifest is the builder's: same key, recipe, outputs and builder; only the data directory differs
    ea = a.engine()
    key = ea.plan_keys(["t-tracks"]).key("t-tracks", "g1") or ""
    ma, mb = ea.store.manifest("t-tracks", "g1", key), eb.store.manifest("t-tracks", "g1", key)
    assert ma is not None and mb is not None
    assert mb.model_copy(update={"data": ma.data}) == ma and mb.data != ma.data
    # a second push copies nothing
    again = push(a.engine())
    assert again.copied == [] and len(again.present) == 6


def test_a_corrupt_artifact_is_neither_pushed_nor_pulled(make_ws, s3: S3Server, bucket: str) -> None:  # type: ignore[no-untyped-def]
    a: Ws = make_ws("alice", games=2)
    b: Ws = make_ws("bob", games=2)
    for ws in (a, b):
        with_remote(ws, s3, bucket)
    ea = a.engine()
    assert api.build(ea, ["t-frames"]).ok()
    keys = ea.plan_keys(["t-frames"]).layers["t-frames"].keys
    m0 = ea.store.manifest("t-frames", "g0", keys["g0"])
    assert m0 is not None
    path = ea.store.data_path(m0.data) + "/detections.parquet"
    good = Path(path).read_bytes()
    Path(path).write_bytes(good[:40] + bytes([good[40] ^ 1]) + good[41:])
    r = a.cli("push", "t-frames")
    assert r.returncode == 1
    assert f"FAILED t-frames g0 {keys['g0'][:12]}: artifact t-frames/g0 '{keys['g0']}': output detections.parquet is corrupt (digest:" in r.stdout
    remote = Store(f"s3://{bucket}/team", s3.options())
    assert remote.list_layer("t-frames").committed == {"g1": [keys["g1"]]}
    assert remote.fs.find(f"{bucket}/team/t-frames/data/g0") == []  # nothing uploaded for it
    # repair locally, push, then damage the remote copy: bob's pull refuses it
    Path(path).write_bytes(good)
    assert push(a.engine(), layers=["t-frames"]).copied == [("t-frames", "g0", keys["g0"])]
    mr = remote.manifest("t-frames", "g0", keys["g0"])
    assert mr is not None
    remote.fs.pipe_file(remote.data_path(mr.data) + "/detections.parquet", good[:-1] + bytes([good[-1] ^ 1]))
    report = pull(b.engine(), layers=["t-frames"])
    assert report.copied == [("t-frames", "g1", keys["g1"])]
    assert [aid for aid, _m in report.failed] == [("t-frames", "g0", keys["g0"])]
    assert "has digest" in report.failed[0][1]
    eb = b.engine()
    assert not eb.store.has_manifest("t-frames", "g0", keys["g0"])
    assert list((b.root / "store" / ".staging").iterdir()) == []


def test_push_without_a_remote_says_how_to_set_one(ws: Ws) -> None:
    r = ws.cli("push")
    assert r.returncode == 2
    assert "error: remote: is not set; pass --remote URL or set remote = \"s3://bucket/prefix\" in artifacts.toml" in r.stderr
