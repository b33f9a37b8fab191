"""Running one build task: the part that happens inside a worker process.

Contract: :meth:`TaskExecutor.run` never raises for a failure of the generator or its
inputs; it returns an :class:`Outcome` that says whether the failure is transient. It raises
only for bugs in the engine itself.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime

from artifacts.errors import ArtifactsError, BuildError, SourceError, TransientError
from artifacts.keys import Recipe
from artifacts.layers import BuildContext, ModelHandle, resolve_params
from artifacts.plan import Engine
from artifacts.store import Builder, Held, Manifest, Renewer, Timings, acquire, current_user, host_name, library_versions, new_attempt_id


@dataclass(frozen=True)
class TaskSpec:
    """One (layer, game) to build, with the recipe its key was computed from."""

    layer: str
    game: str
    key: str
    recipe_json: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one attempt at a task."""

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
    deferred: bool = False  # another builder holds the key's lease: not an attempt, look again later


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class TaskExecutor:
    """Builds tasks against one engine; caches what is costly to repeat per task."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._verified: dict[tuple[str, int, int], str] = {}
        self._loaded: dict[tuple[str, str, str], object] = {}
        self._versions = library_versions()
        self._host = host_name()
        self._user = current_user()
        self._renewer = Renewer()  # one thread renews the leases of every task this executor runs

    def run(self, spec: TaskSpec) -> Outcome:
        t0 = time.perf_counter()
        started = _now()
        build_s = 0.0
        try:
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
            models = {
                role: ModelHandle(
                    ref, engine.models.weights_url(role, ref.version), self._verified,
                    engine.models.implementation(role, ref.version), self._loaded,
                )
                for role, ref in recipe.models.items()
            }
            for handle in models.values():
                handle.path()  # verifies the digest: a recipe must not claim weights it did not check
            store = engine.store
            attempt = new_attempt_id()
            lease = acquire(store, spec.layer, spec.game, spec.key, attempt, engine.workspace.config.lease_ttl_s)
            if isinstance(lease, Held):  # another builder is computing this key right now
                return Outcome(spec.layer, spec.game, spec.key, False, message=lease.text(), deferred=True, total_s=time.perf_counter() - t0)
            with lease.kept(self._renewer):
                if store.has_manifest(spec.layer, spec.game, spec.key):  # committed by another builder meanwhile
                    return Outcome(spec.layer, spec.game, spec.key, True, False, 0.0, time.perf_counter() - t0)
                store.sweep_dead_attempts(spec.layer, spec.game, spec.key, lease.took_over_from)
                with store.staging(spec.layer, spec.game, spec.key, attempt) as staging:
                    ctx = BuildContext(store, recipe, spec.game, params, staging, selected, models)
                    tb = time.perf_counter()
                    gen_cls().build(ctx)
                    build_s = time.perf_counter() - tb
                    for out in gen_cls.outputs:
                        if not (staging.dir / out).exists():
                            raise BuildError(f"layer {spec.layer} on game {spec.game}", out, "declared output was not written", "write it in build() or remove it from outputs")
                    outputs = store.outputs_of(staging)
                    manifest = Manifest(
                        layer=spec.layer,
                        game=spec.game,
                        key=spec.key,
                        recipe=recipe,
                        data=store.data_dir_for(staging),
                        outputs=outputs,
                        contracts=ctx.contracts,
                        timings=Timings(started=started, finished=_now(), build_s=build_s, total_s=time.perf_counter() - t0),
                        builder=Builder(host=self._host, user=self._user, pid=_pid(), attempt=attempt, versions=self._versions),
                    )
                    published = store.commit(staging, manifest)
            store.clear_failure(spec.layer, spec.game, spec.key)
            return Outcome(spec.layer, spec.game, spec.key, True, published, build_s, time.perf_counter() - t0, warnings=tuple(ctx.warnings))
        except (TransientError, ConnectionError, TimeoutError) as exc:
            return self._failed(spec, exc, True, build_s, t0)
        except ArtifactsError as exc:
            return self._failed(spec, exc, False, build_s, t0)
        except Exception as exc:  # noqa: BLE001 - a generator's bug must fail its game, not the build
            return self._failed(spec, exc, False, build_s, t0)

    @staticmethod
    def _failed(spec: TaskSpec, exc: BaseException, transient: bool, build_s: float, t0: float) -> Outcome:
        message = exc.line() if isinstance(exc, ArtifactsError) else f"{type(exc).__name__}: {exc}"
        return Outcome(
            spec.layer, spec.game, spec.key, False, False, build_s, time.perf_counter() - t0,
            type(exc).__name__, message, transient, "".join(traceback.format_exception(exc)),
        )


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
