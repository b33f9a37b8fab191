"""The per-shot item the trainer reads, batching it, and the nearest-player heuristic.

A shot data set is any ``torch.utils.data.Dataset`` whose items are dicts with:

- ``heatmaps``: float32 [T, H, W, 18], the ``shot-heatmaps`` channels (0-4 are O1-O5);
- ``tokens``: float16 or float32 [t*H*W, D], the cached ``videomae-features`` tokens in
  (t, h, w) order, VideoMAE's own patch order;
- ``token_grid``: (t, H, W) of those tokens;
- ``label``: int, the shooter's slot 0-4 (a reader leaves out shots whose shooter is unknown).

Other keys (a game id, a shot index) are allowed and ignored. :func:`collate_shots` stacks
items into the batch dict the model takes; it refuses a batch whose token grids differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from artifacts.errors import UsageError
from generators.trainers.shooter.config import PLAYERS

DISTANCE_CHANNEL = 16  # min(d / 128, 1) to the shot origin, every cell


def collate_shots(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Items -> ``{"heatmaps" [B,T,H,W,18], "tokens" [B,N,D], "token_grid" (t,H,W), "label" [B] int64}``."""
    grids = {tuple(int(v) for v in item["token_grid"]) for item in items}
    if len(grids) != 1:
        raise UsageError("token grids in one batch", sorted(grids), "differ", "read features of one VideoMAE family per training run")
    return {
        "heatmaps": torch.stack([torch.as_tensor(item["heatmaps"], dtype=torch.float32) for item in items]),
        "tokens": torch.stack([torch.as_tensor(item["tokens"]) for item in items]),
        "token_grid": grids.pop(),
        "label": torch.tensor([int(item["label"]) for item in items], dtype=torch.int64),
    }


def nearest_player(heatmaps: torch.Tensor) -> torch.Tensor:
    """The heuristic baseline: per shot [B, T, H, W, 18], the slot nearest the shot origin.

    A slot's distance is the least value of the distance channel (16) over its mask cells at the
    release frame (``T // 2``, where the shot windows put it); a slot absent at release uses
    its least distance over the whole clip plus 1 (so any slot present at release wins); a slot
    never present cannot be chosen. Ties go to the lower slot. Returns int64 [B].
    """
    masks = heatmaps[..., :PLAYERS] > 0.5  # [B, T, H, W, 5]
    dist = heatmaps[..., DISTANCE_CHANNEL:DISTANCE_CHANNEL + 1].expand_as(masks)
    inf = torch.tensor(float("inf"), dtype=heatmaps.dtype)
    release = heatmaps.shape[1] // 2
    at_release = torch.where(masks[:, release], dist[:, release], inf).amin(dim=(1, 2))  # [B, 5]
    anywhere = torch.where(masks, dist, inf).amin(dim=(1, 2, 3)) + 1.0
    return torch.where(torch.isfinite(at_release), at_release, anywhere).argmin(dim=1)
