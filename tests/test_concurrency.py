"""Two real builder processes on one store (local, and S3 on a moto server), one killed mid-build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, TESTS, Ws

from artifacts import api
from artifacts.store import Store, verify_store

GAMES = 8


def builder(ws: Ws, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO)]))
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "-w", str(ws.root), "build", "t-slow", "--jobs", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def builds(ws: Ws) -> list[tuple[str, int]]:
    log = ws.root / "sources" / "builds.log"
    if not log.exists():
        return []
    return [(g, int(pid)) for g, pid in (line.split() for line in log.read_text().splitlines())]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_two_builders_share_the_work_and_survive_one_killed_mid_build(make_ws, where: str, request: pytest.FixtureRequest) -> None:  # type: ignore[no-untyped-def]
    ws: Ws = make_ws(f"two-{where}", games=0)
    for i in range(GAMES):
        ws.add_game(f"s{i}", video=b"SLOW 0.5 " + bytes([i]) * 40)
    ws.set_top(lease_ttl_s=1.5)
    if where == "s3":
        ws.use_s3(request.getfixturevalue("s3"), request.getfixturevalue("bucket"))
    a = builder(ws, ws.root / "a.out")
    b = builder(ws, ws.root / "b.out")
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and sum(1 for _g, pid in builds(ws) if pid == a.pid) < 2:
            assert a.poll() is None and b.poll() is None, "a builder ended before A started its second key"
            time.sleep(0.02)
        os.killpg(a.pid, signal.SIGKILL)  # A is now sleeping in the middle of its second key
        a.wait()
        killed_game = [g for g, pid in builds(ws) if pid == a.pid][-1]
        assert b.wait(timeout=120) == 0, (ws.root / "b.out").read_text()
    finally:
        for p in (a, b):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    e = ws.engine()
    assert api.status(e, ["t-slow"]).all_fresh()
    # each key was computed once, except the killed one's: by A (killed), then by B
    counts = Counter(g for g, _pid in builds(ws))
    assert counts == {f"s{i}": 2 if f"s{i}" == killed_game else 1 for i in range(GAMES)}, builds(ws)
    pids = {pid for _g, pid in builds(ws)}
    assert pids == {a.pid, b.pid}  # both did work
    # nothing corrupt, one data directory per key, nothing left staged or leased
    report = verify_store(e.store, ["t-slow"])
    assert report.ok() and report.artifacts == GAMES, report.problems
    store: Store = e.store
    for i in range(GAMES):
        assert len(store.backend.names(store.data_path(f"t-slow/data/s{i}"))) == 1
    assert [n for n in store.backend.names(store.data_path("t-slow/leases")) if n.endswith(".json")] == []
    killed_attempts = [d for d in os.listdir(store.staging_base()) if d.split("-")[-2] == str(a.pid)] if store.staging_base().exists() else []
    assert killed_attempts == []  # the killed attempt's staging directory was swept
    for i in range(GAMES):
        m = store.manifest("t-slow", f"s{i}", api.status(e, ["t-slow"], games=[f"s{i}"]).entries[0].key or "")
        assert m is not None and m.outputs[0].size == len(b"SLOW 0.5 ") + 40
