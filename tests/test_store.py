"""The store's commit protocol: staging, exclusive publish, crash leftovers, listing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, TESTS, Ws

from artifacts import api
from artifacts.errors import StoreError
from artifacts.keys import Recipe
from artifacts.plan import State
from artifacts.store import Builder, Manifest, Store, Timings, new_attempt_id

RECIPE = Recipe(layer="l", generator_version="1")
KEY = RECIPE.key()


def manifest(store: Store, staging_dir: str) -> Manifest:
    return Manifest(
        layer="l", game="g", key=KEY, recipe=RECIPE, data=staging_dir, outputs=[],
        timings=Timings(started="t", finished="t", build_s=0, total_s=0),
        builder=Builder(host="h", user="u", pid=1, attempt="a", versions={}),
    )


def test_publish_is_exclusive_first_writer_wins(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s"))
    store.ensure()
    results = []
    for content in (b"first", b"second"):
        with store.staging("l", "g", KEY, new_attempt_id()) as st:
            (st.dir / "out.bin").write_bytes(content)
            results.append(store.commit(st, manifest(store, store.data_dir_for(st))))
    assert results == [True, False]
    m = store.manifest("l", "g", KEY)
    assert m is not None and (Path(store.data_path(m.data)) / "out.bin").read_bytes() == b"first"
    # the loser's files are gone, nothing is left in staging
    assert len(list((tmp_path / "s" / "l" / "data" / "g").iterdir())) == 1
    assert list((tmp_path / "s" / ".staging").iterdir()) == []


def test_uncommitted_attempt_is_invisible(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s"))
    store.ensure()
    with pytest.raises(RuntimeError), store.staging("l", "g", KEY, new_attempt_id()) as st:
        (st.dir / "out.bin").write_bytes(b"half")
        raise RuntimeError("builder crashed before commit")
    assert store.list_layer("l").committed == {}
    assert list((tmp_path / "s" / ".staging").iterdir()) == []


def test_corrupt_manifest_is_an_error_naming_it(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s"))
    p = Path(store.manifest_path("l", "g", KEY))
    p.parent.mkdir(parents=True)
    p.write_text("{not json")
    with pytest.raises(StoreError, match=f"manifest of l/g '{KEY}': is corrupt"):
        store.manifest("l", "g", KEY)


def test_unknown_store_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "STORE.json").write_text('{"format": 99}')
    with pytest.raises(StoreError, match="has format 99"):
        Store(str(tmp_path / "s")).ensure()


def test_generic_fsspec_backend_round_trip(ws: Ws) -> None:
    # The store works through any fsspec filesystem; memory:// exercises the non-local path.
    cfg = ws.root / "artifacts.toml"
    url = f"memory://{ws.root.parent.name}/store"  # unique per test: the memory filesystem is shared
    cfg.write_text(cfg.read_text().replace('store = "store"', f'store = "{url}"'))
    e = ws.engine()
    assert not e.store.local
    assert api.build(e, ["t-tracks"], games=["g0"]).ok()
    assert api.status(e, ["t-tracks"], games=["g0"]).all_fresh()
    plan = e.plan_keys(["t-tracks"], games=["g0"])
    m = e.store.manifest("t-tracks", "g0", plan.key("t-tracks", "g0") or "")
    assert m is not None and e.store.fs.exists(e.store.data_path(m.data) + "/tracks.parquet")


def test_kill_9_mid_build_then_rerun_resumes(make_ws) -> None:  # type: ignore[no-untyped-def]
    ws: Ws = make_ws("crash", games=0)
    for i in range(6):
        ws.add_game(f"s{i}", video=b"SLOW 0.6 " + bytes([i]) * 40)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO)]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "-w", str(ws.root), "build", "t-slow", "--jobs", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    manifests = ws.root / "store" / "t-slow" / "manifests"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(manifests.glob("*.json"))) < 2:
        time.sleep(0.05)
    time.sleep(0.3)  # now mid-way through the third game: its output is half written
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = api.status(ws.engine(), ["t-slow"])
    fresh = [e.game for e in done.entries if e.state is State.FRESH]
    assert 2 <= len(fresh) < 6, fresh
    assert {e.state for e in done.entries} <= {State.FRESH, State.MISSING}
    leftovers = list((ws.root / "store" / ".staging").iterdir())
    assert leftovers, "the killed attempt should have left a staging directory behind"
    # rerun: resumes with only the games not yet built, and sweeps the dead attempt
    r = ws.cli("build", "t-slow", "--jobs", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{6 - len(fresh)} tasks to run" in r.stdout
    assert api.status(ws.engine(), ["t-slow"]).all_fresh()
    assert list((ws.root / "store" / ".staging").iterdir()) == []
    for e in api.status(ws.engine(), ["t-slow"]).entries:
        m = ws.engine().store.manifest("t-slow", e.game, e.key or "")
        assert m is not None and m.outputs[0].size == len(b"SLOW 0.6 ") + 40
