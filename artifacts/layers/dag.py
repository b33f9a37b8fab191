"""The DAG of layers: dependency order, upstream closure, downstream reach."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from artifacts.errors import LayerDefinitionError
from artifacts.layers.registry import LayerRegistry


class LayerDag:
    """Layers and their upstream edges, validated (no unknown upstream, no cycle)."""

    def __init__(self, registry: LayerRegistry) -> None:
        self.registry = registry
        self.upstream: dict[str, tuple[str, ...]] = {}
        for name in registry.names():
            gen = registry.get(name)
            for up in gen.upstream:
                if up not in registry:
                    raise LayerDefinitionError(
                        f"layer {name}", up, "reads an upstream layer that is not registered", "register it or fix the upstream list"
                    )
            self.upstream[name] = gen.upstream
        try:
            self.order: list[str] = list(TopologicalSorter(self.upstream).static_order())
        except CycleError as exc:
            raise LayerDefinitionError("layers", " -> ".join(exc.args[1]), "form a cycle", "remove one upstream edge") from exc
        self._rank = {n: i for i, n in enumerate(self.order)}

    def closure(self, targets: list[str]) -> list[str]:
        """``targets`` and everything they read, transitively, in dependency order."""
        seen: set[str] = set()
        stack = [self.registry.get(t).name for t in targets]
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(self.upstream[n])
        return sorted(seen, key=self._rank.__getitem__)

    def downstream(self, layer: str) -> list[str]:
        """Every layer that reads ``layer``, transitively, in dependency order."""
        out: set[str] = set()
        for n in self.order:
            if any(u == layer or u in out for u in self.upstream[n]):
                out.add(n)
        return [n for n in self.order if n in out]
