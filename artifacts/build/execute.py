"""Running one step of a build task: the part that happens inside a worker process.

Contract: :meth:`TaskExecutor.run` never raises for a failure of the generator or its
inputs; it returns an :class:`Outcome` that says whether the failure is transient. It raises
only for bugs in the engine itself. Every step first resolves and checks the task's inputs
(:func:`resolve_inputs`); a ``whole`` step then builds the artifact here, and the steps of a
chunked task are :mod:`artifacts.build.chunked`'s.
"""

from __future__ import annotations

import time

from artifacts.build.chunked import ChunkSteps
from artifacts.build.task import Outcome, TaskInputs, TaskSpec, check_declared_outputs, check_signals, failed, now_utc
from artifacts.errors import ArtifactsError, BuildError, SourceError, TransientError
from artifacts.keys import Recipe
from artifacts.layers import BuildContext, ModelHandle, checks_of, resolve_params
from artifacts.plan import Engine
from artifacts.store import (
    Builder,
    Held,
    Manifest,
    Renewer,
    Timings,
    acquire,
    current_user,
    host_name,
    library_versions,
    new_attempt_id,
    reported,
)


class TaskExecutor:
    """Builds task steps against one engine; caches what is costly to repeat per task."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._verified: dict[tuple[str, int, int], str] = {}
        self._loaded: dict[tuple[str, str, str], object] = {}
        self._versions = library_versions()
        self._host = host_name()
        self._user = current_user()
        self._renewer = Renewer()  # one thread renews the leases of every task this executor runs
        self._chunks = ChunkSteps(engine, self._renewer, self.builder)

    def builder(self, attempt: str) -> Builder:
        """Who builds, for a manifest or a chunk record."""
        return Builder(host=self._host, user=self._user, pid=_pid(), attempt=attempt, versions=self._versions)

    def run(self, spec: TaskSpec) -> Outcome:
        t0 = time.perf_counter()
        try:
            inputs = self.resolve_inputs(spec, t0)
            if spec.step == "whole":
                return self._whole(spec, inputs)
            return self._chunks.run(spec, inputs)
        except (TransientError, ConnectionError, TimeoutError) as exc:
            return failed(spec, exc, True, t0)
        except ArtifactsError as exc:
            return failed(spec, exc, False, t0)
        except Exception as exc:  # noqa: BLE001 - a generator's bug must fail its game, not the build
            return failed(spec, exc, False, t0)

    def resolve_inputs(self, spec: TaskSpec, t0: float) -> TaskInputs:
        """The task's recipe, generator, params, sources and models, each checked: the recipe
        against the key, the params and sources against the recipe, every model's weights
        against its digest (a recipe must not claim weights it did not check)."""
        started = now_utc()
        recipe = Recipe.model_validate_json(spec.recipe_json)
        if recipe.key() != spec.key:
            raise BuildError(f"task {spec.layer}/{spec.game}", spec.key, "does not match its recipe", "report this as a bug")
        engine = self.engine
        gen_cls = engine.registry.get(spec.layer)
        params, recipe_params = resolve_params(gen_cls, engine.workspace.config.params.get(spec.layer, {}))
        if recipe_params != recipe.params:
            raise BuildError(f"params of {spec.layer}", recipe_params, "changed since the build was planned", "rerun the build")
        sources = engine.catalog.game_sources(spec.game)
        selected = {}
        for name, digest in recipe.sources.items():
            src = sources.get(name)
            if src is None or src.digest != digest:
                raise SourceError(f"source {name} of game {spec.game}", src.url if src else None, "changed since the build was planned", "rerun the build")
            selected[name] = src
        if gen_cls.source_checks:  # a source changed since registration is refused as at the door
            for checker, source in checks_of([gen_cls.source_checks], spec.game, {n: (s.kind, s.url) for n, s in sources.items()}):
                checker(source)
        models = {
            role: ModelHandle(
                ref, engine.models.weights_url(role, ref.version), self._verified,
                engine.models.implementation(role, ref.version), self._loaded,
            )
            for role, ref in recipe.models.items()
        }
        for handle in models.values():
            handle.path()  # verifies the digest
        return TaskInputs(recipe, gen_cls, params, selected, models, started, t0)

    def _whole(self, spec: TaskSpec, inputs: TaskInputs) -> Outcome:
        """Build the artifact in one go: lease, stage, build, commit."""
        t0 = inputs.t0
        store = self.engine.store
        attempt = new_attempt_id()
        lease = acquire(store, spec.layer, spec.game, spec.key, attempt, self.engine.workspace.config.lease_ttl_s)
        if isinstance(lease, Held):  # another builder is computing this key right now
            return Outcome(spec.layer, spec.game, spec.key, False, message=lease.text(), deferred=True, total_s=time.perf_counter() - t0)
        with lease.kept(self._renewer):
            if store.has_manifest(spec.layer, spec.game, spec.key):  # committed by another builder meanwhile
                return Outcome(spec.layer, spec.game, spec.key, True, False, 0.0, time.perf_counter() - t0)
            store.sweep_dead_attempts(spec.layer, spec.game, spec.key, lease.took_over_from)
            with store.staging(spec.layer, spec.game, spec.key, attempt) as staging:
                ctx = BuildContext(store, inputs.recipe, spec.game, inputs.params, staging, inputs.sources, inputs.models)
                tb = time.perf_counter()
                inputs.generator().build(ctx)
                build_s = time.perf_counter() - tb
                check_declared_outputs(inputs.generator, staging.dir, spec)
                check_signals(spec, ctx.signals)
                signals = reported(ctx.signals)
                if signals:
                    store.write_signals(spec.layer, spec.game, spec.key, signals)
                manifest = Manifest(
                    layer=spec.layer, game=spec.game, key=spec.key, recipe=inputs.recipe, data=store.data_dir_for(staging),
                    outputs=store.outputs_of(staging), contracts=ctx.contracts, signals=signals,
                    timings=Timings(started=inputs.started, finished=now_utc(), build_s=build_s, total_s=time.perf_counter() - t0),
                    builder=self.builder(attempt),
                )
                published = store.commit(staging, manifest)
        store.clear_failure(spec.layer, spec.game, spec.key)
        return Outcome(spec.layer, spec.game, spec.key, True, published, build_s, time.perf_counter() - t0, warnings=tuple(ctx.warnings),
                       signals=tuple(manifest.signals))


def _pid() -> int:
    import os

    return os.getpid()


# A worker process holds one executor, created by the pool initializer. This is per-process
# state of a worker, never touched in the parent.
_WORKER: list[TaskExecutor] = []


def init_worker(spec_root: str, layer_paths: tuple[str, ...] | None, sys_path: tuple[str, ...]) -> None:
    """ProcessPoolExecutor initializer: open the engine once per worker."""
    import sys

    from artifacts.plan import EngineSpec

    sys.path[:] = list(sys_path)
    _WORKER.append(TaskExecutor(Engine.from_spec(EngineSpec(spec_root, layer_paths, sys_path))))


def run_in_worker(spec: TaskSpec) -> Outcome:
    return _WORKER[0].run(spec)
