"""Cross-game artifacts: one artifact made from one layer's artifacts over a named set of games.

A layer makes one artifact per game. Some outputs span games: the training set merged from
every game's examples, a table of all games' shots. A **combiner** declares such an output the
way a generator declares a layer, and the engine plans, stores and reuses it the same way::

    class CombinedJsonl(Combiner):
        name = "clips-combined"     # its own directory in the store; must not be a layer's name
        version = "1"
        Params = CombinedParams
        reads = "clips"             # the per-game layer whose artifacts it merges
        outputs = ("combined_training.jsonl",)

        def combine(self, ctx: CombineContext) -> None: ...

Its **recipe** names the key of every input artifact, labelled ``<layer>/<game>`` (a game id
never holds ``/``): ``Recipe(layer=name, generator_version=version, params=..., upstream=
{"clips/g1": key1, ...})``. So it is addressed by the keys of what it merged: the same games
with unchanged inputs give the same key and nothing is recomputed; one changed game, one game
more or less, or another parameter give a new key. The keys come from the key plan, so the
combined key is known before any per-game artifact is built.

It is stored like a layer's artifact, with the **set name** in place of the game id
(``<name>/manifests/<set>.<key>.json``, ``<name>/data/<set>/<key>.<attempt>/``) and committed
by the same protocol (private staging, exclusive manifest), so ``status`` listings,
``explain`` and the store documentation apply unchanged. The set name follows the game-id rules.

Combiners are found like layers: entry points of the ``artifacts.combiners`` group, and
``combiners = ["module:Class"]`` import paths in artifacts.toml. Their parameters come from
``[combiner_params.<name>]`` (non-default values only enter the recipe, as for layers).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import ClassVar

from artifacts.errors import BuildError, LayerDefinitionError, UnknownLayerError
from artifacts.keys import Recipe, check_game_id, check_layer_name
from artifacts.layers import ArtifactReader, BuildContext, Params, resolve_params
from artifacts.plan import Engine, State, compute_status
from artifacts.plugins import import_path
from artifacts.store import (
    Builder,
    Manifest,
    Staging,
    Store,
    Timings,
    current_user,
    everything_skipped,
    host_name,
    library_versions,
    new_attempt_id,
    reported,
)

ENTRY_POINT_GROUP = "artifacts.combiners"


class CombineContext(BuildContext):
    """A :class:`BuildContext` whose inputs are one layer's artifacts of several games.

    ``game`` is the set name; :meth:`input` opens one game's input artifact by the key the
    recipe names. Outputs, ``warn`` and ``committed_location`` work as for a layer.
    """

    def __init__(self, store: Store, recipe: Recipe, set_name: str, params: Params, staging: Staging, reads: str, games: tuple[str, ...]) -> None:
        super().__init__(store, recipe, set_name, params, staging, {}, {})
        self.reads = reads
        self.games = games

    def input(self, game: str) -> ArtifactReader:
        """The ``reads`` artifact of ``game`` that the recipe names."""
        label = f"{self.reads}/{game}"
        key = self.recipe.upstream.get(label)
        if key is None:
            raise BuildError(f"combiner {self.recipe.layer}", game, f"is not in set {self.game}", f"the set holds {', '.join(self.games)}")
        manifest = self.store.manifest(self.reads, game, key)
        if manifest is None:
            raise BuildError(f"{self.reads} of game {game}", key, "is not in the store", f"build it first: artifacts build {self.reads} -g {game}")
        self.read_keys[label] = key
        return ArtifactReader(self.store, manifest)


class Combiner:
    """Base class of a cross-game artifact's maker. See the module docstring."""

    name: ClassVar[str]
    version: ClassVar[str]
    Params: ClassVar[type[Params]] = Params
    reads: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def combine(self, ctx: CombineContext) -> None:
        """Write the outputs from ``ctx.input(game)`` for every game of ``ctx.games`` (sorted).

        Same contract as :meth:`artifacts.Generator.build`: read only through ``ctx``, write
        every declared output, raise on failure (nothing is committed then).
        """
        raise NotImplementedError(f"{type(self).__name__}.combine")


def _check_combiner(obj: object, origin: str) -> type[Combiner]:
    if not (isinstance(obj, type) and issubclass(obj, Combiner)):
        raise LayerDefinitionError("combiner", origin, "is not a Combiner subclass", "point it at a class deriving from artifacts.operations.Combiner")
    for attr in ("name", "version", "reads"):
        if not isinstance(getattr(obj, attr, None), str):
            raise LayerDefinitionError(f"combiner {origin}", attr, "is not declared as a str class attribute", f"set {attr} = '...'")
    check_layer_name(obj.name)
    return obj


def discover_combiners(engine: Engine) -> dict[str, type[Combiner]]:
    """Combiners from entry points (unless the workspace turns them off) and import paths.

    A combiner must read a registered layer and must not take a layer's name: both would
    share one directory of the store.
    """
    found: dict[str, type[Combiner]] = {}
    if engine.workspace.config.entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
            except (ImportError, AttributeError) as exc:
                raise LayerDefinitionError("combiner entry point", ep.value, f"cannot be loaded ({exc})", f"fix or uninstall the package providing {ep.name}") from exc
            found[_check_combiner(obj, ep.value).name] = obj
    for path in engine.workspace.config.combiners:
        try:
            imported = import_path(path)
        except (ImportError, AttributeError, ValueError) as exc:
            raise LayerDefinitionError("combiner import path", path, f"cannot be imported ({exc})", "fix combiners = [...] in artifacts.toml") from exc
        checked = _check_combiner(imported, path)
        found[checked.name] = checked
    for name in engine.workspace.config.combiner_params:
        if name not in found:
            raise LayerDefinitionError("artifacts.toml combiner_params", name, "is not a registered combiner", f"known combiners: {', '.join(sorted(found)) or 'none'}")
    for name, cls in found.items():
        if name in engine.registry:
            raise LayerDefinitionError("combiner", name, "has the name of a layer (they would share a store directory)", "rename the combiner")
        if cls.reads not in engine.registry:
            raise LayerDefinitionError(f"combiner {name}", cls.reads, "reads a layer that is not registered", "register the layer or fix reads")
    return found


