"""The store on S3 (a real moto server): conditional writes, publish, listing cost, sweeping."""

from __future__ import annotations

from pathlib import Path

import pytest
import s3fs
from conftest import Ws
from s3_server import S3Server

from artifacts import api
from artifacts.errors import StoreError
from artifacts.keys import Recipe
from artifacts.store import Builder, LeaseRecord, Manifest, Store, Timings, new_attempt_id, verify_store
from artifacts.store.objectstore import S3Backend

RECIPE = Recipe(layer="l", generator_version="1")
KEY = RECIPE.key()


def s3_store(s3: S3Server, bucket: str) -> Store:
    store = Store(f"s3://{bucket}/store", s3.options())
    store.ensure()
    return store


def a_manifest(data: str, outputs: list[tuple[str, bytes]]) -> Manifest:
    from artifacts.keys import hash_bytes
    from artifacts.store import OutputFile

    return Manifest(
        layer="l", game="g", key=KEY, recipe=RECIPE, data=data,
        outputs=[OutputFile(path=p, size=len(b), digest=hash_bytes(b)) for p, b in outputs],
        timings=Timings(started="t", finished="t", build_s=0, total_s=0),
        builder=Builder(host="h", user="u", pid=1, attempt="a", versions={}),
    )


def test_moto_honours_conditional_puts_and_deletes(s3: S3Server, bucket: str) -> None:
    store = s3_store(s3, bucket)
    b = store.backend
    assert isinstance(b, S3Backend)
    path = f"{bucket}/store/x.json"
    token = b.create(path, b"one")
    assert token is not None
    assert b.create(path, b"two") is None  # If-None-Match: * on an existing key: 412
    assert store.fs.cat_file(path) == b"one"
    seen = b.read(path)
    assert seen == (b"one", token)
    assert b.replace(path, b"three", '"0123456789abcdef0123456789abcdef"') is None  # If-Match on a stale ETag
    new = b.replace(path, b"three", token)
    assert new is not None and new != token and store.fs.cat_file(path) == b"three"
    assert b.delete(path, token) is False  # the old version is gone: refused
    assert b.delete(path, new) is True
    assert b.read(path) is None


def test_commit_is_exclusive_on_s3_first_writer_wins(s3: S3Server, bucket: str) -> None:
    store = s3_store(s3, bucket)
    results = []
    for content in (b"first", b"second"):
        with store.staging("l", "g", KEY, new_attempt_id()) as st:
            (st.dir / "out.bin").write_bytes(content)
            results.append(store.commit(st, a_manifest(store.data_dir_for(st), [("out.bin", content)])))
    assert results == [True, False]
    m = store.manifest("l", "g", KEY)
    assert m is not None and store.fs.cat_file(store.data_path(m.data) + "/out.bin") == b"first"
    # the loser's uploaded data is gone: one data directory is left for the key
    assert [p.rsplit("/", 1)[-1] for p in store.fs.ls(f"{bucket}/store/l/data/g", refresh=True)] == [m.data.rsplit("/", 1)[-1]]


def test_build_status_and_verify_on_s3(make_ws, s3: S3Server, bucket: str) -> None:  # type: ignore[no-untyped-def]
    ws: Ws = make_ws("s3ws", games=2)
    url = ws.use_s3(s3, bucket)
    e = ws.engine()
    assert not e.store.local and e.store.url == url
    report = api.build(e, ["t-summary"])  # parquet and zarr outputs, upstream read through s3fs
    assert report.ok() and report.result is not None and report.result.count("built") == 6
    assert api.status(ws.engine(), ["t-summary"]).all_fresh()
    fs = s3fs.S3FileSystem(**s3.options(), skip_instance_cache=True)
    manifests = fs.ls(f"{bucket}/store/t-tracks/manifests")
    assert len(manifests) == 2
    v = verify_store(e.store)
    assert v.ok() and v.artifacts == 6 and v.files >= 6
    # the CLI sees the same store through store_options
    r = ws.cli("status", "t-summary", "--check")
    assert r.returncode == 0, r.stdout + r.stderr


