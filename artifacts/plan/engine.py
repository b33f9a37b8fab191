"""The engine: an opened workspace with its layers, models, catalog and store resolved.

Everything a command needs hangs off one :class:`Engine`; there is no module-level state,
so two engines (two workspaces) can live in one process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from artifacts.errors import UnknownGameError
from artifacts.keys import RecipeTemplate
from artifacts.layers import Generator, LayerDag, LayerRegistry, checks_of, resolve_params
from artifacts.plan.keyplan import KeyPlan, LayerPlan, compute_layer_keys
from artifacts.registry import Models
from artifacts.store import Store
from artifacts.workspace import Catalog, MissingSource, SourceSpec, Workspace


@dataclass(frozen=True)
class EngineSpec:
    """What a worker process needs to open the same engine: picklable, no live handles."""

    root: str
    layer_paths: tuple[str, ...] | None = None  # None: discover (entry points + config)
    sys_path: tuple[str, ...] = field(default_factory=tuple)


class Engine:
    """An opened workspace. Not thread-safe; open one per process."""

    def __init__(self, workspace: Workspace, registry: LayerRegistry, layer_paths: tuple[str, ...] | None = None) -> None:
        self.workspace = workspace
        self.registry = registry
        self.dag = LayerDag(registry)
        self._layer_paths = layer_paths
        self._models: Models | None = None
        self._catalog: Catalog | None = None
        self.store = Store(workspace.store_url, workspace.config.store_options)

    @classmethod
    def open(cls, root: Path, registry: LayerRegistry | None = None) -> Engine:
        """Open the workspace at ``root``; ``registry`` overrides layer discovery."""
        ws = Workspace.open(root)
        if registry is None:
            return cls(ws, LayerRegistry.discover(ws.config.layers, ws.config.entry_points))
        return cls(ws, registry, tuple(_class_path(registry.get(n)) for n in registry.names()))

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> Engine:
        ws = Workspace.open(Path(spec.root))
        if spec.layer_paths is None:
            return cls(ws, LayerRegistry.discover(ws.config.layers, ws.config.entry_points))
        reg = LayerRegistry.discover(list(spec.layer_paths), use_entry_points=False)
        return cls(ws, reg, spec.layer_paths)

    def spec(self) -> EngineSpec:
        import sys

        return EngineSpec(str(self.workspace.root), self._layer_paths, tuple(sys.path))

    @property
    def models(self) -> Models:
        if self._models is None:
            self._models = Models.load(self.workspace.models_path)
        return self._models

    def reload_models(self) -> Models:
        self._models = None
        return self.models

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog(self.workspace.catalog_path)
        return self._catalog

    def add_games(self, entries: Sequence[tuple[str, Sequence[SourceSpec]]], replace_existing: bool = False) -> int:
        """Register games (see :meth:`Catalog.add_games`) after the source checks that the
        registered layers declare (:mod:`artifacts.layers.checks`): bad input is refused at
        the door, with one line, and nothing of the call is registered."""
        declared = [self.registry.get(n).source_checks for n in self.registry.names()]
        declared = [d for d in declared if d]

        def check(game: str, sources: dict[str, tuple[str, str]]) -> None:
            for checker, source in checks_of(declared, game, sources):
                checker(source)

        return self.catalog.add_games(entries, replace_existing, check if declared else None)

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def collection_name(self, collection: str | None) -> str:
        return collection or self.workspace.config.collection

    def check_games(self, games: list[str], known: dict[str, object]) -> None:
        for g in games:
            if g not in known:
                raise UnknownGameError("game", g, "is not registered in this workspace", "see 'artifacts games list' or register it with 'artifacts games add'")

    def unavailable_layers(self, collection: str | None = None) -> dict[str, str]:
        """Layers that cannot run under ``collection`` (it lacks a model role they or their
        upstream need), with the reason. Commands that name no layer leave these out."""
        members = self.models.collection(self.collection_name(collection))
        out: dict[str, str] = {}
        for name in self.dag.order:
            lacking = sorted({r for n in self.dag.closure([name]) for r in self.registry.get(n).models} - set(members))
            if lacking:
                out[name] = f"collection {self.collection_name(collection)} has no {', '.join(lacking)}"
        return out

    def plan_keys(
        self,
        layers: list[str],
        collection: str | None = None,
        games: list[str] | None = None,
        refresh: bool = True,
        overrides: dict[str, str] | None = None,
    ) -> KeyPlan:
        """Expected keys of ``layers`` and everything upstream of them, for ``games``.

        ``refresh`` re-checks source fingerprints first (a stat per source; content is hashed
        again only for sources whose size or mtime changed). ``overrides`` (role -> version)
        plans the collection as it would be after promoting those versions.
        """
        coll = self.collection_name(collection)
        names = self.dag.closure(layers)
        for configured in self.workspace.config.params:
            if configured not in self.registry:
                self.registry.get(configured)  # raises UnknownLayerError with a suggestion
        all_sources = self.catalog.sources()
        if games:
            self.check_games(games, all_sources)  # type: ignore[arg-type]
            selected = sorted(set(games))
        else:
            selected = sorted(all_sources)
        missing: list[MissingSource] = []
        if refresh:
            all_sources, missing = self.catalog.refresh(all_sources, selected)
        plan = KeyPlan(coll, selected, {}, all_sources, missing)
        for name in names:
            gen = self.registry.get(name)
            params, recipe_params = resolve_params(gen, self.workspace.config.params.get(name, {}))
            refs = self.models.refs_for(coll, gen.models, name, overrides)
            lp = LayerPlan(
                name, RecipeTemplate(name, gen.version, recipe_params, refs), params, gen.sources, gen.upstream
            )
            plan.layers[name] = lp
            compute_layer_keys(lp, plan)
        return plan


def _class_path(cls: type[Generator]) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"