def get_combiner(engine: Engine, name: str) -> type[Combiner]:
    found = discover_combiners(engine)
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise UnknownLayerError("combiner", name, "is not a registered combiner", f"known combiners: {known}")
    return found[name]


@dataclass(frozen=True)
class CombinePlan:
    """The combined artifact of ``combiner`` over ``games`` named ``set_name``.

    ``key`` is known before anything is built; ``not_fresh`` names the games whose input
    artifact is not FRESH now, with their state (the combine waits for them).
    """

    combiner: type[Combiner]
    set_name: str
    games: tuple[str, ...]
    params: Params
    recipe: Recipe
    key: str
    not_fresh: dict[str, str] = field(default_factory=dict)


def plan_combine(engine: Engine, combiner: type[Combiner], set_name: str, games: list[str] | None, collection: str | None = None) -> CombinePlan:
    """Plan the combined artifact; ``games`` None means every registered game.

    A game whose input key cannot be computed (a source is missing) is an error naming it:
    a set is combined whole or not at all, never silently without a game.
    """
    check_game_id(set_name)
    plan = engine.plan_keys([combiner.reads], collection, games)
    if not plan.games:
        raise BuildError(f"combine {combiner.name}", set_name, "has no game to combine", "register games, or name them with --game")
    lp = plan.layers[combiner.reads]
    if lp.blocked:
        game, why = min(lp.blocked.items())
        raise BuildError(f"combine {combiner.name} {set_name} game", game, f"{combiner.reads} cannot be built: {why}", "fix the game, or leave it out with --game")
    # resolve_params reads only ``name`` and ``Params``, which a combiner declares as a generator does.
    params, recipe_params = resolve_params(combiner, engine.workspace.config.combiner_params.get(combiner.name, {}))  # type: ignore[arg-type]
    upstream = {f"{combiner.reads}/{g}": lp.keys[g] for g in plan.games}
    recipe = Recipe(layer=combiner.name, generator_version=combiner.version, params=recipe_params, upstream=upstream)
    engine.store.check_format()
    report = compute_status(engine.store, plan, [combiner.reads], explain=False)
    not_fresh = {e.game: e.state.value + (f": {e.note}" if e.note else "") for e in report.entries if e.state is not State.FRESH}
    return CombinePlan(combiner, set_name, tuple(plan.games), params, recipe, recipe.key(), not_fresh)


@dataclass(frozen=True)
class CombineOutcome:
    """The committed combined artifact, and whether this call built it (False: reused)."""

    manifest: Manifest
    built: bool


def run_combine(engine: Engine, plan: CombinePlan) -> CombineOutcome:
    """Commit the combined artifact of ``plan``, or find it already committed.

    Refuses, naming the games, while any input is not FRESH. Raises what the combiner raises;
    then nothing is committed.
    """
    c, store = plan.combiner, engine.store
    existing = store.manifest(c.name, plan.set_name, plan.key)
    if existing is not None:
        return CombineOutcome(existing, False)
    if plan.not_fresh:
        shown = "; ".join(f"{g}: {s}" for g, s in sorted(plan.not_fresh.items())[:3])
        raise BuildError(f"combine {c.name} {plan.set_name}", f"{len(plan.not_fresh)} of {len(plan.games)} games",
                         f"have no FRESH {c.reads} artifact ({shown})", f"build them (artifacts build {c.reads}) or leave them out with --game")
    t0, started = time.perf_counter(), datetime.now(UTC).isoformat(timespec="milliseconds")
    store.ensure()
    store.sweep_dead_attempts(c.name, plan.set_name, plan.key)
    attempt = new_attempt_id()
    with store.staging(c.name, plan.set_name, plan.key, attempt) as staging:
        ctx = CombineContext(store, plan.recipe, plan.set_name, plan.params, staging, c.reads, plan.games)
        tb = time.perf_counter()
        c().combine(ctx)
        build_s = time.perf_counter() - tb
        for out in c.outputs:
            if not (staging.dir / out).exists():
                raise BuildError(f"combiner {c.name} on set {plan.set_name}", out, "declared output was not written", "write it in combine() or remove it from outputs")
        sig = everything_skipped(ctx.signals)
        if sig is not None:
            raise BuildError(f"combiner {c.name} on set {plan.set_name}", sig.what, f"every one of its {sig.total:,} {sig.what} was skipped: {sig.reason}", sig.fix)
        signals = reported(ctx.signals)
        if signals:
            store.write_signals(c.name, plan.set_name, plan.key, signals)
        manifest = Manifest(
            layer=c.name, game=plan.set_name, key=plan.key, recipe=plan.recipe, data=store.data_dir_for(staging),
            outputs=store.outputs_of(staging), contracts=ctx.contracts, signals=signals,
            timings=Timings(started=started, finished=datetime.now(UTC).isoformat(timespec="milliseconds"), build_s=build_s, total_s=time.perf_counter() - t0),
            builder=Builder(host=host_name(), user=current_user(), pid=os.getpid(), attempt=attempt, versions=library_versions()),
        )
        if not store.commit(staging, manifest):  # another builder committed this key first: its artifact stands
            winner = store.manifest(c.name, plan.set_name, plan.key)
            assert winner is not None
            return CombineOutcome(winner, False)
    return CombineOutcome(manifest, True)