def test_status_on_s3_makes_one_listing_per_layer_whatever_the_games(make_ws, s3: S3Server, bucket: str) -> None:  # type: ignore[no-untyped-def]
    ws: Ws = make_ws("s3count", games=2)
    ws.use_s3(s3, bucket)
    assert api.build(ws.engine(), ["t-tracks"]).ok()

    def count() -> dict[str, int]:
        e = ws.engine()
        s3.reset_counts()
        report = api.status(e, ["t-frames", "t-tracks"])
        counts = s3.counts()
        assert len(report.entries) == 2 * len(e.plan_keys(["t-tracks"]).games)
        return counts

    two = count()
    for i in range(2, 22):  # 20 more games, registered but not built: MISSING
        ws.add_game(f"g{i}")
    twenty_two = count()
    assert two == twenty_two, (two, twenty_two)
    assert two.get("LIST") == 2  # t-frames and t-tracks: one listing each
    assert sum(two.values()) <= 4, two  # plus the STORE.json format check (and a region lookup)


def test_status_on_s3_reads_the_manifests_of_stale_entries_only(make_ws, s3: S3Server, bucket: str) -> None:  # type: ignore[no-untyped-def]
    ws: Ws = make_ws("s3stale", games=3)
    ws.use_s3(s3, bucket)
    assert api.build(ws.engine(), ["t-tracks"]).ok()
    e = ws.engine()
    s3.reset_counts()
    report = api.status(e, ["t-frames", "t-tracks"], collection="staging")  # another tracker: t-tracks STALE
    counts = s3.counts()
    assert [x.state.value for x in report.entries] == ["FRESH"] * 3 + ["STALE"] * 3
    assert {g.reason for g in report.groups()} == {"tracker trk-v1 -> trk-v2"}
    assert counts.get("LIST") == 2
    assert counts.get("GET") == 1 + 3  # STORE.json, then the stored manifest of each STALE entry


def test_takeover_of_an_expired_lease_sweeps_the_dead_attempts_upload(make_ws, s3: S3Server, bucket: str) -> None:  # type: ignore[no-untyped-def]
    ws: Ws = make_ws("s3sweep", games=1)
    ws.use_s3(s3, bucket)
    e = ws.engine()
    e.store.ensure()
    key = e.plan_keys(["t-frames"]).key("t-frames", "g0") or ""
    dead = "elsewhere-4242-0123456789ab"  # another host's builder that died mid-upload
    fs = e.store.fs
    fs.pipe_file(e.store.data_path(f"t-frames/data/g0/{key}.{dead}/detections.parquet"), b"half an upload")
    stale = LeaseRecord(holder=dead, host="elsewhere", pid=4242, expires=1.0, ttl_s=60, taken="2026-01-01T00:00:00+00:00")
    fs.pipe_file(e.store.lease_path("t-frames", "g0", key), stale.body())
    report = api.build(e, ["t-frames"])
    assert report.ok()
    m = e.store.manifest("t-frames", "g0", key)
    assert m is not None and m.builder.attempt != dead
    left = [p.rsplit("/", 1)[-1] for p in fs.ls(f"{bucket}/store/t-frames/data/g0", refresh=True)]
    assert left == [m.data.rsplit("/", 1)[-1]]  # the dead attempt's upload was swept
    assert not fs.exists(e.store.lease_path("t-frames", "g0", key))  # released after the build


def test_a_protocol_without_conditional_create_is_refused_for_publishing(tmp_path: Path) -> None:
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    from artifacts.store import backend_for

    backend = backend_for(DirFileSystem(path=str(tmp_path), fs=LocalFileSystem()), "dir://store")
    with pytest.raises(StoreError, match="store 'dir://store': protocol dir has no conditional create known to this version"):
        backend.check_writable()


def test_an_unknown_protocol_is_a_one_line_error(ws: Ws) -> None:
    ws.set_top(store="nosuchfs://bucket/store")
    r = ws.cli("status")
    assert r.returncode == 1
    assert r.stderr.strip() == "error: store 'nosuchfs://bucket/store': cannot be opened (Protocol not known: nosuchfs); use a local path or an s3:// or gs:// URL"

