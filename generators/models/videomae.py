"""The ``videomae`` role: transformers' ``VideoMAEModel`` turning 16-frame clips into tokens.

models.yaml names it as ``implementation: generators.models.videomae:VideoMAEFeatures``; the
framework builds it with :meth:`VideoMAEFeatures.from_weights` on the digest-verified weights.

Weights: one safetensors file (one file, one digest in models.yaml) holding the encoder's
``state_dict`` in float32 and, as metadata, the :class:`VideoMAEArch` that rebuilds the
``VideoMAEConfig`` (format ``videomae/1``, written by :mod:`generators.models.weights`).
:meth:`from_weights` also takes a local directory written by ``save_pretrained`` (a downloaded
checkpoint, loaded with ``local_files_only``: nothing is ever fetched from a hub); the engine
digests files only, so convert such a directory with ``python -m generators.models.videomae_weights OUT
--from-pretrained DIR`` before naming it in models.yaml.

Input: uint8 RGB clips ``[B, T, H, W, 3]`` (T = ``num_frames``, H = W = ``image_size``).
Preprocessing is VideoMAE's: scale to [0, 1], normalise with the ImageNet mean and standard
deviation, lay out as ``[B, T, C, H, W]``. Output: the encoder's last hidden state, ``[B, L, D]``
with L = t*h*w tokens in row-major (t, h, w) order over :attr:`VideoMAEFeatures.grid` (the
Conv3d patch embedding flattens that way), cast to float16. Inference runs in float32, in
batches, on CUDA when present and on the CPU otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from transformers import VideoMAEConfig, VideoMAEModel

from artifacts.errors import ModelWeightsError
from generators.models.training import reproducible
from generators.models.weights import inference_device, load_weights, restore, save_weights

FORMAT = "videomae/1"
FAMILY = "videomae"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VideoMAEArch(BaseModel):
    """The encoder's architecture: the ``VideoMAEConfig`` fields that shape its weights and outputs.

    Decoder and pre-training fields are left out on purpose: features come from the encoder.
    The defaults are the small seeded configuration of the demo (see :mod:`generators.models.videomae_weights`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    image_size: int = Field(default=224, gt=0)
    patch_size: int = Field(default=16, gt=0)
    num_channels: int = 3
    num_frames: int = Field(default=16, gt=0)
    tubelet_size: int = Field(default=1, gt=0)
    hidden_size: int = Field(default=64, gt=0)
    num_hidden_layers: int = Field(default=2, ge=1)
    num_attention_heads: int = Field(default=4, ge=1)
    intermediate_size: int = Field(default=256, gt=0)
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    qv_bias: bool = True
    use_mean_pooling: bool = False
    initializer_range: float = 0.02

    def config(self) -> VideoMAEConfig:
        return VideoMAEConfig(**self.model_dump())

    @classmethod
    def of(cls, config: VideoMAEConfig) -> VideoMAEArch:
        return cls.model_validate({name: getattr(config, name) for name in cls.model_fields})

    @property
    def grid(self) -> tuple[int, int, int]:
        """``(t, h, w)`` of the token grid."""
        side = self.image_size // self.patch_size
        return (self.num_frames // self.tubelet_size, side, side)


class VideoMAEFeatures:
    """A ``VideoMAEModel`` ready for inference, with VideoMAE's preprocessing."""

    family = FAMILY

    def __init__(self, arch: VideoMAEArch, net: VideoMAEModel, device: torch.device | None = None) -> None:
        self.arch = arch
        self.device = device or inference_device()
        # nn.Module's own to/eval: transformers' decorated overrides are untyped for mypy
        torch.nn.Module.to(net, self.device)
        torch.nn.Module.eval(net)
        self.net = net
        shape = (1, 1, 3, 1, 1)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(shape)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(shape)

    @classmethod
    def seeded(cls, arch: VideoMAEArch, seed: int) -> VideoMAEFeatures:
        """Freshly initialised weights drawn from ``seed`` alone: the same bytes on every run (CPU, one thread)."""
        with reproducible(seed, threads=1):
            net = VideoMAEModel(arch.config())
        return cls(arch, net, torch.device("cpu"))

    @classmethod
    def from_weights(cls, path: str | os.PathLike[str]) -> VideoMAEFeatures:
        """The model in the safetensors file at ``path``, or in a local ``save_pretrained`` directory."""
        p = Path(path)
        if p.is_dir():
            return cls.from_pretrained_dir(p)
        arch, tensors = load_weights(p, FORMAT, VideoMAEArch)
        with torch.random.fork_rng(devices=[]):  # the throw-away initialisation must not move the caller's RNG
            net = VideoMAEModel(arch.config())
        restore(net, tensors, p)
        return cls(arch, net)

    @classmethod
    def from_pretrained_dir(cls, directory: Path) -> VideoMAEFeatures:
        """A checkpoint directory (``config.json`` + weights) saved by transformers, read locally only."""
        try:
            net = VideoMAEModel.from_pretrained(str(directory), local_files_only=True)
        except (OSError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelWeightsError("videomae checkpoint directory", str(directory), f"cannot be loaded ({first})", "pass a directory written by save_pretrained") from e
        return cls(VideoMAEArch.of(net.config), net)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the weights and architecture to ``path`` (safetensors, reproducible bytes)."""
        save_weights(path, self.net, FORMAT, self.arch)

    @property
    def grid(self) -> tuple[int, int, int]:
        return self.arch.grid

    @property
    def tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    @property
    def hidden_dim(self) -> int:
        return self.arch.hidden_size

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        """``(T, H, W, 3)`` of one input clip."""
        s = self.arch.image_size
        return (self.arch.num_frames, s, s, 3)

    def preprocess(self, clips: NDArray[np.uint8] | torch.Tensor) -> torch.Tensor:
        """uint8 ``[B, T, H, W, 3]`` to normalised float32 ``[B, T, C, H, W]`` on the model's device."""
        x = torch.as_tensor(clips).to(self.device, non_blocking=True)
        x = x.permute(0, 1, 4, 2, 3).float().div_(255.0)
        return x.sub_(self._mean).div_(self._std)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The last hidden state ``[B, L, D]`` (float32) of preprocessed ``pixel_values``."""
        with torch.inference_mode():
            out: torch.Tensor = self.net(pixel_values=pixel_values).last_hidden_state
        return out

    def encode(self, clips: NDArray[np.uint8], batch_size: int = 4, out: NDArray[np.float16] | None = None) -> NDArray[np.float16]:
        """Tokens ``[N, L, D]`` float16 of uint8 clips ``[N, T, H, W, 3]``, ``batch_size`` clips at a time.

        Written into ``out`` when given (any ``[N, L, D]`` float16 array, e.g. a memmap slice).
        """
        if clips.ndim != 5 or tuple(clips.shape[1:]) != self.clip_shape or clips.dtype != np.uint8:
            raise ValueError(f"clips of shape {clips.shape} {clips.dtype}: expected [N, {', '.join(map(str, self.clip_shape))}] uint8")
        n = clips.shape[0]
        if out is None:
            out = np.empty((n, self.tokens, self.hidden_dim), np.float16)
        for start in range(0, n, batch_size):
            tokens = self.forward(self.preprocess(clips[start : start + batch_size]))
            out[start : start + tokens.shape[0]] = tokens.to(torch.float16).cpu().numpy()
        return out


def arch_preset(name: Literal["small", "tiny", "base"], tubelet: int = 1) -> VideoMAEArch:
    """Named configurations: ``small`` (the demo's), ``tiny`` (tests) and ``base`` (ViT-B sizes, for timing)."""
    if name == "tiny":
        return VideoMAEArch(tubelet_size=tubelet, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    if name == "base":
        return VideoMAEArch(tubelet_size=tubelet, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    return VideoMAEArch(tubelet_size=tubelet)
