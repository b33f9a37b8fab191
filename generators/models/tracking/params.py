"""The tracker's fitted parameters and their weights file.

A tracker "version" is its parameters: :class:`TrackerParams` is stored as a safetensors file
(one 0-d tensor per field, float64 or int64, and ``format: tracker-params/1`` in its metadata) so that it is
a weights file like any other model's, digest-verified by the registry and loaded with
``safetensors.numpy`` (no torch). Writing the same parameters twice gives identical bytes, so
fitting twice gives the same weights digest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from artifacts.errors import ModelWeightsError

# One metadata entry, format and version together: safetensors writes its metadata map in
# hash order, so two entries would make equal parameters give different bytes from run to run.
FORMAT = "tracker-params/1"


class TrackerParams(BaseModel):
    """Parameters of :class:`generators.models.tracking.tracker.Tracker`.

    Distances are in the units of the foot-points the tracker is given (pixels or court
    units); the defaults suit pixel foot-points of 720p broadcast video at 25 fps.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    gate: float = Field(default=30.0, gt=0)
    """Largest distance between a track's predicted position and a detection one frame after
    the track was last seen; also the unit of the normalised motion cost (distance / gate)."""
    gate_growth: float = Field(default=0.5, ge=0)
    """Widening of the gate per additional frame a track went unseen: the gate after a gap of
    ``k`` frames is ``gate * (1 + gate_growth * (k - 1))`` (uncertainty grows with the gap)."""
    position_gain: float = Field(default=0.8, ge=0, le=1)
    """Alpha of the alpha-beta filter: how far a matched track's position moves from its
    prediction to the detection (1 = trust the detection fully)."""
    velocity_gain: float = Field(default=0.3, ge=0, le=1)
    """Beta of the alpha-beta filter, the velocity smoothing: the share of the prediction
    residual (per frame) added to the velocity (0 = never change, 1 = no smoothing)."""
    appearance_weight: float = Field(default=0.5, ge=0, le=1)
    """Weight of the appearance cost (cosine distance / 2) against the motion cost when
    embeddings are given: ``cost = (1 - w) * motion + w * appearance``."""
    appearance_momentum: float = Field(default=0.9, ge=0, lt=1)
    """A track's appearance is the running mean of its detections' unit embeddings with this
    momentum (higher = slower to change)."""
    max_age: int = Field(default=30, ge=1)
    """Frames a track survives unseen before it ends."""
    min_hits: int = Field(default=3, ge=1)
    """Detections a track needs, without a miss, before it is confirmed; tracks that are never
    confirmed are not reported (their detections get track id -1)."""
    new_track_confidence: float = Field(default=0.5, ge=0, le=1)
    """Least detection confidence that starts a new track (lower ones may still extend one)."""


def save_params(params: TrackerParams, path: str | Path) -> None:
    """Write ``params`` to ``path`` as a safetensors file (byte-identical for equal params)."""
    import numpy as np
    from safetensors.numpy import save_file

    tensors: dict[str, Any] = {}
    for name, value in params.model_dump().items():
        tensors[name] = np.array(value, dtype=np.int64 if isinstance(value, int) else np.float64)
    save_file(tensors, str(path), metadata={"format": FORMAT})


def load_params(path: str | Path) -> TrackerParams:
    """Read parameters written by :func:`save_params`.

    Raises :class:`ModelWeightsError` naming the file when it is not a tracker parameters
    file, lacks or adds a field, or holds a value out of range.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            names: list[str] = f.keys()
            values = {name: f.get_tensor(name) for name in names}
    except (OSError, SafetensorError) as e:
        raise ModelWeightsError("tracker weights", str(path), f"is not a readable safetensors file ({e})", "write it with Tracker.save") from None
    if metadata.get("format") != FORMAT:
        raise ModelWeightsError("tracker weights", str(path), f"has format {metadata.get('format')}, not {FORMAT}", "write it with Tracker.save")
    bad = [name for name, v in values.items() if v.shape != ()]
    if bad:
        raise ModelWeightsError("tracker weights", str(path), f"holds non-scalar tensors {bad}", "write it with Tracker.save")
    try:
        return TrackerParams.model_validate({name: v.item() for name, v in values.items()})
    except ValidationError as e:
        problem = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        raise ModelWeightsError("tracker weights", str(path), f"has invalid parameters ({problem})", "refit or rewrite them with Tracker.save") from None
