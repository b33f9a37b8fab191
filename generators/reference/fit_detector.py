"""Training the foot-point detector on rendered views.

Targets, per frame at the detector's 1/4 resolution: a Gaussian bump (``sigma_cells``) at every
visible foot-point whose figure is at least ``min_visible_frac`` in view, equal to 1 exactly at
the foot-point's cell; the foot-point's sub-cell offset at that cell; and an ignore disc
around the foot-points of people who are in frame but mostly hidden (neither a miss nor a
false alarm). Loss: the CenterNet focal loss on the heatmap plus L1 on the offsets, both over
the number of foot-points. Batches are random patches (aligned to 8 px, half of them mirrored)
drawn by a seeded numpy generator; the network is initialised by the seeded torch generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from generators.models.detector import ALIGN, STRIDE, DetectorConfig, DetectorNet, FootpointDetector, to_input
from generators.models.training import cosine_lr, set_lr
from generators.reference.data import View

IGNORE_RADIUS_CELLS = 2.0


class DetectorTraining(BaseModel):
    """Settings of one detector training run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(default=1000, ge=1)
    batch: int = Field(default=8, ge=1)
    patch: tuple[int, int] = (160, 160)
    """Patch ``(h, w)``, multiples of 8 and at most the frame size."""
    lr: float = Field(default=3e-3, gt=0)
    min_visible_frac: float = Field(default=0.3, ge=0, le=1)
    sigma_cells: float = Field(default=0.75, gt=0)


@dataclass(frozen=True)
class Targets:
    """Per-frame training targets at 1/4 resolution: ``[T, h, w]`` and offsets ``[T, 2, h, w]``."""

    heat: NDArray[np.float32]
    offset: NDArray[np.float32]
    positive: NDArray[np.bool_]
    ignore: NDArray[np.bool_]


def targets(view: View, min_visible_frac: float, sigma_cells: float) -> Targets:
    """The heatmap, offset, positive and ignore targets of every frame of ``view``."""
    t, fh, fw = view.frames.shape[:3]
    h, w = -(-fh // STRIDE), -(-fw // STRIDE)
    heat = np.zeros((t, h, w), np.float32)
    offset = np.zeros((t, 2, h, w), np.float32)
    positive = np.zeros((t, h, w), bool)
    ignore = np.zeros((t, h, w), bool)
    rows = np.arange(h, dtype=np.float32)[:, None] + 0.5
    cols = np.arange(w, dtype=np.float32)[None, :] + 0.5
    for f in range(t):
        for k in np.flatnonzero(view.visible[f]):
            cx, cy = view.px[f, k] / STRIDE, view.py[f, k] / STRIDE
            d2 = (cols - cx) ** 2 + (rows - cy) ** 2
            if view.visible_frac[f, k] < min_visible_frac:
                ignore[f] |= d2 <= IGNORE_RADIUS_CELLS**2
                continue
            np.maximum(heat[f], np.exp(-d2 / (2 * sigma_cells**2)), out=heat[f])
            i, j = min(int(cy), h - 1), min(int(cx), w - 1)
            heat[f, i, j] = 1.0
            positive[f, i, j] = True
            offset[f, :, i, j] = (cx - j, cy - i)
    ignore &= ~positive
    return Targets(heat, offset, positive, ignore)


def loss(out: torch.Tensor, heat: torch.Tensor, offset: torch.Tensor, positive: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
    """Focal heatmap loss plus offset L1, over the number of foot-points (at least 1)."""
    logit = out[:, 0]
    n = positive.sum().clamp(min=1).float()
    p = torch.sigmoid(logit)
    pos = -(F.logsigmoid(logit) * (1 - p) ** 2)[positive].sum()
    negative = ~positive & ~ignore
    neg = -(F.logsigmoid(-logit) * p**2 * (1 - heat) ** 4)[negative].sum()
    off = (torch.sigmoid(out[:, 1:3]) - offset).abs().sum(dim=1)[positive].sum()
    return (pos + neg + off) / n


def fit_detector(
    views: Sequence[View], settings: DetectorTraining, config: DetectorConfig, seed: int, log: Callable[[str], None] | None = None,
) -> FootpointDetector:
    """Train a detector on ``views``; call inside :func:`generators.models.training.reproducible`."""
    ph, pw = settings.patch
    if ph % ALIGN or pw % ALIGN:
        raise ValueError(f"patch {settings.patch}: both sides must be multiples of {ALIGN}")
    tg = [targets(v, settings.min_visible_frac, settings.sigma_cells) for v in views]
    index = np.array([(v, f) for v, view in enumerate(views) for f in range(view.frames.shape[0])], dtype=np.int64)
    rng = np.random.default_rng([seed, 11])
    net = DetectorNet(config)
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    ch, cw = ph // STRIDE, pw // STRIDE
    for step in range(settings.steps):
        picks = index[rng.integers(index.shape[0], size=settings.batch)]
        img = np.empty((settings.batch, ph, pw, 3), np.uint8)
        heat = np.empty((settings.batch, ch, cw), np.float32)
        off = np.empty((settings.batch, 2, ch, cw), np.float32)
        pos = np.empty((settings.batch, ch, cw), bool)
        ign = np.empty((settings.batch, ch, cw), bool)
        for b, (v, f) in enumerate(picks):
            fh, fw = views[v].frames.shape[1:3]
            y0 = int(rng.integers((fh - ph) // ALIGN + 1)) * ALIGN
            x0 = int(rng.integers((fw - pw) // ALIGN + 1)) * ALIGN
            r0, c0 = y0 // STRIDE, x0 // STRIDE
            t = tg[v]
            img[b] = views[v].frames[f, y0 : y0 + ph, x0 : x0 + pw]
            heat[b], pos[b], ign[b] = t.heat[f, r0 : r0 + ch, c0 : c0 + cw], t.positive[f, r0 : r0 + ch, c0 : c0 + cw], t.ignore[f, r0 : r0 + ch, c0 : c0 + cw]
            off[b] = t.offset[f, :, r0 : r0 + ch, c0 : c0 + cw]
            if rng.integers(2):
                img[b], heat[b], pos[b], ign[b] = img[b, :, ::-1], heat[b, :, ::-1], pos[b, :, ::-1], ign[b, :, ::-1]
                off[b] = off[b, :, :, ::-1]
                off[b, 0] = np.where(pos[b], 1.0 - off[b, 0], 0.0)
        set_lr(optimizer, cosine_lr(settings.lr, step, settings.steps))
        out = net(to_input(img, torch.device("cpu")))
        value = loss(out, torch.from_numpy(heat), torch.from_numpy(off), torch.from_numpy(pos), torch.from_numpy(ign))
        optimizer.zero_grad(set_to_none=True)
        value.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        if log is not None and (step % 100 == 0 or step == settings.steps - 1):
            log(f"detector step {step + 1}/{settings.steps}: loss {value.item():.4f}")
    return FootpointDetector(config, net.eval(), torch.device("cpu"))
