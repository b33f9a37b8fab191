"""The steps of a chunked task, inside a worker: plan, chunk and merge.

* **plan**: the artifact exists -> done. Otherwise the key's stored chunk plan, or a new one
  from ``plan_chunks`` stored with a conditional create (every builder of the key uses the
  first one), and which chunks are committed already.
* **chunk**: under the chunk's own lease, build it into a staging directory and commit it
  (files, then its record, :mod:`artifacts.store.chunks`). A committed chunk is reused; a
  chunk whose lease another builder holds is deferred, not computed twice.
* **merge**: under the key's lease, read every committed chunk (each file checked against its
  record as it is read), let ``merge_chunks`` write the artifact's outputs, commit the
  artifact, then remove the chunks. A chunk found corrupt is removed and named in the
  outcome's ``redo``, so the runner computes it again and merges once more.

The runner (:mod:`artifacts.build.runner`) decides which step runs when and where.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from artifacts.build.task import Outcome, TaskInputs, TaskSpec, check_declared_outputs, check_signals, now_utc
from artifacts.errors import BuildError, CorruptChunkError, StoreError, TransientError
from artifacts.layers import BuildContext, Chunk, ChunkContext, ChunkPlan, ChunkReader
from artifacts.plan import Engine
from artifacts.store import (
    Builder,
    ChunkRecord,
    Held,
    Manifest,
    Renewer,
    Staging,
    Timings,
    acquire,
    acquire_at,
    chunk_data_dir,
    chunk_lease_path,
    commit_chunk,
    committed_chunks,
    drop_chunk,
    merge_signals,
    read_chunk,
    read_plan,
    remove_chunks,
    reported,
    sweep_dead_chunk_attempts,
    write_plan,
)
from artifacts.store import new_attempt_id as _new_attempt_id


def stored_plan(body: bytes, spec: TaskSpec) -> ChunkPlan:
    """The chunk plan stored for ``spec``'s key; a corrupt one is a StoreError naming it."""
    try:
        return ChunkPlan.model_validate_json(body)
    except ValidationError as exc:
        raise StoreError(f"chunk plan of {spec.layer}/{spec.game}", spec.key, "is corrupt", "delete the key's chunks directory and build again") from exc


