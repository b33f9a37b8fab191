"""The configs and the report of the dual-stream model and its Phase 1 training (pydantic only).

Kept apart from the torch code so that the command line can build a request without
importing torch (that costs seconds; every other command would pay it).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

PLAYERS = 5  # offensive slots O1-O5: heatmap channels 0-4
CHANNELS = 18
RANDOM_BASELINE = 1.0 / PLAYERS


class StreamSizes(BaseModel):
    """The sizes a user chooses (the data fixes the rest, see :class:`DualStreamConfig`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    d_track: int = Field(default=256, ge=4)
    """Width of the track features, the queries and the fused features."""
    depth: int = Field(default=2, ge=0)
    """Blocks of the track encoder (the seed suggests 6 for a GPU; 2 keeps a CPU step cheap)."""
    heads: int = Field(default=4, ge=1)
    mlp_hidden: int = Field(default=128, ge=1)
    """Hidden width of the per-player classifier."""
    attention: Literal["clip", "frame"] = "clip"
    """``clip``: every track cell attends to every token; ``frame``: only to its own token frame."""

    @model_validator(mode="after")
    def _heads_divide(self) -> Self:
        if self.d_track % self.heads:
            raise ValueError(f"d_track {self.d_track} is not a multiple of heads {self.heads}")
        return self


class DualStreamConfig(StreamSizes):
    """Everything that rebuilds the network: :class:`StreamSizes` plus the data's geometry."""

    channels: int = Field(default=CHANNELS, ge=PLAYERS)
    frames: int = Field(default=16, ge=1)
    """T of the heatmaps."""
    grid: int = Field(default=14, ge=1)
    """H = W of the heatmaps and of the token grid."""
    token_frames: int = Field(default=16, ge=1)
    """t of the token grid: 16 for a VideoMAE tubelet of 1, 8 for a tubelet of 2."""
    token_dim: int = Field(default=768, ge=1)
    """D of the cached video tokens."""

    @model_validator(mode="after")
    def _frames_divide(self) -> Self:
        if self.frames % self.token_frames:
            raise ValueError(f"token_frames {self.token_frames} does not divide frames {self.frames}")
        return self

    @property
    def cells(self) -> int:
        return self.frames * self.grid * self.grid

    @property
    def tokens(self) -> int:
        return self.token_frames * self.grid * self.grid

    @property
    def token_grid(self) -> tuple[int, int, int]:
        return (self.token_frames, self.grid, self.grid)


class Phase1Config(BaseModel):
    """How Phase 1 trains; ``model`` holds the sizes, the data fixes the geometry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(default=15, ge=1)
    batch_size: int = Field(default=8, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    grad_clip: float = Field(default=1.0, gt=0)
    seed: int = 0
    threads: int = Field(default=1, ge=1)
    workers: int = Field(default=0, ge=0)
    """DataLoader worker processes (0: read in the training process)."""
    model: StreamSizes = StreamSizes()


class Evaluation(BaseModel):
    """Accuracy on a set of shots beside the baselines (fractions in [0, 1])."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shots: int
    accuracy: float
    random_baseline: float = RANDOM_BASELINE
    """A uniform guess over the five slots."""
    visible_chance: float
    """A uniform guess over the slots seen in the window (mean of 1 / visible slots)."""
    nearest_player: float
    """The heuristic: the slot nearest the shot origin at release (distance channel 16)."""
    unanswerable: int
    """Shots whose shooter's mask is empty (counted as misses)."""


class EpochLog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    epoch: int
    loss: float
    train_accuracy: float
    seconds: float


class Phase1Report(BaseModel):
    """What a Phase 1 run did and how well the result does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: Phase1Config
    model: DualStreamConfig
    parameters: int
    train_shots: int
    skipped_unanswerable: int
    """Training shots left out of the loss: their shooter's mask is empty."""
    steps: int
    seconds: float
    steps_per_s: float
    epochs: list[EpochLog]
    held_out: Evaluation
