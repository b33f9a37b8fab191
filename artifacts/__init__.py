"""A content-addressed artifact/precompute framework for the tracking-to-training DAG.

The public surface for layer authors: :class:`Generator`, :class:`Params`,
:class:`BuildContext`, :class:`TransientError`, :class:`Resources`. Everything else is reached through
:mod:`artifacts.api` and the ``artifacts`` command.
"""

from artifacts.context import ArtifactReader, BuildContext, ModelHandle
from artifacts.errors import ArtifactsError, TransientError
from artifacts.layer import Generator, Params
from artifacts.resources import Resources

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
