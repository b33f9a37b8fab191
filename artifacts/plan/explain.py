"""``explain``: the expected recipe tree of one (layer, game), with upstream keys and states."""

from __future__ import annotations

from dataclasses import dataclass, field

from artifacts.keys import Recipe
from artifacts.plan.keyplan import KeyPlan
from artifacts.plan.status import State
from artifacts.store import Store


@dataclass
class ExplainNode:
    layer: str
    game: str
    key: str | None
    state: State
    recipe: Recipe | None
    blocked: str | None = None
    children: list[ExplainNode] = field(default_factory=list)

    def record(self) -> dict[str, object]:
        return {
            "layer": self.layer,
            "game": self.game,
            "key": self.key,
            "state": self.state.value,
            "recipe": self.recipe.model_dump() if self.recipe else None,
            "blocked": self.blocked,
            "upstream": [c.record() for c in self.children],
        }


def explain(store: Store, plan: KeyPlan, layer: str, game: str) -> ExplainNode:
    """The recipe of (layer, game) and, recursively, of everything it reads."""
    lp = plan.layers[layer]
    key = lp.keys.get(game)
    if key is None:
        node = ExplainNode(layer, game, None, State.MISSING, None, lp.blocked.get(game))
    else:
        listing = store.list_layer(layer)
        if key in listing.committed.get(game, ()):
            state = State.FRESH
        elif key in listing.failed.get(game, ()):
            state = State.FAILED
        elif listing.committed.get(game):
            state = State.STALE
        else:
            state = State.MISSING
        node = ExplainNode(layer, game, key, state, plan.recipe(layer, game))
    for up in lp.upstream:
        node.children.append(explain(store, plan, up, game))
    return node
