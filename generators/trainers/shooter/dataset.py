"""The shot data set: heatmaps, cached video tokens and the shooter's slot, contract-checked at load.

:func:`shot_dataset` is the :class:`~generators.trainers.shooter.run.ShotDatasetFactory` that
``artifacts train dual-stream`` uses. Over a list of games' ``shot-heatmaps`` and
``videomae-features`` artifacts it yields one item per shot that has both a heatmap and
tokens and a known shooter (label 0-4), as :mod:`generators.trainers.shooter.batch` describes:
``heatmaps`` float32 [16, 14, 14, 18] (channels 0-4 are the O1-O5 player masks), ``tokens``
float16 [t*14*14, D], ``token_grid``, ``label``, and ``game`` / ``shot`` to trace it back.

Checked when the data set is made, never guessed later (a failure is a
:class:`~artifacts.errors.ContractError` whose message is the diff):

- the heatmaps' channel layout version, grid and channel count are the ones this reader knows;
- the tokens' grid aligns with the heatmaps' (same h and w; t divides the 16 frames) and every
  game's tokens have the same family, grid and hidden size (one model per training run);
- each shot's window (camera, x0, y0, first frame) is the same in both artifacts, so heatmap
  patch (i, j) of frame f and token (f * t // 16, i, j) saw the same pixels.

Shots left out are counted by reason (``skipped``): no window, shooter unknown.
Items are read lazily; the data set pickles without open files, so it works with DataLoader
workers (each maps the token files again on first read).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from torch.utils.data import Dataset

from artifacts.errors import ContractError, UsageError
from artifacts.layers import ArtifactReader
from artifacts.plan import Engine
from generators.layers.heatmaps.layout import LAYOUT_VERSION, SHAPE
from generators.layers.heatmaps.store import HeatmapArray
from generators.layers.videomae.cache import TokenCache, TokenExpectation, artifact_tokens
from generators.trainers.shooter.run import ShotArtifacts

HEATMAP_CONTRACTS = {"heatmap_layout": LAYOUT_VERSION, "heatmap_grid": list(SHAPE[:3]), "heatmap_channels": SHAPE[3]}
WINDOW_COLUMNS = ("camera", "x0", "y0", "first_frame")


def _reader(engine: Engine, ref: Any) -> ArtifactReader:
    manifest = engine.store.manifest(ref.layer, ref.game, ref.key)
    if manifest is None:
        raise UsageError(f"artifact {ref.layer} of game", ref.game, f"key {ref.key} is not in the store", f"run `artifacts build {ref.layer} --game {ref.game}`")
    return ArtifactReader(engine.store, manifest)


def check_heatmap_contracts(where: str, contracts: dict[str, Any]) -> None:
    """Raise :class:`ContractError` when a heatmap artifact's contracts differ from this reader's."""
    diff = [f"{k}: artifact has {contracts.get(k)!r}, reader expects {v!r}" for k, v in HEATMAP_CONTRACTS.items() if contracts.get(k) != v]
    if diff:
        raise ContractError(f"shot-heatmaps {where}", None, "; ".join(diff), "rebuild shot-heatmaps with this version, or read it with the matching reader")


def check_alignment(where: str, heat_grid: Sequence[int], token_grid: Sequence[int]) -> None:
    """Raise :class:`ContractError` unless tokens (t, h, w) align with heatmaps (T, H, W)."""
    T, H, W = heat_grid
    t, h, w = token_grid
    if (h, w) != (H, W) or t <= 0 or T % t:
        raise ContractError(f"grids of {where}", None, f"heatmaps {[T, H, W]} vs tokens {[t, h, w]}: the patch grids must be equal and t divide {T}",
                            "use a VideoMAE with 16-pixel patches on the same 224x224 window")


class ShotDataset(Dataset[dict[str, Any]]):
    """Shots of several games (see the module doc). ``index[i] = (game position, heatmap row, token row, label)``."""

    def __init__(self, games: list[str], heatmaps: list[HeatmapArray], tokens: list[TokenCache], index: NDArray[np.int64],
                 skipped: Counter[str]) -> None:
        self.games, self.heatmaps, self.tokens, self.index, self.skipped = games, heatmaps, tokens, index, skipped
        self.token_grid = tokens[0].header.grid if tokens else (SHAPE[0], SHAPE[1], SHAPE[2])

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        g, hrow, trow, label = (int(v) for v in self.index[i])
        return {"heatmaps": self.heatmaps[g].read([hrow])[0], "tokens": self.tokens[g].read([trow])[0], "token_grid": self.token_grid,
                "label": label, "game": self.games[g], "shot": trow}

    @property
    def labels(self) -> NDArray[np.int64]:
        return self.index[:, 3].copy()


def shot_dataset(engine: Engine, games: Sequence[ShotArtifacts], family: str | None = None) -> ShotDataset:
    """The data set over ``games`` (see the module doc); ``family`` pins the feature family."""
    names: list[str] = []
    heat: list[HeatmapArray] = []
    toks: list[TokenCache] = []
    rows: list[NDArray[np.int64]] = []
    skipped: Counter[str] = Counter()
    expect: TokenExpectation | None = TokenExpectation(family=family) if family else None
    for g, art in enumerate(games):
        hr, fr = _reader(engine, art.heatmaps), _reader(engine, art.features)
        check_heatmap_contracts(f"of game {art.game}", hr.manifest.contracts)
        cache = artifact_tokens(fr, expect)
        check_alignment(f"game {art.game}", SHAPE[:3], cache.header.grid)
        if expect is None or expect.grid is None:  # every later game must match the first
            expect = TokenExpectation(family=cache.header.family, grid=cache.header.grid, hidden_dim=cache.header.hidden_dim)
        shots = hr.table("shots.parquet", columns=["shot", "heatmap_row", "label", *WINDOW_COLUMNS]).to_pydict()
        windows = fr.table("windows.parquet", columns=["shot", *WINDOW_COLUMNS]).to_pydict()
        by_shot = {s: tuple(windows[c][k] for c in WINDOW_COLUMNS) for k, s in enumerate(windows["shot"])}
        for k, shot in enumerate(shots["shot"]):
            mine = tuple(shots[c][k] for c in WINDOW_COLUMNS)
            if shots["heatmap_row"][k] < 0:
                skipped["no window"] += 1
                continue
            theirs = by_shot.get(shot)
            if theirs != mine:
                raise ContractError(f"shot {shot} of game {art.game}", None,
                                    f"window {dict(zip(WINDOW_COLUMNS, mine, strict=True))} in shot-heatmaps vs {theirs} in videomae-features",
                                    "rebuild both layers with the same shot window version")
            if shots["label"][k] < 0:
                skipped["shooter unknown"] += 1
                continue
            rows.append(np.array([g, shots["heatmap_row"][k], shot, shots["label"][k]], np.int64))
        names.append(art.game)
        heat.append(HeatmapArray(hr.location("heatmaps.zarr")))
        toks.append(cache)
    index = np.stack(rows) if rows else np.zeros((0, 4), np.int64)
    return ShotDataset(names, heat, toks, index, skipped)
