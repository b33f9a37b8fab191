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


class Signal(BaseModel):
    """What a build could not use or could not do in full, counted: nothing is lost in silence.

    ``skipped``: ``count`` of ``total`` input items (``what``, plural: "shots") could not be used;
    ``capped``: a model or limit hit its cap on ``count`` of ``total`` items ("frames"). ``reason``
    says why, ``fix`` what to do, ``examples`` names a few of the items (at most five).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: Literal["skipped", "capped"]
    what: str
    count: int
    total: int
    reason: str
    fix: str
    examples: list[str] = []

    def text(self) -> str:
        """One line: ``skipped 3 of 25 shots: origin visible in no camera (shot 4, shot 9); fix``."""
        eg = f" ({', '.join(self.examples)})" if self.examples else ""
        return f"{self.kind} {self.count:,} of {self.total:,} {self.what}: {self.reason}{eg}; {self.fix}"


def merge_signals(signals: list[Signal]) -> list[Signal]:
    """Signals of the same kind, items and reason added up (chunks of a task, calls of a build).
    Signals with a count of 0 take part (their totals add up); :func:`reported` drops them."""
    out: dict[tuple[str, str, str], Signal] = {}
    for s in signals:
        k = (s.kind, s.what, s.reason)
        prev = out.get(k)
        if prev is None:
            out[k] = s.model_copy(update={"examples": s.examples[:5]})
        else:
            out[k] = prev.model_copy(update={"count": prev.count + s.count, "total": prev.total + s.total,
                                             "examples": (prev.examples + s.examples)[:5]})
    return list(out.values())


def reported(signals: list[Signal]) -> list[Signal]:
    """The signals worth recording: those that counted something."""
    return [s for s in signals if s.count]


def everything_skipped(signals: list[Signal]) -> Signal | None:
    """The first signal saying that every item of its kind was skipped (``count == total > 0``):
    such an artifact is a failure, not a result."""
    return next((s for s in signals if s.kind == "skipped" and s.count == s.total > 0), None)


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
    signals: list[Signal] = []  # items skipped and caps hit (also indexed under <layer>/signals/)


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
