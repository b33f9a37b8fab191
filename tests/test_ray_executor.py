"""The Ray executor on a real local Ray cluster (2 CPUs, started once for the module).

Every scenario is run through both executors and compared: keys, output digests, the events
of each task (retries, failures, skipped dependents), and the command's output and exit code.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import PRODUCTION, Ws
from layers_for_tests import ALL, RESOURCE_PROBES

from artifacts import api
from artifacts.build import TaskEvent
from artifacts.errors import ExecutorError
from artifacts.keys import hash_file
from artifacts.plan import State
from artifacts.workspace import ExecutorSettings, init_workspace

RAY = ExecutorSettings(kind="ray")
LOCAL = ExecutorSettings(kind="local")


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray cluster for the whole module; the executor finds this process connected."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


def probe_ws(root: Path, games: int = 2) -> Ws:
    """A test workspace whose registry also holds the resource probes."""
    init_workspace(root, layers=ALL + RESOURCE_PROBES, entry_points=False)
    ws = Ws(root)
    ws.write_models({"production": dict(PRODUCTION)})
    for i in range(games):
        ws.add_game(f"g{i}")
    return ws


def digests(ws: Ws, report: api.BuildReport, layers: tuple[str, ...]) -> dict[tuple[str, str], tuple[str | None, list[tuple[str, str, int]]]]:
    """(layer, game) -> (key, [(output path, digest, size)]) of what the store holds."""
    e = ws.engine()
    out = {}
    for layer in layers:
        for game in report.plan.games:
            key = report.plan.key(layer, game)
            m = e.store.manifest(layer, game, key or "")
            out[(layer, game)] = (key, [(o.path, o.digest, o.size) for o in m.outputs] if m is not None else [])
    return out


def kinds(report: api.BuildReport) -> dict[tuple[str, str], tuple[str, int, str | None]]:
    assert report.result is not None
    return {tid: (ev.kind, ev.attempt, ev.outcome.error if ev.outcome else None) for tid, ev in report.result.events.items()}


def test_same_build_through_both_executors_gives_identical_keys_and_outputs(make_ws: Callable[..., Ws], ray_address: str) -> None:
    a, b = make_ws("local", games=4), make_ws("ray", games=4)
    ra = api.build(a.engine(), ["t-summary"], jobs=2, executor=LOCAL)
    rb = api.build(b.engine(), ["t-summary"], jobs=2, executor=RAY)
    assert ra.ok() and rb.ok()
    layers = ("t-frames", "t-tracks", "t-summary")
    da, db = digests(a, ra, layers), digests(b, rb, layers)
    assert len(da) == 12 and all(key and outs for key, outs in da.values())
    assert da == db
    assert kinds(ra) == kinds(rb)
    pids = {b.engine().store.manifest(layer, g, key or "").builder.pid for (layer, g), (key, _) in db.items()}  # type: ignore[union-attr]
    assert os.getpid() not in pids  # really ran in Ray workers, not in this process


def test_failures_retries_and_skips_are_the_same_under_ray(make_ws: Callable[..., Ws], ray_address: str) -> None:
    reports, events = {}, {}
    for name, settings in (("local", LOCAL), ("ray", RAY)):
        ws = make_ws(name, games=2)
        ws.add_game("bad", video=b"FAIL: truncated")
        ws.add_game("flaky", video=b"TRANSIENT 2")
        seen: list[TaskEvent] = []
        reports[name] = api.build(ws.engine(), ["t-tracks"], jobs=2, retries=2, executor=settings, on_event=seen.append)
        events[name] = [(ev.kind, ev.attempt) for ev in seen if ev.task.game == "flaky" and ev.task.layer == "t-frames"]
        status = {(e.layer, e.game): e.state for e in api.status(ws.engine(), ["t-frames", "t-tracks"]).entries}
        assert status[("t-frames", "bad")] is State.FAILED and status[("t-tracks", "bad")] is State.MISSING
        assert all(s is State.FRESH for (_, g), s in status.items() if g != "bad")
    local, ray_ = reports["local"], reports["ray"]
    assert not local.ok() and not ray_.ok()
    assert kinds(local) == kinds(ray_)
    assert kinds(ray_)[("t-frames", "bad")] == ("failed", 1, "ValueError")
    assert kinds(ray_)[("t-tracks", "bad")] == ("skipped", 0, None)
    assert kinds(ray_)[("t-frames", "flaky")] == ("built", 2, None)
    assert events["ray"] == events["local"] == [("started", 1), ("retry", 1), ("started", 2), ("built", 2)]
    assert ray_.result is not None and ray_.result.events[("t-frames", "bad")].message == "ValueError: cannot decode cam0: bad header"


def test_a_killed_worker_is_a_transient_failure_under_both_executors(make_ws: Callable[..., Ws], ray_address: str) -> None:
    for settings in (LOCAL, RAY):
        ws = make_ws(settings.kind, games=0)
        ws.add_game("die", video=b"DIE 2")  # the first attempt kills its own worker process
        seen: list[TaskEvent] = []
        report = api.build(ws.engine(), ["t-frames"], jobs=2, executor=settings, on_event=seen.append)
        assert report.ok(), settings
        assert [ev.kind for ev in seen] == ["started", "retry", "started", "built"]
        assert seen[1].outcome is not None and seen[1].outcome.error == "WorkerDied" and seen[1].outcome.transient


def test_resource_requests_reach_ray(tmp_path: Path, ray_address: str) -> None:
    ws = probe_ws(tmp_path / "ws")
    notes: list[str] = []
    report = api.build(ws.engine(), ["t-probe", "t-probe-2cpu", "t-probe-gpu"], jobs=2, executor=RAY, on_note=notes.append)
    assert report.ok()
    e = ws.engine()

    def given(layer: str) -> dict[str, object]:
        m = e.store.manifest(layer, "g0", report.plan.key(layer, "g0") or "")
        assert m is not None
        doc: dict[str, object] = json.loads((ws.root / "store" / m.data / "given.json").read_text())
        return doc

    assert given("t-probe")["ray_resources"] == {"CPU": 1.0}
    assert given("t-probe-2cpu")["ray_resources"] == {"CPU": 2.0, "memory": 64.0 * 1024 * 1024}
    # The cluster has no GPU: the GPU request runs on a CPU, says so, and sees no GPU.
    assert given("t-probe-gpu")["ray_resources"] == {"CPU": 1.0}
    assert given("t-probe-gpu")["cuda_visible_devices"] == ""
    assert notes == ["layer t-probe-gpu asks for 1 GPU per task, but the Ray cluster has no GPU: its tasks run on CPUs"]
    assert report.result is not None and report.result.notes == notes


def test_a_request_no_node_can_meet_fails_the_build_before_any_task_starts(tmp_path: Path, ray_address: str) -> None:
    import ray

    ws = probe_ws(tmp_path / "ws")
    with pytest.raises(ExecutorError) as exc:
        api.build(ws.engine(), ["t-probe", "t-probe-huge"], jobs=2, executor=RAY)
    memory_mib = ray.nodes()[0]["Resources"]["memory"] / 1024 / 1024  # type: ignore[no-untyped-call]
    assert exc.value.line() == (
        "resources of layer t-probe-huge 'cpus=64': are more than any node of the Ray cluster has "
        f"(the largest has 2 CPUs, 0 GPUs, {memory_mib:.0f} MiB memory), so its tasks could never start; "
        "lower the layer's resources or add a bigger node to the cluster"
    )
    states = {e.state for e in api.status(ws.engine(), ["t-probe", "t-probe-huge"]).entries}
    assert states == {State.MISSING}  # nothing ran, nothing recorded as FAILED


def test_another_address_than_the_connected_cluster_is_refused(ws: Ws, ray_address: str) -> None:
    with pytest.raises(ExecutorError) as exc:
        api.build(ws.engine(), ["t-frames"], executor=ExecutorSettings(kind="ray", ray_address="10.255.255.1:6379"))
    assert exc.value.line() == (
        f"Ray address '10.255.255.1:6379': differs from the cluster this process is already connected to ({ray_address}); "
        "leave the address out, or call ray.shutdown() first"
    )


def test_cli_build_on_a_ray_cluster_prints_and_exits_like_the_local_one(tmp_path: Path, ray_address: str) -> None:
    out = {}
    for name in ("local", "ray"):
        ws = probe_ws(tmp_path / name)
        ws.add_game("bad", video=b"FAIL: truncated")
        if name == "ray":  # the executor from artifacts.toml, the address from the command line
            ws.set_config('\n[executor]\nkind = "ray"\n')
            r = ws.cli("build", "t-tracks", "t-probe", "-j", "2", "--ray-address", ray_address, timeout=180)
        else:
            r = ws.cli("build", "t-tracks", "t-probe", "-j", "1", timeout=180)
        assert r.returncode == 1, r.stderr
        out[name] = [line for line in r.stdout.splitlines() if "build finished in" not in line]
        given = json.loads(next((ws.root / "store" / "t-probe").rglob("given.json")).read_text())
        assert ("ray_resources" in given) == (name == "ray")
    assert out["ray"] == out["local"]
    assert "FAILED t-frames bad: ValueError: cannot decode cam0: bad header" in out["ray"]


def test_real_layers_give_identical_digests_through_both_executors(tmp_path: Path, ray_address: str) -> None:
    """frame-level (asks for a GPU: runs on a CPU here) and track-level on rendered video."""
    import torch

    from generators.models.crop_encoder import CropEncoder, CropEncoderConfig, CropEncoderNet
    from generators.models.detector import DetectorConfig, DetectorNet, FootpointDetector
    from generators.models.tracking.params import TrackerParams
    from generators.models.tracking.tracker import Tracker
    from generators.render.game import render_game

    # Seeded, untrained models: the test is about where the layers run, not how well.
    weights = tmp_path / "weights"
    weights.mkdir()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        det = DetectorConfig(threshold=0.005, max_detections=8)
        FootpointDetector(det, DetectorNet(det), torch.device("cpu")).save(weights / "det.safetensors")
        CropEncoder(CropEncoderConfig(), CropEncoderNet(CropEncoderConfig()), torch.device("cpu")).save(weights / "ce.safetensors")
    Tracker(TrackerParams(min_hits=1, new_track_confidence=0.0)).save(weights / "trk.safetensors")
    games = [render_game(tmp_path / "games" / f"r{i}", f"r{i}", seed=40 + i, seconds=1.0, size=(320, 192)) for i in range(2)]
    impl = {"detector": "generators.models.detector:FootpointDetector", "crop_encoder": "generators.models.crop_encoder:CropEncoder",
            "tracker": "generators.models.tracking.tracker:Tracker"}
    files = {"detector": "det", "crop_encoder": "ce", "tracker": "trk"}
    reports, spaces = {}, {}
    for name, settings in (("local", LOCAL), ("ray", RAY)):
        root = tmp_path / name
        init_workspace(root, layers=["generators.layers.frame_level.layer:FrameLevel", "generators.layers.track_level.layer:TrackLevel"], entry_points=False)
        lines = ["schema: 1", "roles:"]
        for role, f in files.items():
            path = weights / f"{f}.safetensors"
            lines += [f"  {role}:", f"    implementation: {impl[role]}", "    versions:", "      v1:", f"        weights: {path}", f"        digest: {hash_file(path)}"]
        lines += ["collections:", "  production: {detector: v1, crop_encoder: v1, tracker: v1}"]
        (root / "models.yaml").write_text("\n".join(lines) + "\n")
        spaces[name] = Ws(root)
        spaces[name].engine().catalog.add_games([g.entry() for g in games])
        notes: list[str] = []
        reports[name] = api.build(spaces[name].engine(), ["track-level"], jobs=1 if name == "local" else 2, executor=settings, on_note=notes.append)
        assert reports[name].ok(), name
        assert notes == ([] if name == "local" else ["layer frame-level asks for 1 GPU per task, but the Ray cluster has no GPU: its tasks run on CPUs"])
    layers = ("frame-level", "track-level")
    da, db = digests(spaces["local"], reports["local"], layers), digests(spaces["ray"], reports["ray"], layers)
    assert len(da) == 4 and all(key and outs for key, outs in da.values())
    assert da == db
    import pyarrow.parquet as pq

    m = spaces["ray"].engine().store.manifest("frame-level", "r0", reports["ray"].plan.key("frame-level", "r0") or "")
    assert m is not None and pq.read_table(spaces["ray"].root / "store" / m.data / "detections.parquet").num_rows > 0


def test_chunks_of_one_game_spread_over_ray_workers_and_equal_a_local_build(make_ws: Callable[..., Ws], ray_address: str) -> None:
    from chunked_layers import CHUNKED

    def chunked_ws(name: str) -> Ws:
        ws: Ws = make_ws(name, games=0)
        cfg = ws.root / "artifacts.toml"
        cfg.write_text(cfg.read_text().replace(json.dumps(ALL), json.dumps(ALL + CHUNKED)) + "\n[params.t-chunked]\ndelay_s = 0.2\ncarry = false\n")
        ws.add_game("one", video=bytes(range(64)) * 8)  # 8 chunks
        return ws

    a, b = chunked_ws("chunks-local"), chunked_ws("chunks-ray")
    ra = api.build(a.engine(), ["t-chunked"], jobs=2, executor=LOCAL)
    rb = api.build(b.engine(), ["t-chunked"], jobs=2, executor=RAY)
    assert ra.ok() and rb.ok()
    assert digests(a, ra, ("t-chunked",)) == digests(b, rb, ("t-chunked",))
    log = (b.root / "sources" / "chunks.log").read_text().split("\n")
    pids = {line.split()[2] for line in log if line}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # the one game's chunks ran on both Ray workers
