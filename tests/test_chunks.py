"""Chunked tasks: one artifact per (layer, game) built from chunks that commit, resume and run
in parallel on their own (the engine's part of issue 11), on real worker processes and stores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from chunked_layers import CHUNKED
from conftest import REPO, TESTS, Ws
from layers_for_tests import ALL

from artifacts import api
from artifacts.build import TaskEvent
from artifacts.build.execute import TaskExecutor
from artifacts.build.task import TaskSpec
from artifacts.operations import collect, delete
from artifacts.plan import State
from artifacts.store import chunks_dir, committed_chunks, read_plan, verify_store

LAYER = "t-chunked"


@pytest.fixture
def cws(make_ws) -> Ws:  # type: ignore[no-untyped-def]
    """A workspace with the chunked test layer and no games."""
    ws: Ws = make_ws("chunked", games=0)
    with_chunked(ws)
    return ws


def with_chunked(ws: Ws) -> None:
    cfg = ws.root / "artifacts.toml"
    cfg.write_text(cfg.read_text().replace(json.dumps(ALL), json.dumps(ALL + CHUNKED)))


def values(ws: Ws, game: str) -> list[dict[str, object]]:
    reader = api.artifact(ws.engine(), LAYER, game)
    return pq.read_table(reader.location("values.parquet")).to_pylist()


def computed(ws: Ws) -> list[tuple[str, int, int]]:
    log = ws.root / "sources" / "chunks.log"
    if not log.exists():
        return []
    return [(g, int(i), int(pid)) for g, i, pid in (line.split() for line in log.read_text().splitlines())]


def test_chunked_build_equals_unchunked_whatever_the_chunk_size(cws: Ws) -> None:
    cws.add_game("g0", video=bytes(range(256)) * 2, cams=2)  # 512 bytes a camera: 8 chunks each at 64
    report = api.build(cws.engine(), [LAYER])
    assert report.ok()
    small = values(cws, "g0")
    e = cws.engine()
    manifest = e.store.manifest(LAYER, "g0", report.plan.key(LAYER, "g0") or "")
    assert manifest is not None and manifest.chunks == 16
    assert not (Path(e.store.root) / chunks_dir(LAYER, "g0", manifest.key)).exists()  # spent chunks are removed
    # the chunk size is not part of the key: changing it leaves the artifact FRESH ...
    cws.set_config("\n[chunk_size]\nt-chunked = 100000\n")
    assert api.status(cws.engine(), [LAYER]).all_fresh()
    # ... and a build with one chunk per camera (forced by dropping the artifact) gives the same table
    e = cws.engine()
    e.store.remove_artifact(manifest)
    again = api.build(e, [LAYER])
    assert again.ok()
    rebuilt = e.store.manifest(LAYER, "g0", manifest.key)
    assert rebuilt is not None and rebuilt.chunks == 2
    assert values(cws, "g0") == small
    expected = []
    for cam in ("cam0", "cam1"):  # the running sum per camera, carried across chunks
        total = 0
        for offset, b in enumerate(bytes(range(256)) * 2):
            total += b
            expected.append({"source": cam, "offset": offset, "value": total})
    assert small == expected


def test_progress_events_count_chunks_and_units(cws: Ws) -> None:
    cws.add_game("g0", video=bytes(300))
    events: list[TaskEvent] = []
    report = api.build(cws.engine(), [LAYER], on_event=events.append)
    assert report.ok()
    progress = [ev.progress for ev in events if ev.kind == "progress" and ev.progress is not None]
    assert [p.chunks_done for p in progress] == [0, 1, 2, 3, 4, 5]  # the plan, then each of 5 chunks
    assert progress[-1].units_done == progress[-1].units_total == 300 and progress[-1].unit == "bytes"
    assert progress[-1].rate is not None and progress[-1].rate > 0 and progress[-1].eta_s == 0
    assert "5/5 chunks, 300/300 bytes" in progress[-1].text()
    assert [ev.kind for ev in events if ev.kind != "progress"] == ["started", "built"]


def test_build_json_prints_events_with_progress(cws: Ws) -> None:
    cws.add_game("g0", video=bytes(130))
    r = cws.cli("build", LAYER, "--jobs", "1", "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    kinds = [d["event"] for d in lines]
    assert kinds[:2] == ["plan", "started"] and kinds[-1] == "summary"
    assert lines[0]["tasks"][0]["layer"] == LAYER and lines[0]["tasks"][0]["reason"] == "MISSING"
    progress = [d["progress"] for d in lines if d["event"] == "progress"]
    assert progress[-1]["chunks_done"] == progress[-1]["chunks_total"] == 3
    assert lines[-1]["built"] == 1 and lines[-1]["failed"] == 0


def test_a_failing_chunk_fails_its_task_and_names_the_chunk(cws: Ws) -> None:
    cws.add_game("g0", video=bytes(100) + b"CHUNKFAIL" + bytes(100))
    cws.add_game("g1", video=bytes(200))
    report = api.build(cws.engine(), [LAYER])
    assert report.result is not None and not report.ok()
    ev = report.result.events[(LAYER, "g0")]
    assert ev.kind == "failed"
    assert ev.message is not None and ev.message.startswith("chunk 1 (cam0 bytes 64-128): ValueError: cannot decode cam0")
    assert report.result.events[(LAYER, "g1")].kind == "built"  # the other game is not affected
    st = api.status(cws.engine(), [LAYER])
    failed = next(e for e in st.entries if e.game == "g0")
    assert failed.state is State.FAILED and "chunk 1" in (failed.note or "")


def test_a_transient_chunk_failure_retries_that_chunk_only(cws: Ws) -> None:
    cws.add_game("g0", video=bytes(130) + b"CHUNKFLAKY 2 " + bytes(100))
    report = api.build(cws.engine(), [LAYER], retries=2)
    assert report.ok()
    counts = Counter(i for _g, i, _pid in computed(cws))
    assert counts[2] == 2 and all(n == 1 for i, n in counts.items() if i != 2)  # chunk 2 holds the flaky bytes


def test_a_corrupt_chunk_is_found_at_merge_and_computed_again(cws: Ws) -> None:
    cws.add_game("g0", video=bytes(range(200)))
    e = cws.engine()
    plan = e.plan_keys([LAYER])
    key = plan.key(LAYER, "g0")
    assert key is not None
    e.store.ensure()
    worker = TaskExecutor(e)
    recipe = plan.recipe(LAYER, "g0").model_dump_json()
    planned = worker.run(TaskSpec(LAYER, "g0", key, recipe, "plan"))
    assert planned.ok and planned.plan is not None and planned.chunks_done == ()
    n = len(json.loads(planned.plan)["chunks"])
    for i in range(n):
        assert worker.run(TaskSpec(LAYER, "g0", key, recipe, "chunk", i)).published
    assert committed_chunks(e.store, LAYER, "g0", key) == set(range(n))
    assert read_plan(e.store, LAYER, "g0", key) == planned.plan.encode()
    # flip a byte of chunk 2's part
    part = next((Path(e.store.root) / chunks_dir(LAYER, "g0", key)).glob("000002.*/part.parquet"))
    raw = bytearray(part.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    part.write_bytes(bytes(raw))
    merged = worker.run(TaskSpec(LAYER, "g0", key, recipe, "merge"))
    assert not merged.ok and merged.transient and merged.redo == (2,)
    assert merged.message is not None and "chunk 2 of t-chunked/g0" in merged.message
    assert committed_chunks(e.store, LAYER, "g0", key) == set(range(n)) - {2}
    # a build computes chunk 2 again (and only it), then merges
    before = len(computed(cws))
    assert api.build(cws.engine(), [LAYER]).ok()
    assert [i for _g, i, _pid in computed(cws)[before:]] == [2]
    assert verify_store(cws.engine().store, [LAYER]).ok()


def _builder(ws: Ws, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO)]))
    out = open(ws.root / f"builder-{time.monotonic_ns()}.out", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "cli.main", "-w", str(ws.root), "build", LAYER, *args],
                            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _alive(pids: set[int]) -> set[int]:
    """The processes of ``pids`` that still run (a zombie waiting to be reaped does not)."""
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state != "Z":
            out.add(pid)
    return out


@pytest.mark.parametrize("where", ["local", "s3"])
def test_kill_9_mid_task_then_rerun_recomputes_at_most_one_chunk_per_worker(cws: Ws, where: str, request: pytest.FixtureRequest) -> None:
    cws.add_game("long", video=bytes(range(64)) * 24)  # 24 chunks
    cws.set_config("\n[params.t-chunked]\ndelay_s = 0.25\ncarry = false\n")
    cws.set_top(lease_ttl_s=2.0)
    if where == "s3":
        cws.use_s3(request.getfixturevalue("s3"), request.getfixturevalue("bucket"))
    key = cws.engine().plan_keys([LAYER]).key(LAYER, "long")
    assert key is not None
    proc = _builder(cws, "--jobs", "2")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(committed_chunks(cws.engine().store, LAYER, "long", key)) < 10:
            assert proc.poll() is None, (proc.args, proc.returncode)
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the build and both its workers, in the middle of chunks
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    workers = {pid for _g, _i, pid in computed(cws)}
    time.sleep(0.2)
    assert _alive(workers) == set()  # no orphan worker keeps computing
    done_before = committed_chunks(cws.engine().store, LAYER, "long", key)
    assert 10 <= len(done_before) < 24
    started_before = len(computed(cws))
    rerun = _builder(cws, "--jobs", "2")
    assert rerun.wait(timeout=180) == 0
    assert api.status(cws.engine(), [LAYER]).all_fresh()
    counts = Counter(i for _g, i, _pid in computed(cws))
    assert set(counts) == set(range(24))
    again = [i for i, n in counts.items() if n > 1]
    assert len(again) <= 2, (again, started_before)  # at most the chunk each of the 2 workers was on
    assert not (set(again) & done_before)  # a committed chunk is never computed again
    assert [i for _g, i, _pid in computed(cws)[started_before:] if i in done_before] == []
    assert verify_store(cws.engine().store, [LAYER]).ok()


def test_chunks_of_one_game_run_on_several_workers(cws: Ws) -> None:
    cws.add_game("one", video=bytes(range(64)) * 8)
    cws.set_config("\n[params.t-chunked]\ndelay_s = 0.2\ncarry = false\n")
    report = api.build(cws.engine(), [LAYER], jobs=2)
    assert report.ok()
    pids = {pid for _g, _i, pid in computed(cws)}
    assert len(pids) == 2 and os.getpid() not in pids  # both worker processes computed chunks of the one game


def test_two_builders_never_compute_one_chunk_twice(cws: Ws) -> None:
    cws.add_game("shared", video=bytes(range(64)) * 12)
    cws.set_config("\n[params.t-chunked]\ndelay_s = 0.15\ncarry = false\n")
    a = _builder(cws, "--jobs", "1")
    b = _builder(cws, "--jobs", "1")
    assert a.wait(timeout=180) == 0 and b.wait(timeout=180) == 0
    counts = Counter(i for _g, i, _pid in computed(cws))
    assert counts == dict.fromkeys(range(12), 1)
    assert len({pid for _g, _i, pid in computed(cws)}) == 2  # and both shared the work
    assert api.status(cws.engine(), [LAYER]).all_fresh()


def test_gc_keeps_chunks_in_progress_and_sweeps_those_no_longer_wanted(cws: Ws) -> None:
    cws.add_game("g0", video=bytes(100) + b"CHUNKFAIL" + bytes(100))
    assert not api.build(cws.engine(), [LAYER]).ok()  # chunk 0 committed, chunk 1 failed
    e = cws.engine()
    key = e.plan_keys([LAYER]).key(LAYER, "g0")
    assert key is not None and committed_chunks(e.store, LAYER, "g0", key) == {0}
    # the key is wanted (production): its chunks are work in progress, kept
    report = collect(e, min_age_s=0)
    assert [it for it in report.items if it.kind == "chunks"] == []
    # another recipe: the old key is no longer wanted, its chunks go
    cws.set_config("\n[params.t-chunked]\ncarry = false\n")
    e = cws.engine()
    report = collect(e, min_age_s=0)
    chunks = [it for it in report.items if it.kind == "chunks"]
    assert [(it.layer, it.game, it.key) for it in chunks] == [(LAYER, "g0", key)] and chunks[0].bytes > 0
    delete(e, report)
    assert not (Path(e.store.root) / chunks_dir(LAYER, "g0", key)).exists()


def test_an_upstream_file_is_checked_once_for_all_the_chunks_of_a_task(cws: Ws, monkeypatch: pytest.MonkeyPatch) -> None:
    from chunked_layers import CHUNKED_READER

    from artifacts.layers import context

    cfg = cws.root / "artifacts.toml"
    cfg.write_text(cfg.read_text().replace(json.dumps(ALL + CHUNKED), json.dumps(ALL + CHUNKED + CHUNKED_READER)))
    cws.add_game("g0", video=bytes(range(50)))
    assert api.build(cws.engine(), ["t-frames"]).ok()
    checked: list[str] = []
    real = context.check_output
    monkeypatch.setattr(context, "check_output", lambda store, record, out: (checked.append(out.path), real(store, record, out))[1])
    assert api.build(cws.engine(), ["t-chunked-reader"]).ok()  # --jobs 1: every step in this process
    assert checked.count("detections.parquet") == 1  # four chunks read it, one hash
    assert values_of(cws, "g0") == 4 * 50


def values_of(ws: Ws, game: str) -> int:
    reader = api.artifact(ws.engine(), "t-chunked-reader", game)
    with reader.open("rows.json") as f:
        return int(json.load(f))
