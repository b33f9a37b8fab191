"""gc: roots from collections, pins and trained_on; what it deletes; dry run by default."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from conftest import Ws

from artifacts import api
from artifacts.operations import collect, delete
from artifacts.plan import Engine
from artifacts.store import FailureRecord, LeaseRecord, Store, host_id, pin, verify_store


def keys(e: Engine, layer: str) -> dict[str, str]:
    return dict(e.plan_keys([layer]).layers[layer].keys)


def stored_files(store: Store) -> list[str]:
    return sorted(store.fs.find(store.root))


def dead_attempt() -> str:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return f"{host_id()}-{int(done.stdout)}-0123456789ab"


@pytest.mark.parametrize("where", ["local", "s3"])
def test_gc_keeps_what_roots_reach_and_deletes_the_rest(make_ws, where: str, request: pytest.FixtureRequest) -> None:  # type: ignore[no-untyped-def]
    ws: Ws = make_ws(f"gc-{where}", games=2)
    if where == "s3":
        ws.use_s3(request.getfixturevalue("s3"), request.getfixturevalue("bucket"))
    e = ws.engine()
    assert api.build(e, ["t-tracks"]).ok()
    old_frames, old_tracks = keys(e, "t-frames"), keys(e, "t-tracks")
    old_bytes = {g: sum(o.size for o in (e.store.manifest("t-frames", g, k) or pytest.fail("gone")).outputs) for g, k in old_frames.items()}
    # the frame parameters change: every old artifact falls out of both collections
    ws.set_config("\n[params.t-frames]\nscale = 2.0\n")
    e = ws.engine()
    assert api.build(e, ["t-tracks"]).ok()
    new_tracks = keys(e, "t-tracks")
    store = e.store
    # roots besides collections: a pin, and a model trained on an old artifact
    pin(store, "t-tracks", "g0", old_tracks["g0"], note="paper figure 3")
    models = (ws.root / "models.yaml").read_text()
    models = models.replace("        weights: weights/trk-v2.bin\n", f"        weights: weights/trk-v2.bin\n        trained_on: [{{layer: t-frames, game: g1, key: {old_frames['g1']}}}]\n")
    (ws.root / "models.yaml").write_text(models)
    # leftovers: a failure record of an old key, a dead builder's upload, a live one's, a dead lease
    store.record_failure(FailureRecord(layer="t-tracks", game="g1", key=old_tracks["g1"], error="E", message="m", transient=False, attempts=1, at="t", host="h", detail=""))
    dead = f"t-frames/data/g1/{'f' * 32}.{dead_attempt()}"
    young = f"t-frames/data/g1/{'e' * 32}.{host_id()}-1-0123456789ab"  # pid 1 is alive: a live attempt
    for rel in (dead, young):
        store.fs.makedirs(store.data_path(rel), exist_ok=True)
        store.fs.pipe_file(store.data_path(rel) + "/part.bin", b"x" * 100)
    lease = store.lease_path("t-frames", "g0", "d" * 32)
    store.fs.makedirs(lease.rsplit("/", 1)[0], exist_ok=True)
    store.fs.pipe_file(lease, LeaseRecord(holder="elsewhere-1-0123456789ab", host="elsewhere", pid=1, expires=time.time() - 5, ttl_s=60, taken="t").body())

    e = ws.engine()
    before = stored_files(store)
    report = collect(e)
    assert stored_files(store) == before  # collecting changes nothing
    kept = {(l, g, k): sorted(r) for (l, g, k), r in report.kept.items()}
    assert kept[("t-tracks", "g0", new_tracks["g0"])] == ["collection production"]
    assert kept[("t-tracks", "g0", old_tracks["g0"])] == ["pin by " + store.manifest("t-tracks", "g0", old_tracks["g0"]).builder.user + " (paper figure 3)"]  # type: ignore[union-attr]
    assert kept[("t-frames", "g0", old_frames["g0"])] == kept[("t-tracks", "g0", old_tracks["g0"])]  # upstream of a pin
    assert kept[("t-frames", "g1", old_frames["g1"])] == ["trained_on of tracker trk-v2"]
    assert sorted(kept[("t-frames", "g1", keys(e, "t-frames")["g1"])]) == ["collection production", "collection staging"]
    items = sorted((it.kind, it.layer, it.game, it.key) for it in report.items)
    assert items == sorted([
        ("artifact", "t-tracks", "g1", old_tracks["g1"]),
        ("failure", "t-tracks", "g1", old_tracks["g1"]),
        ("orphan", "t-frames", "g1", "f" * 32),
        ("lease", "t-frames", "g0", "d" * 32),
    ])
    layers = report.layers()
    assert layers["t-frames"].orphan_bytes == 100 and layers["t-frames"].artifacts == 0
    assert layers["t-tracks"].artifacts == 1 and layers["t-tracks"].artifact_bytes > 0
    assert layers["t-frames"].kept == 4 and old_bytes["g0"] <= layers["t-frames"].kept_bytes

    assert delete(e, report) == 4
    after = collect(ws.engine())
    assert after.items == []
    assert store.manifest("t-tracks", "g1", old_tracks["g1"]) is None
    assert store.manifest("t-tracks", "g0", old_tracks["g0"]) is not None
    assert store.fs.exists(store.data_path(young) + "/part.bin")  # too young, and its builder is alive
    assert api.status(ws.engine(), ["t-tracks"]).all_fresh()
    assert verify_store(store).ok()


def test_gc_cli_is_a_dry_run_unless_told(ws: Ws) -> None:
    assert api.build(ws.engine(), ["t-frames"]).ok()
    e = ws.engine()
    old = keys(e, "t-frames")
    size = sum(o.size for g, k in old.items() for o in (e.store.manifest("t-frames", g, k) or pytest.fail("gone")).outputs)
    ws.set_config("\n[params.t-frames]\nstride = 2\n")
    r = ws.cli("gc")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dry run: nothing deleted" in r.stdout and "would delete 3 item(s)" in r.stdout
    assert all(e.store.has_manifest("t-frames", g, k) for g, k in old.items())
    doc = json.loads(ws.cli("gc", "--json").stdout)
    assert doc["deleted"] is False and doc["layers"]["t-frames"]["artifacts"] == 3
    assert doc["layers"]["t-frames"]["artifact_bytes"] == size == doc["bytes"]
    r = ws.cli("gc", "--delete")
    assert r.returncode == 0 and "deleted 3 item(s)" in r.stdout
    assert not any(e.store.has_manifest("t-frames", g, k) for g, k in old.items())
    assert not (ws.root / "store" / "t-frames" / "data" / "g0").exists() or list((ws.root / "store" / "t-frames" / "data" / "g0").iterdir()) == []


def test_pin_cli_pins_the_expected_key_and_refuses_what_is_not_stored(ws: Ws) -> None:
    assert api.build(ws.engine(), ["t-frames"], games=["g0"]).ok()
    r = ws.cli("pin", "t-frames", "g0", "--note", "baseline")
    key = keys(ws.engine(), "t-frames")["g0"]
    assert r.returncode == 0 and f"pinned t-frames g0 {key} (baseline)" in r.stdout
    assert f"t-frames g0 {key}  by " in ws.cli("pins").stdout
    r = ws.cli("pin", "t-frames", "g1")
    assert r.returncode == 2
    assert f"error: artifact t-frames/g1 '{keys(ws.engine(), 't-frames')['g1']}': is not in the store; build it (or pull it) before pinning it" in r.stderr
    assert ws.cli("unpin", "t-frames", "g0").returncode == 0
    assert ws.cli("pins").stdout.strip() == "no pins"
