"""Manifests and failure records: the JSON documents the store keeps beside artifacts.

A manifest is the commit point of an artifact: written last, it records the recipe, every
output file with its size and content digest, timings, library versions and who built it.
An artifact without a manifest does not exist.
"""

from __future__ import annotations

import getpass
import importlib.metadata
import platform
import socket
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from artifacts.keys import Recipe

MANIFEST_FORMAT = 1


class OutputFile(BaseModel):
    """One file of an artifact, relative to the artifact's data directory."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    path: str
    size: int
    digest: str


class Timings(BaseModel):
    """When and how long. ``build_s`` is the generator alone; ``total_s`` adds the framework."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    started: str
    finished: str
    build_s: float
    total_s: float


class Builder(BaseModel):
    """Who built an artifact and with which libraries."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    host: str
    user: str
    pid: int
    attempt: str
    versions: dict[str, str]


class Manifest(BaseModel):
    """The record stored with an artifact; see the module docstring."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    format: Literal[1] = 1
    layer: str
    game: str
    key: str
    recipe: Recipe
    data: str
    outputs: list[OutputFile]
    contracts: dict[str, JsonValue] = {}
    timings: Timings
    builder: Builder
    chunks: int = 0  # how many committed chunks it was merged from; 0: built whole


class FailureRecord(BaseModel):
    """Why the last attempt at (layer, game, key) failed. Removed when it later succeeds."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    layer: str
    game: str
    key: str
    error: str
    message: str
    transient: bool
    attempts: int
    at: str
    host: str
    detail: str


_VERSION_OF = ("artifacts-framework", "pyarrow", "zarr", "numpy", "xxhash", "fsspec", "pydantic", "polars", "torch")


def library_versions() -> dict[str, str]:
    """Versions of Python and of the installed libraries that can affect outputs."""
    out = {"python": platform.python_version()}
    for dist in _VERSION_OF:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry inside some containers
        return "unknown"


def host_name() -> str:
    return socket.gethostname()
