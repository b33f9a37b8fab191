"""A content-addressed artifact/precompute framework for the tracking-to-training DAG.

The public surface for layer authors: :class:`Generator`, :class:`Params`,
:class:`BuildContext`, :class:`ArtifactReader`, :class:`ModelHandle`, :class:`Resources`,
:class:`TransientError` and :class:`ArtifactsError`. Everything else is reached through
:mod:`artifacts.api` and the ``artifacts`` command; the subpackages and the order in which
they may import each other are described in ``docs/architecture.md``.

The layer names are loaded on first use (``from artifacts import Generator``), so that
importing :mod:`artifacts.errors` or :mod:`artifacts.api` does not load the build context.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from artifacts.errors import ArtifactsError, TransientError

if TYPE_CHECKING:
    from artifacts.layers import ArtifactReader, BuildContext, Generator, ModelHandle, Params, Resources

_FROM_LAYERS = frozenset({"ArtifactReader", "BuildContext", "Generator", "ModelHandle", "Params", "Resources"})

__all__ = [
    "ArtifactReader",
    "ArtifactsError",
    "BuildContext",
    "Generator",
    "ModelHandle",
    "Params",
    "Resources",
    "TransientError",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _FROM_LAYERS:
        return getattr(importlib.import_module("artifacts.layers"), name)
    raise AttributeError(f"module 'artifacts' has no attribute {name!r}")
