"""Build scenarios: order, skipping, isolation, retries, parallel workers, dry runs."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import zarr
from conftest import Ws

from artifacts import api
from artifacts.build import TaskEvent
from artifacts.keys import hash_file
from artifacts.plan import State


def built(report: api.BuildReport) -> set[tuple[str, str]]:
    assert report.result is not None
    return {tid for tid, ev in report.result.events.items() if ev.kind == "built"}


def test_builds_upstream_in_dependency_order_and_writes_real_files(ws: Ws) -> None:
    order: list[tuple[str, str]] = []
    report = api.build(ws.engine(), ["t-summary"], on_event=lambda ev: order.append(ev.task.id) if ev.kind == "built" else None)
    assert report.ok()
    for g in ("g0", "g1", "g2"):
        assert order.index(("t-frames", g)) < order.index(("t-tracks", g)) < order.index(("t-summary", g))
    e = ws.engine()
    plan = e.plan_keys(["t-summary"])
    m = e.store.manifest("t-summary", "g1", plan.key("t-summary", "g1") or "")
    assert m is not None and m.recipe.upstream == {"t-tracks": plan.key("t-tracks", "g1")}
    data = ws.root / "store" / m.data
    arr = zarr.open_array(str(data / "hist.zarr"), mode="r")
    assert arr.metadata.zarr_format == 3 and arr.shape == (7,) and float(np.asarray(arr[:]).sum()) > 0
    for f in m.outputs:  # the manifest's digests are the files' digests
        assert hash_file(data / f.path) == f.digest and (data / f.path).stat().st_size == f.size
    tm = e.store.manifest("t-tracks", "g1", plan.key("t-tracks", "g1") or "")
    assert tm is not None
    assert pq.read_table(ws.root / "store" / tm.data / "tracks.parquet").num_rows > 0
    assert tm.builder.versions["pyarrow"] and tm.timings.total_s >= tm.timings.build_s > 0


def test_second_build_is_a_no_op(ws: Ws) -> None:
    api.build(ws.engine(), ["t-summary"])
    again = api.build(ws.engine(), ["t-summary"])
    assert again.tasks == [] and again.result is None and again.ok()


def test_tracker_change_rebuilds_only_track_dependent_layers(ws: Ws) -> None:
    api.build(ws.engine(), ["t-summary"])
    report = api.build(ws.engine(), ["t-summary"], collection="staging")
    assert report.ok()
    assert {layer for layer, _ in built(report)} == {"t-tracks", "t-summary"}
    assert len(built(report)) == 6


def test_failing_game_is_isolated_and_its_dependents_skipped(ws: Ws) -> None:
    ws.add_game("bad", video=b"FAIL: truncated")
    report = api.build(ws.engine(), ["t-tracks"])
    assert not report.ok()
    assert report.result is not None
    kinds = {tid: ev.kind for tid, ev in report.result.events.items()}
    assert kinds[("t-frames", "bad")] == "failed"
    assert kinds[("t-tracks", "bad")] == "skipped"
    assert all(kinds[(l, g)] == "built" for l in ("t-frames", "t-tracks") for g in ("g0", "g1", "g2"))
    assert report.result.events[("t-frames", "bad")].attempt == 1  # permanent: not retried


def test_transient_failures_are_retried_a_bounded_number_of_times(ws: Ws) -> None:
    ws.add_game("flaky", video=b"TRANSIENT 3")
    events: list[TaskEvent] = []
    report = api.build(ws.engine(), ["t-frames"], games=["flaky"], retries=2, on_event=events.append)
    assert report.ok()
    assert [ev.kind for ev in events] == ["started", "retry", "started", "retry", "started", "built"]


def test_transient_failures_give_up_after_retries(ws: Ws) -> None:
    ws.add_game("flaky", video=b"TRANSIENT 9")
    report = api.build(ws.engine(), ["t-frames"], games=["flaky"], retries=1)
    assert not report.ok()
    assert report.result is not None
    ev = report.result.events[("t-frames", "flaky")]
    assert ev.kind == "failed" and ev.attempt == 2
    rec = ws.engine().store.failure("t-frames", "flaky", ev.task.key or "")
    assert rec is not None and rec.transient and rec.attempts == 2 and "busy on attempt 2" in rec.message


def test_failure_record_is_cleared_by_a_later_success_of_the_same_key(ws: Ws) -> None:
    ws.add_game("flaky", video=b"TRANSIENT 2")
    assert not api.build(ws.engine(), ["t-frames"], games=["flaky"], retries=0).ok()
    assert api.status(ws.engine(), ["t-frames"], games=["flaky"]).entries[0].state is State.FAILED
    report = api.build(ws.engine(), ["t-frames"], games=["flaky"], retries=0)
    assert report.ok()
    assert list((ws.root / "store" / "t-frames" / "failures").iterdir()) == []


def test_parallel_workers_give_the_same_keys_and_outputs(make_ws) -> None:  # type: ignore[no-untyped-def]
    a, b = make_ws("serial", games=4), make_ws("parallel", games=4)
    ra = api.build(a.engine(), ["t-summary"], jobs=1)
    rb = api.build(b.engine(), ["t-summary"], jobs=2)
    assert ra.ok() and rb.ok()
    ea, eb = a.engine(), b.engine()
    pa_, pb_ = ea.plan_keys(["t-summary"]), eb.plan_keys(["t-summary"])
    for layer in ("t-frames", "t-tracks", "t-summary"):
        for g in ("g0", "g1", "g2", "g3"):
            ka, kb = pa_.key(layer, g), pb_.key(layer, g)
            assert ka == kb
            ma, mb = ea.store.manifest(layer, g, ka or ""), eb.store.manifest(layer, g, kb or "")
            assert ma is not None and mb is not None
            assert [(o.path, o.digest) for o in ma.outputs] == [(o.path, o.digest) for o in mb.outputs]
            if layer == "t-summary":
                assert mb.builder.pid != ma.builder.pid  # really ran in a worker process


def test_dry_run_lists_tasks_with_reasons_and_builds_nothing(ws: Ws) -> None:
    api.build(ws.engine(), ["t-tracks"])
    report = api.build(ws.engine(), ["t-summary"], collection="staging", dry_run=True)
    reasons = {(t.layer, t.game): t.reason for t in report.tasks}
    assert reasons[("t-tracks", "g0")] == "STALE: tracker trk-v1 -> trk-v2"
    assert reasons[("t-summary", "g0")] == "MISSING"
    assert ("t-frames", "g0") not in reasons
    assert report.result is None and not report.ok()
    assert api.status(ws.engine(), ["t-summary"], collection="staging").counts()["t-summary"]["MISSING"] == 3


def test_changed_model_weights_under_unchanged_version_fail_the_build(ws: Ws) -> None:
    ws.weights("det-v1", b"silently swapped" * 8)  # models.yaml still records the old digest
    report = api.build(ws.engine(), ["t-frames"], games=["g0"])
    assert not report.ok()
    assert report.result is not None
    msg = report.result.events[("t-frames", "g0")].message or ""
    assert "model detector det-v1" in msg and "weights digest is xxh3-128:" in msg and "register the changed one as a new version" in msg


def test_manifest_is_plain_json_with_recipe(ws: Ws) -> None:
    api.build(ws.engine(), ["t-frames"], games=["g0"])
    [path] = (ws.root / "store" / "t-frames" / "manifests").glob("g0.*.json")
    doc = json.loads(path.read_text())
    assert doc["recipe"]["layer"] == "t-frames" and doc["key"] == path.name.split(".")[1]
    assert {"host", "user", "pid", "attempt", "versions"} <= set(doc["builder"])
    assert api.status(ws.engine(), ["t-frames"], games=["g0"]).entries[0].state is State.FRESH
