"""Model 1, the foot-point detector: video frames in, players' foot-points out.

It is the model implementation of the ``detector`` role (``implementation:
generators.models.detector:FootpointDetector`` in models.yaml); the framework builds it with
:meth:`FootpointDetector.from_weights` on the digest-verified weights file.

Architecture (:class:`DetectorNet`), fully convolutional, so any frame size works:

- a stem of three 3x3 convolutions down to 1/4 resolution (strides 2, 2, 1);
- a context branch at 1/8 (a strided convolution, then dilations 2 and 4: a receptive field
  of about 100 px, more than a figure's height at 640x360), projected back and upsampled;
- a head at 1/4 resolution with three channels per cell: the foot-point heatmap logit and the
  foot-point's sub-cell offset (x, y), each a sigmoid in (0, 1) of the cell's width.

Decoding: a cell is a detection when its heatmap probability is the maximum of its 3x3
neighbourhood (max-pool NMS) and at least the threshold stored with the weights. Its foot-point
is ``((col + offset_x) * stride, (row + offset_y) * stride)`` in frame pixels, with the frame's
top-left corner at (0, 0) (the renderer's convention: pixel centres at half-integers).

The detector reads only pixels: nothing about the game, the camera or the truth.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from generators.models.weights import TrainedModel

FORMAT = "footpoint-detector/1"
STRIDE = 4
# The input's size must be a multiple of this (the 1/8 context branch); detect() pads.
ALIGN = 8
# Heatmap prior at initialisation: most cells hold no foot-point.
PRIOR = 0.01


class DetectorConfig(BaseModel):
    """Hyper-parameters that rebuild the network, and the decoding settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    widths: tuple[int, int, int] = (16, 32, 48)
    """Channels at 1/2, 1/4 and 1/8 resolution."""
    threshold: float = Field(default=0.4, gt=0.0, lt=1.0)
    """Least heatmap probability of a detection."""
    max_detections: int = Field(default=100, ge=1)
    """At most this many detections per frame, the most confident."""


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation), nn.ReLU(inplace=True))


class DetectorNet(nn.Module):
    """Frames ``[B, 3, H, W]`` (values in [-0.5, 0.5], H and W multiples of 8) to ``[B, 3, H/4, W/4]``.

    Channel 0 is the heatmap logit, channels 1-2 the offset logits (x, y).
    """

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        w2, w4, w8 = config.widths
        self.stem = nn.Sequential(_conv(3, w2, stride=2), _conv(w2, w4, stride=2), _conv(w4, w4))
        self.context = nn.Sequential(_conv(w4, w8, stride=2), _conv(w8, w8, dilation=2), _conv(w8, w8, dilation=4), nn.Conv2d(w8, w4, 1))
        self.head = nn.Sequential(_conv(w4, w4), nn.Conv2d(w4, 3, 1))
        bias = cast(nn.Conv2d, self.head[1]).bias
        if bias is not None:
            with torch.no_grad():
                bias[0] = float(np.log(PRIOR / (1 - PRIOR)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.stem(x)
        up = F.interpolate(self.context(a), scale_factor=2.0, mode="nearest")
        return cast(torch.Tensor, self.head(a + up))


def to_input(frames: NDArray[np.uint8] | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 frames ``[B, H, W, 3]`` as the network's float input ``[B, 3, H, W]`` on ``device``."""
    t = torch.as_tensor(frames).to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5)


def decode(out: torch.Tensor, threshold: float, max_detections: int, height: int, width: int) -> list[NDArray[np.float32]]:
    """Foot-points ``[k, 3]`` (px, py, confidence) per frame from the network's output.

    Peaks outside ``height`` x ``width`` (the padding) are dropped; rows are by confidence,
    highest first.
    """
    heat = torch.sigmoid(out[:, 0:1])
    offset = torch.sigmoid(out[:, 1:3])
    peak = (heat == F.max_pool2d(heat, 3, stride=1, padding=1)) & (heat >= threshold)
    result: list[NDArray[np.float32]] = []
    for b in range(out.shape[0]):
        rows, cols = torch.nonzero(peak[b, 0], as_tuple=True)
        conf = heat[b, 0, rows, cols]
        px = (cols.float() + offset[b, 0, rows, cols]) * STRIDE
        py = (rows.float() + offset[b, 1, rows, cols]) * STRIDE
        det = torch.stack([px, py, conf], dim=1).cpu().numpy().astype(np.float32)
        det = det[(det[:, 0] < width) & (det[:, 1] < height)]
        order = np.argsort(-det[:, 2], kind="stable")[:max_detections]
        result.append(np.ascontiguousarray(det[order]))
    return result


class FootpointDetector(TrainedModel[DetectorConfig, DetectorNet]):
    """A trained :class:`DetectorNet` with its decoding settings, ready for inference."""

    weights_format = FORMAT
    config_type = DetectorConfig

    @classmethod
    def network(cls, config: DetectorConfig) -> DetectorNet:
        return DetectorNet(config)

    @property
    def threshold(self) -> float:
        return self.config.threshold

    @property
    def max_detections(self) -> int:
        """The most detections :meth:`detect` returns per frame unless told otherwise."""
        return self.config.max_detections

    def detect(self, frames: NDArray[np.uint8], batch_size: int = 8, max_detections: int | None = None) -> list[NDArray[np.float32]]:
        """Foot-points of every frame of ``frames`` ``[B, H, W, 3]`` uint8 RGB.

        Returns one float32 array ``[k, 3]`` per frame: ``px, py`` in frame pixels (0 <= px < W,
        0 <= py < H) and the confidence in [threshold, 1], most confident first; at most
        ``max_detections`` rows (None: the maximum stored with the weights, :attr:`max_detections`).
        """
        if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames of shape {frames.shape} {frames.dtype}: expected [B, H, W, 3] uint8")
        if max_detections is not None and max_detections < 1:
            raise ValueError(f"max_detections {max_detections}: expected at least 1")
        cap = self.config.max_detections if max_detections is None else max_detections
        _, h, w, _ = frames.shape
        ph, pw = -h % ALIGN, -w % ALIGN
        result: list[NDArray[np.float32]] = []
        with torch.inference_mode():
            for start in range(0, frames.shape[0], batch_size):
                chunk = frames[start : start + batch_size]
                if ph or pw:
                    chunk = np.pad(chunk, ((0, 0), (0, ph), (0, pw), (0, 0)))
                out = self.net(to_input(chunk, self.device))
                result += decode(out, self.config.threshold, cap, h, w)
        return result
