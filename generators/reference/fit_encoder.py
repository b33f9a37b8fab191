"""Training the crop encoder on person crops cut from rendered views at true foot-points.

Each person visible in a frame (at least ``min_visible_frac`` of the figure in view) gives one
crop, cut with :func:`crop_boxes` and :func:`extract_crops` as inference cuts them, jittered:
the figure height scaled by a random factor, or replaced by the frame's default height (what
the frame-level layer uses when the height is unknown), and the foot-point shifted by a few
pixels (a detector's error). Labels: the person (the embedding's class), the jersey targets of
:func:`generators.models.jersey.targets` (ignored where less than ``jersey_min_visible_frac``
of the figure is in view: the number may be hidden), the team class.

Losses, summed with equal weights: CosFace (a normalised softmax with an additive margin) of
the embedding over the training people, cross-entropy of the objectness, of each applicable
digit and of the whole-number logits, and of the team.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from generators.models import jersey
from generators.models.crop_encoder import CropEncoder, CropEncoderConfig, CropEncoderNet, to_input
from generators.models.crops import crop_boxes, extract_crops
from generators.models.training import cosine_lr, set_lr
from generators.reference.data import REFEREE_TEAM, View
from generators.reference.repaint import random_numbers, repaint_number

REPAINT_MIN_VISIBLE_FRAC = 0.97


class EncoderTraining(BaseModel):
    """Settings of one crop-encoder training run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(default=12, ge=1)
    batch: int = Field(default=64, ge=2)
    lr: float = Field(default=2e-3, gt=0)
    min_visible_frac: float = Field(default=0.3, ge=0, le=1)
    jersey_min_visible_frac: float = Field(default=0.8, ge=0, le=1)
    height_jitter: tuple[float, float] = (0.85, 1.2)
    default_height_share: float = Field(default=0.3, ge=0, le=1)
    shift_px: float = Field(default=3.0, ge=0)
    ramp_epochs: int = Field(default=6, ge=0)
    """Epochs over which the crop jitter grows from none to full strength."""
    repaint_share: float = Field(default=0.8, ge=0, le=1)
    """Share of fully visible players whose number is repainted (:mod:`.repaint`)."""
    cosface_scale: float = Field(default=16.0, gt=0)
    cosface_margin: float = Field(default=0.25, ge=0)
    identity_weight: float = Field(default=0.3, ge=0)
    """Weight of the embedding's loss against the jersey and team losses (weight 1 each)."""


@dataclass(frozen=True)
class CropSet:
    """Crops ``[N, h, w, 3]`` with their labels, one row per (view, frame, person)."""

    crops: NDArray[np.uint8]
    identity: NDArray[np.int64]
    team: NDArray[np.int64]
    jersey: NDArray[np.int64]
    """``[N, 5]`` targets (objectness, single, tens, units, whole), :data:`jersey.IGNORE` where unknown."""
    number: NDArray[np.int64]
    """The true jersey number (-1: none)."""
    visible_frac: NDArray[np.float32]
    game_id: NDArray[np.str_]
    frame: NDArray[np.int64]
    repainted: NDArray[np.bool_]
    """Whether the crop wears a repainted number (it then teaches the jersey heads only)."""


def crop_set(
    views: Sequence[View], crop_size: tuple[int, int], *, min_visible_frac: float, jersey_min_visible_frac: float,
    rng: np.random.Generator | None = None, height_jitter: tuple[float, float] = (1.0, 1.0), default_height_share: float = 0.0,
    shift_px: float = 0.0, repaint_share: float = 0.0, use_true_height: bool = True,
) -> CropSet:
    """Crops of every sufficiently visible person of ``views``, jittered when ``rng`` is given.

    With ``rng``, ``repaint_share`` of the fully visible players get a random number painted
    on (:func:`repaint_number`, on a copy of the frame). Without ``rng`` the crops sit at the
    true foot-points, sized by the true figure height (``use_true_height``) or by the frame's
    default height.
    """
    keys = ("crops", "identity", "team", "number", "frac", "game", "frame", "repainted")
    parts: dict[str, list[NDArray[np.generic]]] = {k: [] for k in keys}
    for view in views:
        fh, fw = view.frames.shape[1:3]
        for f in range(view.frames.shape[0]):
            k = np.flatnonzero(view.visible[f] & (view.visible_frac[f] >= min_visible_frac))
            if k.size == 0:
                continue
            px, py = view.px[f, k].astype(np.float64), view.py[f, k].astype(np.float64)
            height = view.height_px[f, k].astype(np.float64) if use_true_height else np.full(k.size, np.nan)
            if rng is not None:
                height = height * rng.uniform(*height_jitter, size=k.size)
                height = np.where(rng.uniform(size=k.size) < default_height_share, np.nan, height)
                px = px + rng.uniform(-shift_px, shift_px, size=k.size)
                py = py + rng.uniform(-shift_px, shift_px, size=k.size)
            frame = view.frames[f]
            number = view.jersey[k].copy()
            repainted = np.zeros(k.size, dtype=bool)
            if rng is not None and repaint_share > 0:
                repainted = (view.team[k] != REFEREE_TEAM) & (view.visible_frac[f, k] >= REPAINT_MIN_VISIBLE_FRAC) & (rng.uniform(size=k.size) < repaint_share)
                if repainted.any():
                    frame = frame.copy()
                    number[repainted] = random_numbers(rng, int(repainted.sum()))
                    for j in np.flatnonzero(repainted):
                        p = k[j]
                        repaint_number(frame, float(view.px[f, p]), float(view.py[f, p]), float(view.height_px[f, p]), int(view.team[p]),
                                       int(view.jersey[p]), int(number[j]))
            boxes = crop_boxes(px, py, height, crop_size, (fh, fw))
            parts["crops"].append(extract_crops(frame, boxes, crop_size))
            parts["identity"].append(view.identity[k])
            parts["team"].append(view.team[k])
            parts["number"].append(number)
            parts["repainted"].append(repainted)
            parts["frac"].append(view.visible_frac[f, k])
            parts["game"].append(np.full(k.size, view.game_id))
            parts["frame"].append(np.full(k.size, view.frame_index[f], dtype=np.int64))
    if not parts["crops"]:
        raise ValueError("no visible person in the views: render longer or more games")
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    number = cat["number"].astype(np.int64)
    frac = cat["frac"].astype(np.float32)
    team = cat["team"].astype(np.int64)
    targets = jersey.targets(number)
    unreadable = (frac < jersey_min_visible_frac) & (team != REFEREE_TEAM)
    targets[unreadable] = jersey.IGNORE
    return CropSet(
        crops=cat["crops"].astype(np.uint8), identity=cat["identity"].astype(np.int64), team=team, jersey=targets, number=number,
        visible_frac=frac, game_id=cat["game"].astype(np.str_), frame=cat["frame"].astype(np.int64), repainted=cat["repainted"].astype(np.bool_),
    )


