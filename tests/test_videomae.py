"""The videomae role, the videomae-features layer and its token cache, on a rendered game.

A module-scoped fixture renders one small game and writes tiny seeded VideoMAE weights and
two tracker versions once; each test makes its own workspace on them.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from conftest import REPO, Ws

from artifacts import ArtifactReader, api
from artifacts.errors import ContractError, ModelWeightsError, StoreError, UsageError
from artifacts.keys import hash_file
from artifacts.plan import State
from artifacts.provenance import check
from artifacts.workspace import SourceSpec, init_workspace
from generators.layers.frame_level.decode import decode_selected, probe
from generators.layers.seek import DecodeCount
from generators.layers.shots.annotation import parse_shots
from generators.layers.shots.window import ShotWindow, shot_window
from generators.layers.videomae.cache import TokenCache, TokenCacheWriter, TokenExpectation, artifact_tokens
from generators.layers.videomae.clips import cut_clips, plan_windows
from generators.models.tracking.params import TrackerParams
from generators.models.tracking.tracker import Tracker
from generators.models.videomae import IMAGENET_MEAN, IMAGENET_STD, VideoMAEFeatures, arch_preset
from generators.models.videomae_weights import build_weights, contracts_of, convert_pretrained
from generators.render.game import RenderedGame, render_game

LAYERS = ["generators.layers.frame_level.layer:FrameLevel", "generators.layers.track_level.layer:TrackLevel", "generators.layers.videomae.layer:VideoMAEFeaturesLayer"]
TINY = arch_preset("tiny")


@dataclass(frozen=True)
class Kit:
    root: Path
    game: RenderedGame
    weights: dict[str, Path]
    long: RenderedGame


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    root = tmp_path_factory.mktemp("videomae")
    w = {"vm-t1": build_weights(root / "vm-t1.safetensors", seed=0, arch=TINY)}
    Tracker(TrackerParams()).save(root / "trk-v1.safetensors")
    Tracker(TrackerParams(gate=20.0)).save(root / "trk-v2.safetensors")
    w |= {"trk-v1": root / "trk-v1.safetensors", "trk-v2": root / "trk-v2.safetensors"}
    for v in ("det-x", "ce-x"):  # registered so that the DAG's keys can be planned; never loaded here
        (root / f"{v}.bin").write_bytes(v.encode() * 32)
        w[v] = root / f"{v}.bin"
    game = render_game(root / "games" / "g0", "g0", seed=1, seconds=4.0)  # 640x360, 40 frames, 2 shots
    long = render_game(root / "games" / "long", "long", seed=3, seconds=60.0, size=(400, 240))  # 600 frames, 11 shots, a keyframe a second
    return Kit(root, game, w, long)


def annotated(game: RenderedGame, out: Path) -> Path:
    """The game's shots plus three crafted rows: seen by the right camera only, overlapping shot 0, seen by none."""
    lines = game.shots_csv.read_text().splitlines()
    cols = lines[0].split(",")
    rows = [dict(zip(cols, line.split(","), strict=True)) for line in lines[1:]]
    assert len(rows) == 2 and rows[1]["right_visible"] == "1"
    right_only = {**rows[1], "left_visible": "0"}
    overlap = {**rows[0], "frame": str(int(rows[0]["frame"]) + 3)}
    nowhere = {**rows[0], "frame": "20", "left_visible": "0", "right_visible": "0"}
    text = "\n".join([lines[0], *lines[1:], *(",".join(r[c] for c in cols) for r in (right_only, overlap, nowhere))]) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def make_ws(root: Path, kit: Kit, games: list[tuple[str, RenderedGame]] | None = None, provides: dict[str, object] | None = None) -> Ws:
    init_workspace(root, layers=LAYERS, entry_points=False)
    ws = Ws(root)
    lines = ["schema: 1", "roles:"]
    roles = {"detector": ("", ["det-x"]), "crop_encoder": ("", ["ce-x"]), "tracker": ("generators.models.tracking.tracker:Tracker", ["trk-v1", "trk-v2"]),
             "videomae": ("generators.models.videomae:VideoMAEFeatures", ["vm-t1"])}
    for role, (impl, versions) in roles.items():
        lines += [f"  {role}:", *([f"    implementation: {impl}"] if impl else []), "    versions:"]
        for v in versions:
            lines += [f"      {v}:", f"        weights: {kit.weights[v]}", f"        digest: {hash_file(kit.weights[v])}"]
            if role == "videomae":
                lines.append(f"        provides: {json.dumps(provides if provides is not None else contracts_of(TINY))}")
    lines += ["collections:", "  production: {detector: det-x, crop_encoder: ce-x, tracker: trk-v1, videomae: vm-t1}"]
    (root / "models.yaml").write_text("\n".join(lines) + "\n")
    ws.set_config("\n[params.videomae-features]\nbatch = 2\n")
    e = ws.engine()
    for gid, g in games or [("g0", kit.game)]:
        shots = annotated(g, root / "sources" / gid / "shots.csv")
        e.catalog.add_games([(gid, [*(s for s in g.sources() if s.kind == "video"), SourceSpec("shots", str(shots), "annotation")])])
    return ws


