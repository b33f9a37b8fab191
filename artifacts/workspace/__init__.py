"""The workspace: ``artifacts.toml``, the game catalog and the executor settings.

A workspace names its store, its models.yaml and its layers; the catalog (SQLite) holds its
games and their sources with cached digests. Depends on :mod:`artifacts.keys`.
"""

from __future__ import annotations

from artifacts.workspace.catalog import Catalog, MissingSource, Source, SourceSpec, read_listing
from artifacts.workspace.executor_settings import ExecutorSettings
from artifacts.workspace.workspace import Workspace, WorkspaceConfig, init_workspace

__all__ = [
    "Catalog",
    "ExecutorSettings",
    "MissingSource",
    "Source",
    "SourceSpec",
    "Workspace",
    "WorkspaceConfig",
    "init_workspace",
    "read_listing",
]