def loss(out_embedding: torch.Tensor, out_jersey: torch.Tensor, out_team: torch.Tensor, classifier: torch.Tensor,
         identity: torch.Tensor, team: torch.Tensor, targets: torch.Tensor, scale: float, margin: float, identity_weight: float = 1.0) -> torch.Tensor:
    """The summed multi-task loss of one batch (see the module doc); ``identity`` < 0: no embedding loss."""
    known = identity >= 0
    cos = out_embedding @ F.normalize(classifier, dim=1).T
    cos = cos - margin * F.one_hot(identity.clamp(min=0), classifier.shape[0]).to(cos.dtype)
    total = F.cross_entropy(out_team, team)
    if bool(known.any()):
        total = total + identity_weight * F.cross_entropy(scale * cos[known], identity[known])
    for column, part in enumerate((jersey.OBJECTNESS, jersey.SINGLE, jersey.TENS, jersey.UNITS, jersey.WHOLE)):
        t = targets[:, column]
        if bool((t != jersey.IGNORE).any()):
            total = total + F.cross_entropy(out_jersey[:, part], t, ignore_index=jersey.IGNORE)
    return total


def training_crops(views: Sequence[View], settings: EncoderTraining, crop_size: tuple[int, int], seed: int, epoch: int) -> CropSet:
    """The jittered, partly repainted crops of one epoch (fresh jitter and numbers every epoch).

    The jitter grows linearly from none in the first epoch to full strength at ``ramp_epochs``:
    the digits are learnt on crops of a constant geometry first, robustness to boxes after.
    """
    k = min(1.0, epoch / settings.ramp_epochs) if settings.ramp_epochs > 0 else 1.0
    lo, hi = settings.height_jitter
    return crop_set(views, crop_size, min_visible_frac=settings.min_visible_frac, jersey_min_visible_frac=settings.jersey_min_visible_frac,
                    rng=np.random.default_rng([seed, 13, epoch]), height_jitter=(1 + k * (lo - 1), 1 + k * (hi - 1)),
                    default_height_share=k * settings.default_height_share, shift_px=k * settings.shift_px, repaint_share=settings.repaint_share)


def fit_encoder(
    views: Sequence[View], settings: EncoderTraining, config: CropEncoderConfig, seed: int, log: Callable[[str], None] | None = None,
) -> CropEncoder:
    """Train a crop encoder on crops of ``views``; call inside :func:`generators.models.training.reproducible`.

    Every epoch cuts its own crops (:func:`training_crops`), so the jitter and the repainted
    numbers differ from epoch to epoch.
    """
    people = np.unique(np.concatenate([v.identity for v in views]))
    net = CropEncoderNet(config)
    net.train()
    classifier = torch.nn.Parameter(torch.randn(people.shape[0], config.embedding_dim) * 0.1)
    optimizer = torch.optim.Adam([*net.parameters(), classifier], lr=settings.lr)
    rng = np.random.default_rng([seed, 12])
    crop_size = (config.crop_h, config.crop_w)
    step = total = 0
    for epoch in range(settings.epochs):
        crops = training_crops(views, settings, crop_size, seed, epoch)
        n = crops.crops.shape[0]
        per_epoch = max(1, n // settings.batch)
        total = total or per_epoch * settings.epochs
        identity = np.where(crops.repainted, -1, np.searchsorted(people, crops.identity))
        identity_t, team_t, targets_t = torch.from_numpy(identity.astype(np.int64)), torch.from_numpy(crops.team), torch.from_numpy(crops.jersey)
        order = rng.permutation(n)
        running = 0.0
        for b in range(per_epoch):
            idx = np.sort(order[b * settings.batch : (b + 1) * settings.batch])
            set_lr(optimizer, cosine_lr(settings.lr, step, total))
            out = net(to_input(crops.crops[idx], torch.device("cpu")))
            it = torch.from_numpy(idx)
            value = loss(out.embedding, out.jersey, out.team, classifier, identity_t[it], team_t[it], targets_t[it],
                         settings.cosface_scale, settings.cosface_margin, settings.identity_weight)
            optimizer.zero_grad(set_to_none=True)
            value.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            running += value.item()
            step += 1
        if log is not None:
            log(f"crop encoder epoch {epoch + 1}/{settings.epochs}: {n} crops ({int(crops.repainted.sum())} repainted), loss {running / per_epoch:.4f}")
    return CropEncoder(config, net.eval(), torch.device("cpu"))
