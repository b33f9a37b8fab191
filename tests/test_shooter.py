"""The dual-stream shooter model, its Phase 1 trainer and its registration (issue 5, part 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import Ws
from layers_for_tests import ALL
from safetensors import safe_open
from shooter_fixtures import GEOMETRY, LAYERS, SHOTS_PER_GAME, synthetic_factory

from artifacts import api
from artifacts.errors import UsageError
from artifacts.registry import TrainedOn
from artifacts.workspace import init_workspace
from cli.train_cmd import load_factory
from generators.trainers.shooter.batch import collate_shots, nearest_player
from generators.trainers.shooter.model import DualStream, DualStreamConfig, StreamSizes
from generators.trainers.shooter.run import DualStreamRequest, split_games, train_dual_stream
from generators.trainers.shooter.synthetic import SyntheticShots, SyntheticSpec
from generators.trainers.shooter.train import Phase1Config, train_phase1

SMALL = StreamSizes(d_track=16, depth=1, heads=2, mlp_hidden=16)


def small_model(attention: str = "clip", **geometry: int) -> DualStream:
    torch.manual_seed(0)
    geo = dict(GEOMETRY) | geometry
    return DualStream(DualStreamConfig(**(SMALL.model_dump() | {"attention": attention}), **geo))


def batch_of(n: int = 3, seed: int = 0, **spec: float) -> dict[str, object]:
    data = SyntheticShots(SyntheticSpec(shots=n, seed=seed, **(dict(GEOMETRY) | spec)))  # type: ignore[arg-type]
    return collate_shots([data[i] for i in range(n)])


def logits_of(model: DualStream, b: dict[str, object]) -> torch.Tensor:
    with torch.no_grad():
        return model(b["heatmaps"], b["tokens"], b["token_grid"])  # type: ignore[arg-type]


# --- the model ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("attention", "token_frames"), [("clip", 16), ("clip", 8), ("frame", 8)])
def test_full_size_shapes(attention: str, token_frames: int) -> None:
    torch.manual_seed(0)
    cfg = DualStreamConfig(d_track=8, depth=1, heads=2, mlp_hidden=8, attention=attention, token_frames=token_frames, token_dim=24)  # type: ignore[arg-type]
    model = DualStream(cfg)
    hm = torch.zeros(1, 16, 14, 14, 18)
    hm[:, :, 3:5, 6, 0:5] = 1.0  # every slot seen
    tokens = torch.randn(1, token_frames * 14 * 14, 24, dtype=torch.float16)
    with torch.no_grad():
        fused = model.fuse(hm, tokens)
        logits = model(hm, tokens, (token_frames, 14, 14))
    assert fused.shape == (1, 16 * 14 * 14, 8)
    assert logits.shape == (1, 5) and bool(torch.isfinite(logits).all())


@pytest.mark.parametrize("attention", ["clip", "frame"])
def test_attention_weights_are_distributions_over_tokens(attention: str) -> None:
    model = small_model(attention)
    b = batch_of(2)
    with torch.no_grad():
        w = model.attention(b["heatmaps"], b["tokens"])  # type: ignore[arg-type]
    assert w.shape == (2, 2, 4 * 7 * 7, 2 * 7 * 7)
    assert torch.allclose(w.sum(-1), torch.ones(2, 2, 4 * 7 * 7), atol=1e-5)
    if attention == "frame":  # frames 0-1 see token frame 0 only, frames 2-3 token frame 1 only
        assert float(w[:, :, : 2 * 49, 49:].abs().max()) == 0.0
        assert float(w[:, :, 2 * 49 :, :49].abs().max()) == 0.0


def test_locality_starts_aligned_on_the_same_patch() -> None:
    model = small_model("clip")
    b = batch_of(1)
    with torch.no_grad():
        w = model.attention(b["heatmaps"], b["tokens"]).mean(dim=1)[0]  # [196, 98]
    # query cell (frame 2, row 3, col 4) is covered by token (token frame 1, row 3, col 4)
    q = 2 * 49 + 3 * 7 + 4
    assert int(w[q].argmax()) == 1 * 49 + 3 * 7 + 4


def test_masked_pooling_ignores_cells_outside_a_players_mask() -> None:
    model = small_model()
    b = batch_of(2)
    hm = b["heatmaps"]
    assert isinstance(hm, torch.Tensor)
    masks = (hm[..., :5] > 0.5).float().reshape(2, -1, 5)
    with torch.no_grad():
        fused = model.fuse(hm, b["tokens"])  # type: ignore[arg-type]
        before = model.classify(fused, masks)
        outside = (masks.sum(-1, keepdim=True) == 0).float()
        after = model.classify(fused + 100.0 * torch.randn_like(fused) * outside, masks)
        assert torch.equal(before, after)
        # features inside only slot p's cells change only slot p's score
        p = int(torch.isfinite(before[0]).nonzero()[0])
        only_p = (masks[..., p : p + 1] > 0) & (masks.sum(-1, keepdim=True) == 1)
        assert bool(only_p[0].any())
        moved = model.classify(fused + torch.randn_like(fused) * only_p.float(), masks)
    changed = (moved != before) & torch.isfinite(before)
    assert bool(changed[0, p]) and int(changed[0].sum()) == 1


def test_players_with_empty_masks_get_minus_inf() -> None:
    model = small_model()
    b = batch_of(2)
    hm = b["heatmaps"]
    assert isinstance(hm, torch.Tensor)
    hm[0, ..., 2] = 0.0  # O3 never seen in shot 0
    logits = logits_of(model, b)
    assert logits[0, 2] == float("-inf")
    seen = (hm[..., :5] > 0.5).flatten(1, 3).any(1)
    assert torch.equal(torch.isfinite(logits), seen)


def test_cross_attention_reads_the_video_tokens() -> None:
    model = small_model()
    b = batch_of(2)
    tokens = b["tokens"]
    assert isinstance(tokens, torch.Tensor)
    before = logits_of(model, b)
    b["tokens"] = tokens + torch.randn_like(tokens)
    after = logits_of(model, b)
    finite = torch.isfinite(before)
    assert not torch.allclose(before[finite], after[finite])
    # and the gradient reaches the tokens
    t = tokens.float().requires_grad_(True)
    out = model(b["heatmaps"], t)  # type: ignore[arg-type]
    out[torch.isfinite(out)].sum().backward()  # type: ignore[no-untyped-call]
    assert t.grad is not None and float(t.grad.abs().sum()) > 0


def test_frame_attention_reads_only_the_token_frame_of_its_frames() -> None:
    model = small_model("frame")
    b = batch_of(1)
    hm, tokens = b["heatmaps"], b["tokens"]
    assert isinstance(hm, torch.Tensor) and isinstance(tokens, torch.Tensor)
    changed = tokens.clone()
    changed[:, 49:] += 3.0  # token frame 1 covers frames 2 and 3
    with torch.no_grad():
        a, c = model.fuse(hm, tokens), model.fuse(hm, changed)
    assert torch.equal(a[:, : 2 * 49], c[:, : 2 * 49])
    assert not torch.allclose(a[:, 2 * 49 :], c[:, 2 * 49 :])


def test_inputs_of_another_layout_are_refused_with_the_fix() -> None:
    model = small_model()
    b = batch_of(1)
    with pytest.raises(UsageError) as e:
        model(b["heatmaps"], b["tokens"], (4, 7, 7))  # type: ignore[arg-type]
    assert e.value.line() == ("token grid (4, 7, 7): does not match the model's (2, 7, 7) (heatmaps and tokens must share H and W); "
                              "use features of the VideoMAE this model was trained with")
    with pytest.raises(UsageError, match=r"video tokens of shape \(1, 98, 8\): do not match the model's \[1, 98, 16\]"):
        model(b["heatmaps"], torch.zeros(1, 98, 8))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="token grids in one batch"):
        a = SyntheticShots(SyntheticSpec(shots=1, **GEOMETRY))  # type: ignore[arg-type]
        c = SyntheticShots(SyntheticSpec(shots=1, **(GEOMETRY | {"token_frames": 4})))  # type: ignore[arg-type]
        collate_shots([a[0], c[0]])


def test_weights_file_round_trip_with_stable_bytes(tmp_path: Path) -> None:
    model = small_model("frame")
    model.save(tmp_path / "a.safetensors")
    model.save(tmp_path / "b.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    with safe_open(str(tmp_path / "a.safetensors"), framework="pt") as f:
        meta = json.loads((f.metadata() or {})["model"])
    assert meta["format"] == "dual-stream-shooter/1"
    assert meta["config"] == model.config.model_dump(mode="json")
    loaded = DualStream.from_weights(tmp_path / "a.safetensors")
    assert loaded.config == model.config
    b = batch_of(2)
    assert torch.equal(logits_of(model.eval(), b), logits_of(loaded, b))


def test_nearest_player_picks_the_slot_closest_to_the_origin_at_release() -> None:
    hm = torch.zeros(1, 4, 7, 7, 18)
    hm[..., 16] = torch.linspace(0, 1, 49).reshape(7, 7)  # distance grows with the cell index
    hm[0, 2, 3, 3, 0] = 1.0  # O1 at cell 24 at release (frame 2)
    hm[0, 2, 2, 0, 1] = 1.0  # O2 at cell 14 at release: nearer
    hm[0, 0, 0, 0, 3] = 1.0  # O4 at cell 0, the origin, but not at release
    assert nearest_player(hm).tolist() == [1]
    hm[0, 2, 2, 0, 1] = 0.0
    assert nearest_player(hm).tolist() == [0]
    hm[0, 2, 3, 3, 0] = 0.0  # nobody at release: the least distance over the clip
    assert nearest_player(hm).tolist() == [3]


# --- the Phase 1 trainer -----------------------------------------------------------------------


def _sets(decoy: float, video_signal: float, n: int = 256) -> tuple[SyntheticShots, SyntheticShots]:
    spec = dict(GEOMETRY) | {"decoy": decoy, "video_signal": video_signal}
    return SyntheticShots(SyntheticSpec(shots=n, seed=1, **spec)), SyntheticShots(SyntheticSpec(shots=128, seed=2, **spec))  # type: ignore[arg-type]


def test_phase1_beats_the_random_and_heuristic_baselines() -> None:
    train, held = _sets(decoy=0.3, video_signal=1.0)
    _model, report = train_phase1(train, held, Phase1Config(epochs=4, batch_size=16, model=SMALL))
    h = report.held_out
    assert h.shots == 128 and h.random_baseline == 0.2
    assert 0.0 < h.nearest_player < 0.9  # decoys make the heuristic miss
    assert h.accuracy >= 0.6 and h.accuracy > h.nearest_player
    assert report.epochs[-1].loss < report.epochs[0].loss
    assert report.steps == 4 * 16 and report.train_shots == 256


def test_phase1_learns_from_the_video_tokens() -> None:
    """Every shot has a decoy on the origin at release: only the tokens tell shooter from decoy."""
    cfg = Phase1Config(epochs=5, batch_size=16, model=SMALL.model_copy(update={"attention": "frame"}))
    blind = train_phase1(*_sets(decoy=1.0, video_signal=0.0), cfg)[1].held_out.accuracy
    seeing = train_phase1(*_sets(decoy=1.0, video_signal=1.0), cfg)[1].held_out.accuracy
    assert blind < 0.7  # about one in two (0.56 here): the heatmaps cannot separate the two
    assert seeing >= blind + 0.15


def test_phase1_writes_the_same_weights_twice(tmp_path: Path) -> None:
    train, held = _sets(decoy=0.3, video_signal=1.0, n=64)
    cfg = Phase1Config(epochs=2, batch_size=16, model=SMALL)
    for name in ("a", "b"):
        train_phase1(train, held, cfg)[0].save(tmp_path / f"{name}.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    train_phase1(train, held, cfg.model_copy(update={"seed": 1}))[0].save(tmp_path / "c.safetensors")
    assert (tmp_path / "c.safetensors").read_bytes() != (tmp_path / "a.safetensors").read_bytes()


def test_unanswerable_training_shots_are_counted_not_trained_on() -> None:
    train, held = _sets(decoy=0.0, video_signal=1.0, n=32)
    train.heatmaps[:5, ..., :5] = 0.0  # five shots where no offensive player is seen
    _m, report = train_phase1(train, held, Phase1Config(epochs=1, batch_size=8, model=SMALL))
    assert report.skipped_unanswerable == 5
    assert report.epochs[0].loss == report.epochs[0].loss  # not NaN


# --- training from a workspace and registering ---------------------------------------------------

COLLECTIONS = {
    "production": {"detector": "det-v1", "crop_encoder": "ce-v1", "tracker": "trk-v1", "videomae": "vm-v1"},
    "staging": {"detector": "det-v1", "crop_encoder": "ce-v1", "tracker": "trk-v2", "videomae": "vm-v1"},
}


@pytest.fixture
def sws(tmp_path: Path) -> Ws:
    root = tmp_path / "shooter"
    init_workspace(root, layers=ALL + LAYERS, entry_points=False)
    ws = Ws(root)
    ws.write_models(COLLECTIONS)
    for i in range(5):
        ws.add_game(f"g{i}")
    return ws


def request(**kw: object) -> DualStreamRequest:
    base = {"heatmaps_layer": "t-heatmaps", "features_layer": "t-features", "training": Phase1Config(epochs=1, batch_size=16, model=SMALL)}
    return DualStreamRequest(**(base | kw))  # type: ignore[arg-type]


def test_split_games_holds_out_the_last_fifth() -> None:
    assert split_games([f"g{i}" for i in range(10)], []) == ([f"g{i}" for i in range(8)], ["g8", "g9"])
    assert split_games(["b", "a", "c"], []) == (["a", "b"], ["c"])
    assert split_games(["a", "b", "c"], ["a"]) == (["b", "c"], ["a"])
    with pytest.raises(UsageError, match="are too few to hold one out"):
        split_games(["a"], [])
    with pytest.raises(UsageError, match="are all held out"):
        split_games(["a"], ["a"])


def test_training_refuses_artifacts_that_are_not_fresh(sws: Ws) -> None:
    e = sws.engine()
    with pytest.raises(UsageError) as err:
        train_dual_stream(e, synthetic_factory, request())
    assert err.value.line() == (
        "training data under collection production 't-heatmaps g0 MISSING, t-heatmaps g1 MISSING, t-heatmaps g2 MISSING, "
        "t-heatmaps g3 MISSING and 6 more': is not FRESH: a model must not train on stale or missing artifacts; "
        "run 'artifacts build t-heatmaps t-features --collection production' first"
    )
    assert "shooter" not in e.models.spec.roles


def test_trained_model_is_registered_with_its_lineage(sws: Ws) -> None:
    e = sws.engine()
    assert api.build(e, ["t-heatmaps", "t-features"]).ok()
    result = train_dual_stream(e, synthetic_factory, request())
    assert result.train_games == ["g0", "g1", "g2", "g3"] and result.held_out_games == ["g4"]
    assert result.report.train_shots == 4 * SHOTS_PER_GAME and result.report.held_out.shots == SHOTS_PER_GAME
    assert result.version == "ds-" + result.digest.split(":")[1][:8]  # no version given: named after the weights
    plan = e.plan_keys(["t-heatmaps", "t-features"], "production")
    mv = e.models.spec.roles["shooter"].versions[result.version]
    assert mv.trained_with == {"crop_encoder": "ce-v1", "detector": "det-v1", "tracker": "trk-v1", "videomae": "vm-v1"}
    assert mv.trained_on == [TrainedOn(layer=layer, game=g, key=plan.key(layer, g) or "") for g in result.train_games for layer in ("t-heatmaps", "t-features")]
    assert mv.digest == result.digest and mv.weights == f"weights/shooter-{result.version}.safetensors"
    assert DualStream.from_weights(e.models.weights_url("shooter", result.version)).config == result.report.model
    with pytest.raises(UsageError, match=f"version of shooter '{result.version}': is already registered"):
        train_dual_stream(e, synthetic_factory, request(version=result.version))  # refused before training
    with pytest.raises(UsageError, match=f"version of shooter '{result.version}': is already registered"):
        train_dual_stream(e, synthetic_factory, request())  # reproducible: the same weights, so the same name
    assert sorted(p.name for p in (sws.root / "weights").glob("*shooter*")) == [f"shooter-{result.version}.safetensors"]


def test_cli_trains_registers_and_promotion_checks_the_lineage(sws: Ws) -> None:
    common = ["train", "dual-stream", "--dataset", "shooter_fixtures:synthetic_factory", "--heatmaps-layer", "t-heatmaps",
              "--features-layer", "t-features", "--epochs", "1", "--d-track", "16", "--depth", "1", "--heads", "2", "--version", "ds-1"]
    r = sws.cli(*common)
    assert r.returncode == 2
    assert "is not FRESH" in r.stderr and "run 'artifacts build t-heatmaps t-features --collection production' first" in r.stderr
    assert sws.cli("build", "t-heatmaps", "t-features", "-j", "1").returncode == 0
    r = sws.cli(*common)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "shooter accuracy on 48 held-out shots (g4)" in r.stdout
    assert "uniform over O1-O5" in r.stdout and "20.0%" in r.stdout
    assert "promote it with: artifacts promote shooter ds-1 --to production" in r.stdout
    shown = json.loads(sws.cli("models", "show", "shooter", "ds-1").stdout)
    assert shown["trained_with"] == COLLECTIONS["production"] and len(shown["trained_on"]) == 8

    # staging runs another tracker: the heatmaps it trained on are not what staging produces
    r = sws.cli("promote", "shooter", "ds-1", "--to", "staging")
    assert r.returncode == 1
    assert "trained_with: shooter ds-1 was trained with tracker trk-v1, but staging runs tracker trk-v2" in r.stdout
    assert "trained_on: shooter ds-1 was trained on t-heatmaps g0 " in r.stdout and "(tracker trk-v1 -> trk-v2 (via t-tracks))" in r.stdout
    assert "staging" in (sws.root / "models.yaml").read_text() and "shooter: ds-1" not in (sws.root / "models.yaml").read_text()
    r = sws.cli("promote", "shooter", "ds-1", "--to", "production")
    assert r.returncode == 0, r.stdout
    assert "+   shooter: ds-1" in r.stdout


def test_unknown_dataset_factory_is_named_with_the_fix() -> None:
    with pytest.raises(UsageError) as e:
        load_factory("no_such_module_xyz:make")
    assert e.value.line() == ("dataset factory 'no_such_module_xyz:make': cannot be imported (No module named 'no_such_module_xyz'); "
                              "pass --dataset MODULE:FUNCTION of an importable shot data set factory")
    with pytest.raises(UsageError, match="is not MODULE:FUNCTION"):
        load_factory("nocolon")
