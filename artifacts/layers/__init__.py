"""How a layer is declared and what it sees while it builds: the layer author's surface.

:class:`Generator` (declarations and ``build``), :class:`Params`, :class:`Resources`, the
:class:`BuildContext` handed to ``build`` (upstream artifacts, verified models, sources,
staging), the layer registry (entry points and import paths) and the layer DAG. Chunked
tasks (issue 11) declare their chunks here. Depends on store, registry, workspace and keys.
"""

from __future__ import annotations

from artifacts.layers.checks import SourceCheck, SourceChecker, checks_of, selector_matches
from artifacts.layers.chunks import Chunk, ChunkContext, ChunkPlan, ChunkReader
from artifacts.layers.context import ArtifactReader, BuildContext, ModelHandle, OutputsReader
from artifacts.layers.dag import LayerDag
from artifacts.layers.generator import Generator, resolve_params, select_sources, validate_generator
from artifacts.layers.params import Params
from artifacts.layers.registry import LayerRegistry
from artifacts.layers.resources import Resources

__all__ = [
    "ArtifactReader",
    "BuildContext",
    "Chunk",
    "ChunkContext",
    "ChunkPlan",
    "ChunkReader",
    "Generator",
    "LayerDag",
    "LayerRegistry",
    "ModelHandle",
    "OutputsReader",
    "Params",
    "Resources",
    "SourceCheck",
    "SourceChecker",
    "checks_of",
    "resolve_params",
    "select_sources",
    "selector_matches",
    "validate_generator",
]
