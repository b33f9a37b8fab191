"""Model 2, the crop encoder (Path A): one backbone, three heads, one person crop at a time.

It is the model implementation of the ``crop_encoder`` role (``implementation:
generators.models.crop_encoder:CropEncoder``); the framework builds it with
:meth:`CropEncoder.from_weights` on the digest-verified weights file. Crops come from
:func:`crop_boxes` and :func:`extract_crops` (re-exported here from :mod:`.crops`).

Architecture (:class:`CropEncoderNet`): three stages of two 3x3 convolutions (each with batch
normalisation and ReLU; the first of each stage with stride 2) take an ``h x w`` crop to
``h/8 x w/8``; the map is flattened, not pooled, so
the features keep where on the jersey a digit is, and a linear layer gives the shared feature.
Heads on that feature:

- appearance embedding: a linear layer, L2-normalised (``embedding_dim``);
- jersey number: objectness (3), digit logits (3 x 10) and a whole-number residual (100),
  combined as :mod:`generators.models.jersey` describes into the 133 features;
- preliminary team: probabilities over (team 0, team 1, referee).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from generators.models.crops import crop_boxes, extract_crops
from generators.models.jersey import JERSEY_DIM, compose_whole
from generators.models.weights import TrainedModel

__all__ = ["TEAM_CLASSES", "CropEncoder", "CropEncoderConfig", "CropEncoderNet", "CropFeatures", "crop_boxes", "extract_crops"]

FORMAT = "crop-encoder/1"
TEAM_CLASSES = ("team0", "team1", "referee")


class CropEncoderConfig(BaseModel):
    """Hyper-parameters that rebuild the network."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    crop_h: int = Field(default=64, ge=8, multiple_of=8)
    crop_w: int = Field(default=32, ge=8, multiple_of=8)
    widths: tuple[int, int, int] = (24, 48, 96)
    """Channels of the three stages (1/2, 1/4 and 1/8 resolution)."""
    feature_dim: int = Field(default=128, ge=1)
    embedding_dim: int = Field(default=64, ge=2)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


@dataclass(frozen=True)
class HeadOutputs:
    """The network's raw outputs for a batch (tensors, for training and for :class:`CropFeatures`)."""

    embedding: torch.Tensor  # [N, D], L2-normalised
    jersey: torch.Tensor  # [N, 133] logits
    team: torch.Tensor  # [N, 3] logits


class CropEncoderNet(nn.Module):
    """Crops ``[N, 3, h, w]`` (values in [-0.5, 0.5]) to :class:`HeadOutputs`."""

    def __init__(self, config: CropEncoderConfig) -> None:
        super().__init__()
        w1, w2, w3 = config.widths
        self.backbone = nn.Sequential(_conv(3, w1, stride=2), _conv(w1, w1), _conv(w1, w2, stride=2), _conv(w2, w2), _conv(w2, w3, stride=2), _conv(w3, w3))
        cells = (config.crop_h // 8) * (config.crop_w // 8)
        self.feature = nn.Sequential(nn.Flatten(), nn.Linear(w3 * cells, config.feature_dim), nn.ReLU(inplace=True))
        f = config.feature_dim
        self.embedding = nn.Linear(f, config.embedding_dim)
        self.objectness = nn.Linear(f, 3)
        self.digits = nn.Linear(f, 30)
        self.whole = nn.Linear(f, 100)
        self.team = nn.Linear(f, len(TEAM_CLASSES))

    def forward(self, x: torch.Tensor) -> HeadOutputs:
        fmap = cast(torch.Tensor, self.backbone(x))
        feat = cast(torch.Tensor, self.feature(fmap))
        obj = cast(torch.Tensor, self.objectness(feat))
        digits = cast(torch.Tensor, self.digits(feat))
        single, tens, units = digits[:, 0:10], digits[:, 10:20], digits[:, 20:30]
        whole = compose_whole(obj, single, tens, units) + cast(torch.Tensor, self.whole(feat))
        jersey = torch.cat([obj, single, tens, units, whole], dim=1)
        emb = F.normalize(cast(torch.Tensor, self.embedding(feat)), dim=1)
        return HeadOutputs(embedding=emb, jersey=jersey, team=cast(torch.Tensor, self.team(feat)))


def to_input(crops: NDArray[np.uint8] | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 crops ``[N, h, w, 3]`` as the network's float input ``[N, 3, h, w]`` on ``device``."""
    t = torch.as_tensor(crops).to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5)


@dataclass(frozen=True)
class CropFeatures:
    """Per-crop outputs of :meth:`CropEncoder.encode`, float32 numpy arrays with N rows.

    ``embedding`` ``[N, D]`` L2-normalised; ``jersey`` ``[N, 133]`` logits laid out as
    :mod:`generators.models.jersey` says; ``team`` ``[N, 3]`` probabilities over
    :data:`TEAM_CLASSES` (team 0, team 1, referee).
    """

    embedding: NDArray[np.float32]
    jersey: NDArray[np.float32]
    team: NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.embedding.shape[0])


class CropEncoder(TrainedModel[CropEncoderConfig, CropEncoderNet]):
    """A trained :class:`CropEncoderNet`, ready for inference."""

    weights_format = FORMAT
    config_type = CropEncoderConfig

    @classmethod
    def network(cls, config: CropEncoderConfig) -> CropEncoderNet:
        return CropEncoderNet(config)

    @property
    def crop_size(self) -> tuple[int, int]:
        """``(h, w)`` of the crops :meth:`encode` takes."""
        return (self.config.crop_h, self.config.crop_w)

    @property
    def embedding_dim(self) -> int:
        return self.config.embedding_dim

    def encode(self, crops: NDArray[np.uint8], batch_size: int = 512) -> CropFeatures:
        """Features of ``crops`` ``[N, h, w, 3]`` uint8 RGB, ``(h, w)`` = :attr:`crop_size`."""
        if crops.ndim != 4 or crops.shape[1:] != (*self.crop_size, 3) or crops.dtype != np.uint8:
            raise ValueError(f"crops of shape {crops.shape} {crops.dtype}: expected [N, {self.crop_size[0]}, {self.crop_size[1]}, 3] uint8")
        emb, jersey, team = [], [], []
        with torch.inference_mode():
            for start in range(0, crops.shape[0], batch_size):
                out = self.net(to_input(crops[start : start + batch_size], self.device))
                emb.append(out.embedding.float().cpu().numpy())
                jersey.append(out.jersey.float().cpu().numpy())
                team.append(torch.softmax(out.team, dim=1).float().cpu().numpy())
        if not emb:
            return CropFeatures(np.zeros((0, self.embedding_dim), np.float32), np.zeros((0, JERSEY_DIM), np.float32), np.zeros((0, len(TEAM_CLASSES)), np.float32))
        return CropFeatures(np.concatenate(emb).astype(np.float32), np.concatenate(jersey).astype(np.float32), np.concatenate(team).astype(np.float32))
