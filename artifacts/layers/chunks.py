"""Chunks: how a layer splits one (layer, game) task, and what a chunk sees while it builds.

A long task (a two-hour game has 430,000 frames) runs as chunks: pieces that are computed,
committed and resumed on their own, on several workers at once, and then merged into the one
artifact of the (layer, game). The artifact, its key, its manifest, ``status`` and ``explain``
do not change: chunks are how a task runs, not artifacts. A generator opts in by implementing
three methods (see :class:`artifacts.Generator`)::

    chunk_size = 3000                                  # default units (frames) per chunk

    def plan_chunks(self, ctx: BuildContext, size: int) -> ChunkPlan:
        ...                                            # read sources or upstream; write nothing
    def build_chunk(self, ctx: ChunkContext) -> None:
        ...                                            # ctx.chunk says which; write its outputs
    def merge_chunks(self, ctx: BuildContext, chunks: list[ChunkReader]) -> None:
        ...                                            # the artifact's outputs from the chunks'

Contract: the plan is a function of the recipe's inputs and ``size``; the merged artifact is
the same whatever the chunk size (so the size is a workspace setting, ``[chunk_size]`` in
artifacts.toml, and never part of a key). A chunk whose ``after`` names an earlier chunk runs
once that one is committed and reads it through :meth:`ChunkContext.previous` (state carried
across a boundary, such as a tracker's live tracks); other chunks run in any order, in
parallel. The engine stores the plan and every committed chunk (:mod:`artifacts.store.chunks`)
so that a killed build resumes at the first unfinished chunk, on any machine sharing the store.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from artifacts.errors import BuildError
from artifacts.layers.context import BuildContext, OutputsReader
from artifacts.store import ChunkRecord, Store


class Chunk(BaseModel):
    """One piece of a task: its number, a label for people, its size in the plan's unit, what
    the generator needs to compute it (``spec``), and the chunk it continues from, if any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int = Field(ge=0)
    label: str
    units: int = Field(0, ge=0)
    spec: dict[str, JsonValue] = {}
    after: int | None = None


class ChunkPlan(BaseModel):
    """The chunks of one task, numbered 0..n-1, and the unit their sizes are counted in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str = "items"
    chunks: list[Chunk] = Field(min_length=1)

    @model_validator(mode="after")
    def _numbered(self) -> ChunkPlan:
        for i, c in enumerate(self.chunks):
            if c.index != i:
                raise ValueError(f"chunk {i} has index {c.index}: chunks are numbered 0..n-1 in order")
            if c.after is not None and not 0 <= c.after < i:
                raise ValueError(f"chunk {i} continues from chunk {c.after}: only an earlier chunk can be continued")
        return self

    @property
    def units(self) -> int:
        return sum(c.units for c in self.chunks)

    def body(self) -> bytes:
        """The plan as stored (sorted keys, so that equal plans are equal bytes)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()


class ChunkReader(OutputsReader):
    """Read access to one committed chunk's outputs, checked against its record."""

    def __init__(self, store: Store, record: ChunkRecord, verified: set[tuple[str, str]] | None = None) -> None:
        super().__init__(store, record, f"{record.key}#{record.index}", verified)
        self.record = record

    @property
    def index(self) -> int:
        return self.record.index

    @property
    def label(self) -> str:
        return self.record.label


class ChunkContext(BuildContext):
    """What :meth:`Generator.build_chunk` sees: a :class:`BuildContext` whose outputs are the
    chunk's, plus the chunk itself and, when it continues from one, the previous chunk."""

    def __init__(self, base: BuildContext, chunk: Chunk, previous: ChunkReader | None) -> None:
        super().__init__(base.store, base.recipe, base.game, base.params, base.staging, base._sources, base._models, base._verified)
        self.chunk = chunk
        self._previous = previous

    def previous(self) -> ChunkReader:
        """The committed outputs of the chunk this one continues from (``chunk.after``)."""
        if self._previous is None:
            raise BuildError(f"chunk {self.chunk.index} of layer {self.recipe.layer}", self.chunk.after,
                             "continues from no chunk", "set after= on the chunk in plan_chunks, or do not read a previous chunk")
        return self._previous
