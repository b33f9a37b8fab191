"""A learnable synthetic shot data set in the reader's item format (for tests and benchmarks).

Each shot places five offensive players, five defenders and a referee as 16x32-pixel boxes
moving over a ``grid*16``-pixel window for ``frames`` frames, and fills the 18 channels as the
seed defines them (presence masks, shot patch, sub-patch x/y, distance field, confidence).
The shooter stands on the shot origin at the release frame (``frames // 2``). With
probability ``decoy`` another offensive player stands on the origin at release too, so the
heatmaps alone cannot tell them apart; the video tokens can: tokens of the cells the shooter
covers (the ball in hand) carry a fixed direction (drawn from ``look``) times ``video_signal``, over unit noise.
Everything is drawn from ``seed``; the same arguments give the same tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from generators.trainers.shooter.config import CHANNELS, PLAYERS

PATCH = 16
BOX_W, BOX_H = 16, 32  # a player's box above the foot point, in pixels


class SyntheticSpec(BaseModel):
    """What the synthetic shots look like."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shots: int = Field(default=256, ge=1)
    frames: int = Field(default=16, ge=2)
    grid: int = Field(default=14, ge=4)
    token_frames: int = Field(default=16, ge=1)
    token_dim: int = Field(default=32, ge=1)
    decoy: float = Field(default=0.3, ge=0, le=1)
    """Probability that a second offensive player stands on the origin at release."""
    video_signal: float = Field(default=1.0, ge=0)
    """Amplitude of the shooter's direction in the tokens (0: the video carries no signal)."""
    absent: float = Field(default=0.2, ge=0, le=1)
    """Probability that a non-shooting offensive player is outside the window (an empty mask)."""
    seed: int = 0
    look: int = 0
    """Seed of the shooter's direction in token space; train and held-out sets share it."""


def _masks(x: NDArray[np.float64], y: NDArray[np.float64], grid: int) -> NDArray[np.bool_]:
    """Boxes with foot points (x, y) [..., ] -> [..., grid, grid] cells they overlap."""
    lo = np.arange(grid) * PATCH
    hi = lo + PATCH
    cols = (x[..., None] + BOX_W / 2 > lo) & (x[..., None] - BOX_W / 2 < hi)
    rows = (y[..., None] > lo) & (y[..., None] - BOX_H < hi)
    out: NDArray[np.bool_] = rows[..., :, None] & cols[..., None, :]
    return out


class SyntheticShots(torch.utils.data.Dataset[dict[str, Any]]):
    """``spec.shots`` shots in the reader's item format (see :mod:`generators.trainers.shooter.batch`)."""

    def __init__(self, spec: SyntheticSpec) -> None:
        if spec.frames % spec.token_frames:
            raise ValueError(f"token_frames {spec.token_frames} does not divide frames {spec.frames}")
        self.spec = spec
        rng = np.random.default_rng(spec.seed)
        n, t, g = spec.shots, spec.frames, spec.grid
        size = g * PATCH
        release = t // 2
        labels = rng.integers(0, PLAYERS, n)
        origin = size / 2 + rng.uniform(-size / 5, size / 5, (n, 2))  # the window is centred near the origin
        # 11 people: O1-O5, D1-D5, a referee; random walks of a few pixels a frame, pinned at release
        start = rng.uniform(0, size, (n, 11, 2))
        steps = rng.normal(0, 3, (n, 11, t, 2))
        walk = np.cumsum(steps, axis=2)
        pos = start[:, :, None, :] + walk - walk[:, :, release:release + 1, :]
        rows = np.arange(n)
        pos[rows, labels] += (origin - start[rows, labels])[:, None, :]  # the shooter is on the origin at release
        decoys = rng.random(n) < spec.decoy
        other = (labels + rng.integers(1, PLAYERS, n)) % PLAYERS
        near = origin + rng.uniform(-4, 4, (n, 2))
        pos[rows[decoys], other[decoys]] += (near[decoys] - pos[rows[decoys], other[decoys], release])[:, None, :]
        gone = (rng.random((n, PLAYERS)) < spec.absent) & (np.arange(PLAYERS)[None, :] != labels[:, None])
        gone &= ~(decoys[:, None] & (np.arange(PLAYERS)[None, :] == other[:, None]))
        pos[:, :PLAYERS][gone] += 10 * size  # far outside the window: an empty mask

        cells = _masks(pos[..., 0], pos[..., 1], g)  # [n, 11, T, g, g]
        hm = np.zeros((n, t, g, g, CHANNELS), dtype=np.float32)
        hm[..., 0:10] = cells[:, :10].transpose(0, 2, 3, 4, 1)
        hm[..., 12] = cells[:, 10]
        ci = np.clip((origin // PATCH).astype(int), 0, g - 1)  # (col, row) of the shot patch
        hm[rows, :, ci[:, 1], ci[:, 0], 13] = 1.0
        hm[rows, :, ci[:, 1], ci[:, 0], 14] = ((origin[:, 0] - ci[:, 0] * PATCH) / PATCH)[:, None]
        hm[rows, :, ci[:, 1], ci[:, 0], 15] = ((origin[:, 1] - ci[:, 1] * PATCH) / PATCH)[:, None]
        centres = (np.arange(g) + 0.5) * PATCH
        d = np.hypot(centres[None, None, :] - origin[:, 0, None, None], centres[None, :, None] - origin[:, 1, None, None])
        hm[..., 16] = np.minimum(d / 128.0, 1.0)[:, None]
        conf = rng.uniform(0.5, 1.0, (n, 11, t))
        hm[..., 17] = (cells * conf[..., None, None]).max(axis=1)

        direction = np.random.default_rng([spec.look, 7919]).normal(0, 1, spec.token_dim)  # the "ball in hand" look
        direction *= np.sqrt(spec.token_dim) / np.linalg.norm(direction)
        tok = rng.normal(0, 1, (n, spec.token_frames, g, g, spec.token_dim))
        shooter = np.any(cells[rows, labels].reshape(n, spec.token_frames, t // spec.token_frames, g, g), axis=2)
        tok += spec.video_signal * shooter[..., None] * direction
        self.heatmaps = torch.from_numpy(hm)
        self.tokens = torch.from_numpy(tok.reshape(n, -1, spec.token_dim).astype(np.float16))
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.token_grid = (spec.token_frames, g, g)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"heatmaps": self.heatmaps[i], "tokens": self.tokens[i], "token_grid": self.token_grid, "label": int(self.labels[i])}
