"""Weights files: a module's tensors and the config that rebuilds it, in one safetensors file.

A file holds the module's ``state_dict`` tensors (float32, CPU, contiguous) and one metadata
entry, ``model``: canonical JSON (sorted keys) ``{"format": ..., "config": {...}}``, the model
kind that wrote it (e.g. ``footpoint-detector/1``) and the pydantic config that rebuilds the
network. Reading checks the format and validates the config, so a file of another kind, an
older layout or a corrupt header fails with one line naming the file. Nothing is unpickled.

One metadata entry, not several: safetensors keeps the metadata in a hash map whose order
changes from process to process, so two entries would make the bytes (and the digest) of the
same weights differ between runs. Tensors are ordered by the library (dtype, then name).
"""

from __future__ import annotations

import json
import os
from typing import ClassVar, Generic, Self, TypeVar, cast

import torch
from pydantic import BaseModel, ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from artifacts.errors import ModelWeightsError

C = TypeVar("C", bound=BaseModel)
N = TypeVar("N", bound=torch.nn.Module)

METADATA_KEY = "model"


def save_weights(path: str | os.PathLike[str], module: torch.nn.Module, fmt: str, config: BaseModel) -> None:
    """Write ``module``'s tensors with ``fmt`` and ``config`` as metadata to ``path``."""
    tensors = {name: t.detach().to("cpu", torch.float32).contiguous().clone() for name, t in module.state_dict().items()}
    meta = json.dumps({"format": fmt, "config": config.model_dump(mode="json")}, sort_keys=True, separators=(",", ":"))
    save_file(tensors, os.fspath(path), metadata={METADATA_KEY: meta})


def load_weights(path: str | os.PathLike[str], fmt: str, config_type: type[C]) -> tuple[C, dict[str, torch.Tensor]]:
    """The config and the tensors (on CPU) of the weights file at ``path``, which must be ``fmt``."""
    name = os.fspath(path)
    try:
        with safe_open(name, framework="pt") as f:
            meta = f.metadata() or {}
            names = f.keys()
            tensors = {k: f.get_tensor(k) for k in names}
    except (OSError, SafetensorError) as e:
        raise ModelWeightsError("weights file", name, f"cannot be read as safetensors ({e})", "pass the file a training run wrote") from e
    try:
        model = json.loads(meta.get(METADATA_KEY, "{}"))
    except ValueError:
        model = {}
    found = model.get("format") if isinstance(model, dict) else None
    if found != fmt:
        raise ModelWeightsError("weights file", name, f"holds format {found!r}, not {fmt!r}", "pass weights of this model kind")
    try:
        config = config_type.model_validate(model.get("config"))
    except ValidationError as e:
        raise ModelWeightsError("weights file", name, f"has an invalid config ({e.errors()[0]['msg']})", "retrain or pass another file") from e
    return config, tensors


def restore(module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: str | os.PathLike[str]) -> None:
    """Load ``tensors`` into ``module`` exactly (same names and shapes), or fail naming ``path``."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise ModelWeightsError("weights file", os.fspath(path), f"does not fit its config ({first})", "retrain or pass another file") from e


def inference_device() -> torch.device:
    """CUDA when a GPU is usable, else the CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


class TrainedModel(Generic[C, N]):
    """A trained network ``net`` with the config ``config`` that built it, in eval mode on an
    inference device (CUDA when present), read from and written to one weights file.

    Subclasses set ``weights_format`` and ``config_type`` and say how a config builds its
    untrained network (:meth:`network`); ``from_weights`` and ``save`` are then the model
    role's plugin interface (``artifacts/registry/modelimpl.py``).
    """

    weights_format: ClassVar[str]
    config_type: ClassVar[type[BaseModel]]

    def __init__(self, config: C, net: N, device: torch.device | None = None) -> None:
        self.config = config
        self.device = device or inference_device()
        self.net: N = net.to(self.device).eval()

    @classmethod
    def network(cls, config: C) -> N:
        """The untrained network that ``config`` describes."""
        raise NotImplementedError

    @classmethod
    def from_weights(cls, path: str | os.PathLike[str]) -> Self:
        """The model in the safetensors file at ``path`` (config from its metadata)."""
        config, tensors = load_weights(path, cls.weights_format, cls.config_type)
        typed = cast(C, config)
        net = cls.network(typed)
        restore(net, tensors, path)
        return cls(typed, net)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the weights and config to ``path`` (safetensors)."""
        save_weights(path, self.net, self.weights_format, self.config)
