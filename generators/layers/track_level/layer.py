"""The ``track-level`` layer: the tracker role links frame-level detections into tracks.

Per game, two parquet tables:

``assignments.parquet``, one row per frame-level detection, in the same order:

| column | type | meaning |
|---|---|---|
| ``detection`` | int64 | row index in the frame-level ``detections.parquet`` |
| ``frame`` | int32 | frame index |
| ``camera`` | string | the video's source name |
| ``track_id`` | int64 | the detection's track, unique within the game; -1: in no track |

``tracks.parquet``, one row per track:

| column | type | meaning |
|---|---|---|
| ``track_id`` | int64 | as above |
| ``camera`` | string | each camera is tracked on its own |
| ``category`` | string | ``team_a``, ``team_b``, ``referee`` or ``other`` (generators/models/tracking/categories.py) |
| ``detections``, ``first_frame``, ``last_frame`` | int | the track's extent |

Track ids are made unique within a game by numbering cameras' tracks consecutively in camera
name order.

A task runs as chunks (a two-hour game has millions of detections): each camera's rows are cut
into ranges of whole frames of about ``chunk_size`` detections (``plan.py``); each chunk
continues the camera's previous one, carrying the tracker's state (``chunk.py``); cameras'
chains run in parallel; the merge numbers the tracks and writes the tables (``merge.py``).
Memory holds one row group and the tracker's state, whatever the game's length, and the
tables are the same, byte for byte, whatever the chunk size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from artifacts import BuildContext, Generator, Params
from artifacts.errors import BuildError
from artifacts.layers import Chunk, ChunkContext, ChunkPlan, ChunkReader

if TYPE_CHECKING:
    from generators.layers.track_level.plan import ChunkSpec
    from generators.models.tracking.state import TrackerState

# numpy, pyarrow and scipy are imported in the methods' helpers: layer discovery must stay cheap.

DETECTIONS = "detections.parquet"


class TrackLevelParams(Params):
    min_confidence: float = 0.0  # detections below are left out of tracking (track_id -1)


class TrackLevel(Generator):
    name = "track-level"
    version = "1"  # chunked since, with the same outputs byte for byte: no bump
    Params = TrackLevelParams
    upstream = ("frame-level",)
    models = ("tracker",)
    outputs = ("assignments.parquet", "tracks.parquet")
    chunk_size = 262_144  # detections per chunk: 4 of frame-level's row groups, ~26,000 frames of one camera
    description = "track id per detection (motion + appearance, Hungarian) and a category per track"

    def _what(self, ctx: BuildContext) -> str:
        return f"{DETECTIONS} of frame-level/{ctx.game}"

    def plan_chunks(self, ctx: BuildContext, size: int) -> ChunkPlan:
        """Each camera's rows in chunks of whole frames, chained per camera (``after``)."""
        import pyarrow.parquet as pq

        from generators.layers.track_level.plan import ChunkSpec, cut

        with ctx.upstream("frame-level").open(DETECTIONS) as f:
            pieces = cut(pq.ParquetFile(f), size, self._what(ctx))
        if not pieces:  # no detection at all: one chunk that tracks nothing
            return ChunkPlan(unit="detections", chunks=[Chunk(index=0, label="no detections", units=0, spec=ChunkSpec(camera="", start=0, stop=0).model_dump())])
        chunks: list[Chunk] = []
        last: dict[str, int] = {}
        for piece in pieces:
            spec = ChunkSpec(camera=piece.camera, start=piece.start, stop=piece.stop)
            chunks.append(Chunk(index=len(chunks), label=f"{piece.camera} frames {piece.first_frame}-{piece.last_frame}",
                                units=piece.stop - piece.start, spec=spec.model_dump(), after=last.get(piece.camera)))
            last[piece.camera] = len(chunks) - 1
        return ChunkPlan(unit="detections", chunks=chunks)

    def build_chunk(self, ctx: ChunkContext) -> None:
        """Track the chunk's rows from the previous chunk's state; write the assignments
        (internal uids), the state at the end, and the chunk's place (``chunk.json``)."""
        import pyarrow.parquet as pq

        from generators.layers.track_level.chunk import CHUNK_SCHEMA, UNUSABLE, UNUSABLE_FIX, embedding_dim, run_rows
        from generators.layers.track_level.plan import ChunkSpec, row_group_starts

        p = ctx.params
        assert isinstance(p, TrackLevelParams)
        spec = ChunkSpec.model_validate(ctx.chunk.spec)
        camera, start, stop = spec.camera, spec.start, spec.stop
        what = self._what(ctx)
        writer = pq.ParquetWriter(ctx.output_path("assignments.parquet"), CHUNK_SCHEMA, compression="zstd")
        try:
            with ctx.upstream("frame-level").open(DETECTIONS) as f:
                pf = pq.ParquetFile(f)
                state = self._state(ctx, spec, embedding_dim(pf, what))
                counts = run_rows(pf, row_group_starts(pf), camera, start, stop, state, p.min_confidence, writer, what)
        finally:
            writer.close()
        ctx.skipped("detections", counts.unusable, counts.rows, UNUSABLE, UNUSABLE_FIX, counts.examples)
        ctx.output_path("state.safetensors").write_bytes(state.to_bytes())
        ctx.output_path("chunk.json").write_text(spec.model_dump_json())

    def _state(self, ctx: ChunkContext, spec: ChunkSpec, dim: int) -> TrackerState:
        """The camera's state: new for its first chunk, else the previous chunk's, checked."""
        from generators.layers.track_level.plan import ChunkSpec
        from generators.models.tracking.state import TrackerState

        model = ctx.model("tracker")
        tracker = model.load()
        if not callable(getattr(tracker, "state", None)):
            raise BuildError(f"model {model.ref.label()}", type(tracker).__name__, "has no state(): track-level runs the tracker chunk by chunk",
                             "use generators.models.tracking.tracker:Tracker, or an implementation with its state() method")
        if ctx.chunk.after is None:
            fresh = tracker.state(dim, categories=True)
            assert isinstance(fresh, TrackerState)
            return fresh
        previous = ctx.previous()
        with previous.open("chunk.json") as f:
            before = ChunkSpec.model_validate_json(f.read())
        if before.camera != spec.camera or before.stop != spec.start:
            raise BuildError(f"chunk {ctx.chunk.index} of track-level/{ctx.game}", spec.model_dump_json(),
                             f"does not continue chunk {previous.index} ({before.model_dump_json()})", "remove the key's chunks and build again")
        with previous.open("state.safetensors") as f:
            state = TrackerState.from_bytes(f.read(), f"tracker state of chunk {previous.index} of track-level/{ctx.game}")
        if state.params != tracker.params or state.embedding_dim != dim or not state.categories:
            raise BuildError(f"tracker state of chunk {previous.index} of track-level/{ctx.game}", model.ref.label(),
                             "was made by another tracker or for other embeddings", "remove the key's chunks and build again")
        return state

    def merge_chunks(self, ctx: BuildContext, chunks: list[ChunkReader]) -> None:
        from generators.layers.track_level.merge import merge

        merge(ctx, chunks)