class ChunkSteps:
    """Runs the plan, chunk and merge steps of chunked tasks for one worker."""

    def __init__(self, engine: Engine, renewer: Renewer, builder: Callable[[str], Builder]) -> None:
        self.engine = engine
        self._renewer = renewer
        self._builder = builder
        # Upstream files this worker has checked against their manifests: each chunk of a task
        # reads the same upstream artifact, which is hashed once, not once per chunk.
        self._upstream_verified: set[tuple[str, str]] = set()

    def run(self, spec: TaskSpec, inputs: TaskInputs) -> Outcome:
        if spec.step == "plan":
            return self._plan(spec, inputs)
        if spec.step == "chunk":
            return self._chunk(spec, inputs)
        if spec.step == "merge":
            return self._merge(spec, inputs)
        raise BuildError(f"task {spec.label()}", spec.step, "is not a step of a chunked task", "report this as a bug")

    def _outcome(self, spec: TaskSpec, inputs: TaskInputs, ok: bool = True, **kw: Any) -> Outcome:
        return Outcome(spec.layer, spec.game, spec.key, ok, total_s=time.perf_counter() - inputs.t0, step=spec.step, chunk=spec.chunk, **kw)

    def _context(self, spec: TaskSpec, inputs: TaskInputs, staging: Staging | None = None) -> BuildContext:
        return BuildContext(self.engine.store, inputs.recipe, spec.game, inputs.params, staging, inputs.sources, inputs.models, self._upstream_verified)

    def _plan(self, spec: TaskSpec, inputs: TaskInputs) -> Outcome:
        store = self.engine.store
        if store.has_manifest(spec.layer, spec.game, spec.key):
            return self._outcome(spec, inputs)  # no plan: the artifact is there
        body = read_plan(store, spec.layer, spec.game, spec.key)
        warnings: tuple[str, ...] = ()
        if body is None:
            gen = inputs.generator()
            size = self.engine.workspace.config.chunk_size.get(spec.layer, inputs.generator.chunk_size)
            ctx = self._context(spec, inputs)
            made = gen.plan_chunks(ctx, size)
            if not isinstance(made, ChunkPlan):
                raise BuildError(f"layer {spec.layer}", type(made).__name__, "plan_chunks did not return a ChunkPlan", "return artifacts.layers.ChunkPlan(...)")
            warnings = tuple(ctx.warnings)
            body = write_plan(store, spec.layer, spec.game, spec.key, made.body())
        plan = stored_plan(body, spec)
        done = {i for i in committed_chunks(store, spec.layer, spec.game, spec.key) if i < len(plan.chunks)}
        return self._outcome(spec, inputs, plan=body.decode(), chunks_done=tuple(sorted(done)), warnings=warnings)

    def _load_plan(self, spec: TaskSpec) -> ChunkPlan:
        body = read_plan(self.engine.store, spec.layer, spec.game, spec.key)
        if body is None:  # removed because the artifact committed meanwhile, or by gc: plan again
            raise TransientError(f"chunk plan of {spec.layer}/{spec.game}", spec.key, "is gone", "the build plans the task again")
        return stored_plan(body, spec)

    def _chunk(self, spec: TaskSpec, inputs: TaskInputs) -> Outcome:
        store = self.engine.store
        layer, game, key, index = spec.layer, spec.game, spec.key, spec.chunk
        if store.has_manifest(layer, game, key):
            return self._outcome(spec, inputs)
        plan = self._load_plan(spec)
        if not 0 <= index < len(plan.chunks):
            raise BuildError(f"task {spec.label()}", index, f"is not a chunk of the stored plan ({len(plan.chunks)} chunks)", "report this as a bug")
        chunk = plan.chunks[index]
        if read_chunk(store, layer, game, key, index) is not None:
            return self._outcome(spec, inputs, units=chunk.units)
        attempt = _new_attempt_id()
        lease = acquire_at(store, chunk_lease_path(store, layer, game, key, index), attempt, self.engine.workspace.config.lease_ttl_s)
        if isinstance(lease, Held):
            return self._outcome(spec, inputs, ok=False, deferred=True, message=lease.text())
        with lease.kept(self._renewer):
            if read_chunk(store, layer, game, key, index) is not None:  # committed by another builder meanwhile
                return self._outcome(spec, inputs, units=chunk.units)
            sweep_dead_chunk_attempts(store, layer, game, key, index, lease.took_over_from)
            previous = self._previous(spec, chunk)
            with store.staging(layer, game, key, attempt) as staging:
                ctx = ChunkContext(self._context(spec, inputs, staging), chunk, previous)
                tb = time.perf_counter()
                inputs.generator().build_chunk(ctx)
                build_s = time.perf_counter() - tb
                record = ChunkRecord(
                    layer=layer, game=game, key=key, index=index, label=chunk.label, units=chunk.units,
                    data=chunk_data_dir(layer, game, key, index, attempt), outputs=store.outputs_of(staging),
                    timings=Timings(started=inputs.started, finished=now_utc(), build_s=build_s, total_s=time.perf_counter() - inputs.t0),
                    builder=self._builder(attempt), signals=ctx.signals,
                )
                published = commit_chunk(store, staging.dir, record)
        return self._outcome(spec, inputs, published=published, build_s=build_s, units=chunk.units, warnings=tuple(ctx.warnings))

    def _previous(self, spec: TaskSpec, chunk: Chunk) -> ChunkReader | None:
        if chunk.after is None:
            return None
        record = read_chunk(self.engine.store, spec.layer, spec.game, spec.key, chunk.after)
        if record is None:  # the runner starts a chunk only after the one it continues: it was removed
            raise TransientError(f"chunk {chunk.after} of {spec.layer}/{spec.game}", spec.key, f"is gone, and chunk {chunk.index} continues from it", "the build computes it again")
        return ChunkReader(self.engine.store, record)

    def _merge(self, spec: TaskSpec, inputs: TaskInputs) -> Outcome:
        store = self.engine.store
        layer, game, key = spec.layer, spec.game, spec.key
        attempt = _new_attempt_id()
        lease = acquire(store, layer, game, key, attempt, self.engine.workspace.config.lease_ttl_s)
        if isinstance(lease, Held):
            return self._outcome(spec, inputs, ok=False, deferred=True, message=lease.text())
        with lease.kept(self._renewer):
            if store.has_manifest(layer, game, key):
                remove_chunks(store, layer, game, key)
                return self._outcome(spec, inputs)
            plan = self._load_plan(spec)
            records = {i: read_chunk(store, layer, game, key, i) for i in range(len(plan.chunks))}
            missing = tuple(i for i, r in records.items() if r is None)
            if missing:
                return self._outcome(spec, inputs, ok=False, transient=True, redo=missing, error="ChunksMissing",
                                     message=f"chunks {', '.join(map(str, missing))} of {layer} {game} are not committed; computing them again")
            verified: set[tuple[str, str]] = set()
            readers = [ChunkReader(store, r, verified) for r in records.values() if r is not None]
            store.sweep_dead_attempts(layer, game, key, lease.took_over_from)
            with store.staging(layer, game, key, attempt) as staging:
                ctx = self._context(spec, inputs, staging)
                tb = time.perf_counter()
                try:
                    inputs.generator().merge_chunks(ctx, readers)
                except CorruptChunkError as exc:
                    drop_chunk(store, layer, game, key, exc.index)
                    return self._outcome(spec, inputs, ok=False, transient=True, redo=(exc.index,), error="CorruptChunk", message=exc.line())
                build_s = time.perf_counter() - tb
                check_declared_outputs(inputs.generator, staging.dir, spec)
                merged = merge_signals([s for r in records.values() if r is not None for s in r.signals] + ctx.signals)
                check_signals(spec, merged)
                signals = reported(merged)
                if signals:
                    store.write_signals(layer, game, key, signals)
                manifest = Manifest(
                    layer=layer, game=game, key=key, recipe=inputs.recipe, data=store.data_dir_for(staging),
                    outputs=store.outputs_of(staging), contracts=ctx.contracts, chunks=len(plan.chunks), signals=signals,
                    timings=Timings(started=inputs.started, finished=now_utc(), build_s=build_s, total_s=time.perf_counter() - inputs.t0),
                    builder=self._builder(attempt),
                )
                published = store.commit(staging, manifest)
            store.clear_failure(layer, game, key)
            remove_chunks(store, layer, game, key)  # the artifact stands: its chunks are spent
        return self._outcome(spec, inputs, published=published, build_s=build_s, warnings=tuple(ctx.warnings), signals=tuple(signals))

