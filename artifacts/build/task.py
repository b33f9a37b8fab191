"""What the runner hands a worker and what comes back: one step of one task, and its outcome.

A task is one (layer, game). An unchunked layer's task is one step (``whole``). A chunked
layer's task is several: ``plan`` (make or read the chunk plan, say which chunks are
committed), one ``chunk`` step per unfinished chunk (on any worker, several at once), and
``merge`` (the artifact from the chunks). Both values are plain, picklable dataclasses: they
cross process and machine boundaries (local worker processes, Ray).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from artifacts.errors import ArtifactsError, BuildError
from artifacts.keys import Recipe
from artifacts.layers import Generator, ModelHandle, Params
from artifacts.store import Signal, everything_skipped
from artifacts.workspace import Source

Step = Literal["whole", "plan", "chunk", "merge"]


@dataclass(frozen=True)
class TaskSpec:
    """One step of one (layer, game) task, with the recipe its key was computed from."""

    layer: str
    game: str
    key: str
    recipe_json: str
    step: Step = "whole"
    chunk: int = -1  # the chunk of a ``chunk`` step

    def label(self) -> str:
        """How messages name the step: ``frame-level g1``, ``frame-level g1 chunk 3``."""
        if self.step == "chunk":
            return f"{self.layer} {self.game} chunk {self.chunk}"
        return f"{self.layer} {self.game}" + ("" if self.step == "whole" else f" ({self.step})")


@dataclass(frozen=True)
class Outcome:
    """What happened to one attempt at one step."""

    layer: str
    game: str
    key: str
    ok: bool
    published: bool = False
    build_s: float = 0.0
    total_s: float = 0.0
    error: str | None = None
    message: str | None = None
    transient: bool = False
    detail: str = ""
    warnings: tuple[str, ...] = ()  # what the generator reported with ctx.warn
    deferred: bool = False  # another builder holds the lease: not an attempt, look again later
    step: Step = "whole"
    chunk: int = -1
    plan: str | None = None  # a plan step's chunk plan (JSON); None when the artifact exists
    chunks_done: tuple[int, ...] = ()  # a plan step: chunks already committed
    units: int = 0  # a chunk step: the chunk's size in the plan's unit
    redo: tuple[int, ...] = ()  # a merge step: chunks found corrupt and removed, to compute again
    signals: tuple[Signal, ...] = ()  # items skipped and caps hit (whole, merge: the artifact's)


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class TaskInputs:
    """A task's inputs, resolved and checked against its recipe."""

    recipe: Recipe
    generator: type[Generator]
    params: Params
    sources: dict[str, Source]
    models: dict[str, ModelHandle]
    started: str  # when the step began (UTC)
    t0: float  # perf_counter at the start of the step


def check_declared_outputs(gen_cls: type[Generator], staging_dir: Path, spec: TaskSpec) -> None:
    """Refuse an artifact that lacks an output its generator declares."""
    for out in gen_cls.outputs:
        if not (staging_dir / out).exists():
            raise BuildError(f"layer {spec.layer} on game {spec.game}", out, "declared output was not written", "write it in build() or remove it from outputs")


def failed(spec: TaskSpec, exc: BaseException, transient: bool, t0: float, build_s: float = 0.0) -> Outcome:
    """The outcome of a step that raised ``exc``."""
    message = exc.line() if isinstance(exc, ArtifactsError) else f"{type(exc).__name__}: {exc}"
    return Outcome(
        spec.layer, spec.game, spec.key, False, False, build_s, time.perf_counter() - t0,
        type(exc).__name__, message, transient, "".join(traceback.format_exception(exc)), step=spec.step, chunk=spec.chunk,
    )


def check_signals(spec: TaskSpec, signals: list[Signal]) -> None:
    """Refuse an artifact in which every item of some kind was skipped: that is a failure."""
    s = everything_skipped(signals)
    if s is not None:
        raise BuildError(f"layer {spec.layer} on game {spec.game}", s.what, f"every one of its {s.total:,} {s.what} was skipped: {s.reason}", s.fix)
