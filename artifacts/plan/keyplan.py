"""Expected keys for every (layer, game) under a collection, computed before any build.

Keys depend on upstream *keys*, not on upstream outputs, so the whole DAG's keys follow from
the catalog, the collection and the layer declarations alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from artifacts.keys import Recipe, RecipeTemplate
from artifacts.layers import Params, select_sources
from artifacts.workspace import MissingSource, Source


@dataclass
class LayerPlan:
    """Expected keys of one layer. ``blocked`` holds games whose key cannot be computed."""

    name: str
    template: RecipeTemplate
    params: Params
    source_selectors: tuple[str, ...]
    upstream: tuple[str, ...]
    keys: dict[str, str] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)


@dataclass
class KeyPlan:
    """Expected keys of ``layers`` (dependency order) x ``games`` under ``collection``."""

    collection: str
    games: list[str]
    layers: dict[str, LayerPlan]
    sources: dict[str, dict[str, Source]]
    missing_sources: list[MissingSource]

    def key(self, layer: str, game: str) -> str | None:
        return self.layers[layer].keys.get(game)

    def recipe(self, layer: str, game: str) -> Recipe:
        """The full expected recipe of (layer, game); the game must not be blocked."""
        lp = self.layers[layer]
        picked = select_sources(lp.source_selectors, self.sources[game])
        assert not isinstance(picked, str), f"{layer}/{game} is blocked: {lp.blocked.get(game)}"
        return lp.template.recipe(
            {n: s.digest for n, s in picked.items()},
            {u: self.layers[u].keys[game] for u in lp.upstream},
        )


def compute_layer_keys(lp: LayerPlan, plan: KeyPlan) -> None:
    """Fill ``lp.keys`` and ``lp.blocked`` for every game of ``plan`` (upstream layers first)."""
    ups = [(u, plan.layers[u]) for u in lp.upstream]
    key = lp.template.key
    selectors = lp.source_selectors
    for game in plan.games:
        reason = None
        upstream: dict[str, str] = {}
        for u, up in ups:
            k = up.keys.get(game)
            if k is None:
                reason = f"upstream {u} cannot be built: {up.blocked[game]}"
                break
            upstream[u] = k
        if reason is None:
            picked = select_sources(selectors, plan.sources.get(game, {})) if selectors else {}
            if isinstance(picked, str):
                reason = f"game {game} has no source matching {picked!r}"
            else:
                lp.keys[game] = key({n: s.digest for n, s in picked.items()}, upstream)
                continue
        lp.blocked[game] = reason