def artifact_dir(ws: Ws, layer: str, game: str) -> Path:
    e = ws.engine()
    key = e.plan_keys([layer]).key(layer, game)
    m = e.store.manifest(layer, game, key or "")
    assert m is not None
    return ws.root / "store" / m.data


def reference_tokens(weights: Path, video: Path, x0: int, y0: int, first: int) -> np.ndarray:
    """VideoMAEModel run directly on the window's clip, decoded here with PyAV (float32 tokens)."""
    with av.open(str(video)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    clip = np.stack([frames[i][y0 : y0 + 224, x0 : x0 + 224] for i in range(first, first + 16)])
    x = torch.from_numpy(clip).float() / 255.0
    x = (x - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    model = VideoMAEFeatures.from_weights(weights)  # on the device the layer used
    with torch.no_grad():
        out: torch.Tensor = model.net(pixel_values=x.permute(0, 3, 1, 2)[None].to(model.device)).last_hidden_state[0]
    return out.cpu().numpy()


def test_seeded_weights_are_reproducible(tmp_path: Path, kit: Kit) -> None:
    again = build_weights(tmp_path / "again.safetensors", seed=0, arch=TINY)
    assert again.read_bytes() == kit.weights["vm-t1"].read_bytes()
    other = build_weights(tmp_path / "other.safetensors", seed=1, arch=TINY)
    assert hash_file(other) != hash_file(again)
    out = subprocess.run([sys.executable, "-m", "generators.models.videomae_weights", str(tmp_path / "cli.safetensors"), "--preset", "tiny", "--seed", "0"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert (tmp_path / "cli.safetensors").read_bytes() == again.read_bytes()  # another process, the same bytes
    assert f"digest: {hash_file(again)}" in out and '"token_grid": [16, 14, 14]' in out
    model = VideoMAEFeatures.from_weights(again)
    assert model.arch == TINY and model.grid == (16, 14, 14) and model.hidden_dim == 32
    state = {k: v for k, v in model.net.state_dict().items()}
    reloaded = VideoMAEFeatures.from_weights(kit.weights["vm-t1"]).net.state_dict()
    assert all(torch.equal(state[k], reloaded[k]) for k in state)


def test_pretrained_directory_loads_and_converts(tmp_path: Path, kit: Kit) -> None:
    model = VideoMAEFeatures.from_weights(kit.weights["vm-t1"])
    model.net.save_pretrained(str(tmp_path / "ckpt"))
    from_dir = VideoMAEFeatures.from_weights(tmp_path / "ckpt")
    clip = np.random.default_rng(0).integers(0, 256, (1, 16, 224, 224, 3), dtype=np.uint8)
    assert np.array_equal(from_dir.encode(clip), model.encode(clip))
    converted = convert_pretrained(tmp_path / "ckpt", tmp_path / "conv.safetensors")  # what --from-pretrained does
    assert converted.read_bytes() == kit.weights["vm-t1"].read_bytes()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelWeightsError, match=r"^videomae checkpoint directory '.*empty': cannot be loaded"):
        VideoMAEFeatures.from_weights(tmp_path / "empty")


def test_layer_caches_the_tokens_of_every_shot_clip(tmp_path: Path, kit: Kit) -> None:
    ws = make_ws(tmp_path / "ws", kit)
    report = api.build(ws.engine(), ["videomae-features"], jobs=1)
    assert report.ok(), [ev.message for ev in (report.result.events.values() if report.result else []) if ev.message]
    d = artifact_dir(ws, "videomae-features", "g0")
    e = ws.engine()
    m = e.store.manifest("videomae-features", "g0", e.plan_keys(["videomae-features"]).key("videomae-features", "g0") or "")
    assert m is not None
    assert m.contracts == {"feature_family": "videomae", "token_grid": [16, 14, 14], "hidden_dim": 32, "token_dtype": "float16"}
    assert check(ws.engine()) == []  # the recorded contracts equal what vm-t1 provides

    shots = parse_shots((ws.root / "sources" / "g0" / "shots.csv").read_text(), "g0")
    cache = artifact_tokens(ArtifactReader(e.store, m), TokenExpectation(family="videomae", grid=(16, 14, 14), hidden_dim=32, rows=len(shots)))
    assert cache.header.missing == (4,) and cache.header.model["version"] == "vm-t1"
    # the shot without a window is counted in the manifest, not only listed in windows.parquet
    assert [(s.kind, s.what, s.count, s.total, s.reason, s.examples) for s in m.signals] == [("skipped", "shots", 1, 5, "visible in no camera", ["shot 4"])]
    windows = pq.read_table(d / "windows.parquet").to_pylist()
    assert [r["shot"] for r in windows] == list(range(5))
    assert windows[4] == {"shot": 4, "frame": 20, "camera": None, "x0": -1, "y0": -1, "first_frame": -1, "reason": "visible in no camera"}
    assert [r["camera"] for r in windows[:4]] == ["left", "left", "right", "left"]
    assert windows[1]["first_frame"] == 24  # the release at frame 36 of 40: the window is shifted inside the video
    for shot, row in zip(shots[:4], windows[:4], strict=True):
        w = shot_window(shot, 640, 360, 40, "g0")  # the shared window definition, the one shot-heatmaps cuts
        assert w is not None and (row["camera"], row["x0"], row["y0"], row["first_frame"]) == (w.camera, w.x0, w.y0, w.first_frame)
        ref = reference_tokens(kit.weights["vm-t1"], kit.game.video(w.camera), w.x0, w.y0, w.first_frame)
        got = cache.read([shot.index])[0].astype(np.float32)
        np.testing.assert_allclose(got, ref, rtol=2.0**-10, atol=1e-5)  # float16 rounding of the same float32 tokens
    assert not np.array_equal(cache.read([0]), cache.read([3]))  # overlapping windows, different clips
    with pytest.raises(UsageError, match=r"row 4: has no tokens \(its shot has no clip"):
        cache.read([0, 4])
    assert not np.fromfile(d / "tokens.f16", np.float16).reshape(5, 3136, 32)[4].any()  # the missing row is zeros


def test_token_cache_checks_its_header_against_the_reader(tmp_path: Path) -> None:
    w = TokenCacheWriter(tmp_path, rows=3, grid=(2, 2, 2), hidden_dim=4, family="videomae")
    data = np.arange(3 * 8 * 4, dtype=np.float32).reshape(3, 8, 4)
    w.write(0, data[0])
    w.write(2, data[2])
    header = w.close(missing=[1])
    assert header.digest == hash_file(tmp_path / "tokens.f16")
    cache = TokenCache(tmp_path / "tokens.json", TokenExpectation(family="videomae", grid=(2, 2, 2), hidden_dim=4, rows=3))
    buf = cache.empty(4)
    got = cache.read(np.array([2, 0]), out=buf)
    assert got.base is buf or got.base is buf.base
    assert np.array_equal(got, data[[2, 0]].astype(np.float16))
    worker = pickle.loads(pickle.dumps(cache))  # what a DataLoader worker receives: it maps the file again
    assert np.array_equal(worker.read([0]), cache.read([0]))
    cache.verify()

    with pytest.raises(ContractError) as exc:
        TokenCache(tmp_path, TokenExpectation(family="clip", grid=(8, 14, 14), hidden_dim=4))
    assert exc.value.line() == (
        f"token cache {tmp_path / 'tokens.json'}: disagrees with what the reader expects "
        "(family: cache has 'videomae', expected 'clip'; grid: cache has [2, 2, 2], expected [8, 14, 14]); "
        "rebuild the features with the expected model, or expect what the cache records"
    )
    (tmp_path / "w2").mkdir()
    incomplete = TokenCacheWriter(tmp_path / "w2", rows=2, grid=(2, 2, 2), hidden_dim=4, family="videomae")
    incomplete.write(0, data[0])
    with pytest.raises(ValueError, match=r"rows \[1\] were not written but \[\] are declared missing"):
        incomplete.close(missing=[])  # a row neither written nor declared missing is refused
    (tmp_path / "tokens.f16").write_bytes((tmp_path / "tokens.f16").read_bytes()[:-2])
    with pytest.raises(StoreError, match=r"holds that many bytes but its header describes 192; rebuild the artifact"):
        TokenCache(tmp_path)
    header_json = json.loads((tmp_path / "tokens.json").read_text())
    (tmp_path / "tokens.json").write_text(json.dumps({**header_json, "dtype": "float32"}))
    with pytest.raises(StoreError, match=r"is malformed at dtype"):
        TokenCache(tmp_path)


def test_tracker_change_leaves_it_fresh(tmp_path: Path, kit: Kit) -> None:
    ws = make_ws(tmp_path / "ws", kit)
    assert api.build(ws.engine(), ["videomae-features"], jobs=1).ok()
    before = ws.engine().plan_keys(["videomae-features", "track-level"])
    models = ws.root / "models.yaml"
    models.write_text(models.read_text().replace("tracker: trk-v1", "tracker: trk-v2"))  # the production tracker changes
    after = ws.engine().plan_keys(["videomae-features", "track-level"])
    assert after.key("track-level", "g0") != before.key("track-level", "g0")
    assert after.key("videomae-features", "g0") == before.key("videomae-features", "g0")
    status = api.status(ws.engine(), ["videomae-features"])
    assert [(x.layer, x.game, x.state) for x in status.entries] == [("videomae-features", "g0", State.FRESH)]
    report = api.build(ws.engine(), ["videomae-features"], jobs=1)
    assert report.ok() and report.tasks == []


def test_truncated_video_fails_only_its_game(tmp_path: Path, kit: Kit) -> None:
    bad = render_game(tmp_path / "bad", "bad", seed=1, seconds=4.0)
    data = bad.video("left").read_bytes()
    bad.video("left").write_bytes(data[: len(data) // 2])
    ws = make_ws(tmp_path / "ws", kit, games=[("g0", kit.game), ("bad", bad)])
    report = api.build(ws.engine(), ["videomae-features"], jobs=1)
    assert not report.ok() and report.result is not None
    ev = report.result.events[("videomae-features", "bad")]
    assert ev.kind == "failed"
    msg = ev.message or ""
    assert msg.startswith(f"video left '{bad.video('left')}': unreadable: ") and "\n" not in msg and msg.endswith("--replace)")
    assert report.result.events[("videomae-features", "g0")].kind == "built"
    status = {(x.layer, x.game): x.state for x in api.status(ws.engine(), ["videomae-features"]).entries}
    assert status == {("videomae-features", "bad"): State.FAILED, ("videomae-features", "g0"): State.FRESH}


def _long_ws(root: Path, kit: Kit) -> Ws:
    """A workspace whose one game is the long rendered game, its annotation as rendered."""
    ws = make_ws(root, kit, games=[])
    ws.engine().catalog.add_games([("long", kit.long.sources())])
    return ws


def _build_with_chunk_size(ws: Ws, size: int) -> tuple[int, dict[str, bytes]]:
    """Build videomae-features of game ``long`` with ``size`` shots a chunk (dropping the artifact
    first: the chunk size is not in the key); its chunk count and its output files' bytes."""
    ws.set_config(f"\n[chunk_size]\nvideomae-features = {size}\n")
    e = ws.engine()
    key = e.plan_keys(["videomae-features"]).key("videomae-features", "long") or ""
    old = e.store.manifest("videomae-features", "long", key)
    if old is not None:
        e.store.remove_artifact(old)
    assert api.build(ws.engine(), ["videomae-features"], jobs=1).ok()
    m = ws.engine().store.manifest("videomae-features", "long", key)
    assert m is not None
    d = ws.root / "store" / m.data
    cfg = ws.root / "artifacts.toml"
    cfg.write_text(cfg.read_text().replace(f"\n[chunk_size]\nvideomae-features = {size}\n", ""))
    return m.chunks, {n: (d / n).read_bytes() for n in ("tokens.f16", "tokens.json", "windows.parquet")}


def test_chunked_build_equals_one_chunk_and_the_decode_everything_reference(tmp_path: Path, kit: Kit) -> None:
    ws = _long_ws(tmp_path / "ws", kit)  # batch = 2: chunks of 1 or 2 shots hold 2, chunks of 3 or 4 hold 4
    builds = {size: _build_with_chunk_size(ws, size) for size in (1000, 2, 3)}
    assert [n for n, _ in builds.values()] == [1, 6, 3]  # 11 shots
    assert builds[2][1] == builds[1000][1] and builds[3][1] == builds[1000][1]  # bit for bit, header (digest) included
    # The reference: every video decoded from its start (frame-level's decoder), the windows cut
    # from it and encoded in batches of 2 shots in annotation order, as the layer did before chunks.
    shots = parse_shots(kit.long.shots_csv.read_text(), "long")
    probes = {c: probe(c, str(kit.long.video(c))) for c in ("left", "right")}
    windows = [w for w in plan_windows(shots, probes, "long") if w is not None]
    assert len(windows) == len(shots) == 11
    clips = np.empty((len(windows), 16, 224, 224, 3), np.uint8)
    for cam in ("left", "right"):
        mine = [(k, w) for k, w in enumerate(windows) if w.camera == cam]
        frames = dict(decode_selected(cam, str(kit.long.video(cam)), {f for _, w in mine for f in w.frames}))
        for k, w in mine:
            clips[k] = np.stack([frames[f][w.y0 : w.y0 + 224, w.x0 : w.x0 + 224] for f in w.frames])
    expected = VideoMAEFeatures.from_weights(kit.weights["vm-t1"]).encode(clips, batch_size=2)
    got = np.frombuffer(builds[1000][1]["tokens.f16"], np.float16).reshape(11, 3136, 32)
    assert np.array_equal(got[[w.shot for w in windows]].view(np.uint16), expected.view(np.uint16))


def test_a_shot_near_the_end_of_a_long_video_is_cut_by_seeking(kit: Kit) -> None:
    shots = parse_shots(kit.long.shots_csv.read_text(), "long")
    probes = {c: probe(c, str(kit.long.video(c))) for c in ("left", "right")}
    last = plan_windows(shots, probes, "long")[-1]
    assert isinstance(last, ShotWindow) and last.first_frame > 500 and probes[last.camera].frames == 600
    videos = {c: str(kit.long.video(c)) for c in probes}
    seeking, everything = DecodeCount(), DecodeCount()
    clip = np.empty((1, 16, 224, 224, 3), np.uint8)
    cut_clips(videos, [last], clip, seeking)
    baseline = np.empty_like(clip)
    cut_clips(videos, [last], baseline, everything, seek_gap_s=float("inf"))  # never seeks: decodes from the start
    assert np.array_equal(clip, baseline)
    assert everything.seeks == 0 and everything.frames == last.first_frame + 16
    # one seek to the keyframe at or before the window (one a second: 10 frames), then the window
    assert seeking.seeks == 1 and 16 <= seeking.frames <= 16 + 10
