"""The shot data set over the demo's artifacts: contents, contract checks with diffs, DataLoader workers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import DemoRun
from torch.utils.data import DataLoader

from artifacts.errors import ContractError
from artifacts.plan import Engine
from artifacts.registry import TrainedOn
from generators.layers.heatmaps.store import HeatmapArray
from generators.trainers.shooter.batch import collate_shots
from generators.trainers.shooter.dataset import check_alignment, check_heatmap_contracts, shot_dataset
from generators.trainers.shooter.run import FEATURES_LAYER, HEATMAPS_LAYER, ShotArtifacts


def _artifacts(engine: Engine, heat_game: str, feat_game: str | None = None) -> ShotArtifacts:
    plan = engine.plan_keys([HEATMAPS_LAYER, FEATURES_LAYER])
    fg = feat_game or heat_game
    return ShotArtifacts(game=heat_game, heatmaps=TrainedOn(layer=HEATMAPS_LAYER, game=heat_game, key=plan.key(HEATMAPS_LAYER, heat_game) or ""),
                         features=TrainedOn(layer=FEATURES_LAYER, game=fg, key=plan.key(FEATURES_LAYER, fg) or ""))


@pytest.fixture
def engine(demo_run: DemoRun) -> Engine:
    assert demo_run.code == 0, demo_run.output
    return Engine.open(demo_run.root)


def test_items_are_the_stored_heatmaps_and_tokens(engine: Engine) -> None:
    games = sorted(engine.catalog.sources())
    data = shot_dataset(engine, [_artifacts(engine, g) for g in games])
    assert len(data) > 0 and set(data.labels.tolist()) <= {0, 1, 2, 3, 4}
    item = data[0]
    assert item["heatmaps"].shape == (16, 14, 14, 18) and item["heatmaps"].dtype == np.float32
    assert item["tokens"].shape == (16 * 14 * 14, 64) and item["tokens"].dtype == np.float16
    assert tuple(item["token_grid"]) == (16, 14, 14)
    # The heatmap is the stored one, bit for bit; the shooter's slot has a mask.
    g, hrow, trow, label = (int(v) for v in data.index[0])
    from artifacts import api

    stored = HeatmapArray(api.artifact(engine, HEATMAPS_LAYER, data.games[g]).location("heatmaps.zarr")).read([hrow])[0]
    assert np.array_equal(stored.view(np.uint32), item["heatmaps"].view(np.uint32))
    assert item["heatmaps"][..., label].max() == 1.0
    # The tokens are row ``shot`` of the raw float16 file, read here without the cache reader.
    raw = np.fromfile(api.artifact(engine, FEATURES_LAYER, data.games[g]).location("tokens.f16"), dtype="<f2").reshape(-1, 16 * 14 * 14, 64)
    assert np.array_equal(raw[trow], item["tokens"]) and item["shot"] == trow


def test_dataloader_workers_give_the_same_batches(engine: Engine) -> None:
    games = sorted(engine.catalog.sources())
    data = shot_dataset(engine, [_artifacts(engine, g) for g in games])
    serial = list(DataLoader(data, batch_size=4, collate_fn=collate_shots))
    parallel = list(DataLoader(data, batch_size=4, collate_fn=collate_shots, num_workers=2))
    assert len(serial) == len(parallel) > 0
    for a, b in zip(serial, parallel, strict=True):
        assert torch.equal(a["heatmaps"], b["heatmaps"]) and torch.equal(a["tokens"], b["tokens"]) and torch.equal(a["label"], b["label"])


def test_misaligned_windows_fail_with_a_diff(engine: Engine) -> None:
    games = sorted(engine.catalog.sources())
    with pytest.raises(ContractError) as e:
        shot_dataset(engine, [_artifacts(engine, games[0], games[1])])  # another game's tokens
    assert "in shot-heatmaps vs" in e.value.line() and "in videomae-features" in e.value.line()


def test_feature_family_is_checked(engine: Engine) -> None:
    games = sorted(engine.catalog.sources())
    with pytest.raises(ContractError) as e:
        shot_dataset(engine, [_artifacts(engine, games[0])], family="clip")
    assert "family: cache has 'videomae', expected 'clip'" in e.value.line()


def test_contract_and_grid_diffs() -> None:
    with pytest.raises(ContractError) as e:
        check_heatmap_contracts("of game g1", {"heatmap_layout": "0", "heatmap_grid": [16, 14, 14], "heatmap_channels": 18})
    assert e.value.line().startswith("shot-heatmaps of game g1: heatmap_layout: artifact has '0', reader expects '1'")
    check_alignment("g", (16, 14, 14), (8, 14, 14))  # tubelet 2 aligns
    with pytest.raises(ContractError) as e:
        check_alignment("game g1", (16, 14, 14), (16, 7, 7))
    assert "heatmaps [16, 14, 14] vs tokens [16, 7, 7]" in e.value.line()
    with pytest.raises(ContractError):
        check_alignment("game g1", (16, 14, 14), (5, 14, 14))


