"""``impact``: what a model change would invalidate, and the retraining it sets off.

Before anything changes, compare the keys of the collection as it is with the keys it would
have with ``role=version``: every (layer, game) whose key changes is invalidated (its stored
bytes and the compute its last build recorded say what that costs). Then the models to
retrain: a model of the collection must be retrained when it was trained with a changing
model, or trains on an invalidated layer; this spreads until nothing more changes. The steps
(precompute a layer, retrain a role, rerun an evaluation) are ordered into waves: steps in
one wave have no dependency on each other and can run in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from graphlib import TopologicalSorter

from artifacts.plan import Engine
from artifacts.provenance.promotion import _require_version


@dataclass
class LayerImpact:
    layer: str
    games: int = 0
    stored_bytes: int = 0
    recorded_compute_s: float = 0.0
    not_built: int = 0


@dataclass(frozen=True, order=True)
class Step:
    """One unit of follow-up work: ``kind`` is precompute, retrain or evaluate."""

    kind: str
    name: str

    def text(self) -> str:
        return {"precompute": f"precompute {self.name}", "retrain": f"retrain {self.name}", "evaluate": f"evaluate {self.name}"}[self.kind]


@dataclass
class Impact:
    role: str
    version: str
    collection: str
    previous: str | None
    layers: list[LayerImpact] = field(default_factory=list)
    retrain: list[str] = field(default_factory=list)
    waves: list[list[Step]] = field(default_factory=list)

    def record(self) -> dict[str, object]:
        return {
            "change": {"role": self.role, "from": self.previous, "to": self.version, "collection": self.collection},
            "layers": [vars(l) for l in self.layers],
            "retrain": self.retrain,
            "waves": [[s.text() for s in w] for w in self.waves],
        }


def _trains_on(engine: Engine, role: str, version: str) -> set[str]:
    rs = engine.models.spec.roles[role]
    mv = rs.versions[version]
    return {l for l in {t.layer for t in mv.trained_on} | set(rs.trains_on) if l in engine.registry}


def impact(engine: Engine, role: str, version: str, collection: str | None = None) -> Impact:
    """The impact of running ``role`` at ``version`` in ``collection``. Changes nothing."""
    coll = engine.collection_name(collection)
    models = engine.models
    _require_version(models, role, version)
    members = models.collection(coll)
    result = Impact(role, version, coll, members.get(role))
    if members.get(role) == version:
        return result  # the collection already runs it: nothing changes
    unavailable = engine.unavailable_layers(coll)
    layers = [l for l in engine.dag.order if l not in unavailable]

    # Layers x games whose keys change.
    before = engine.plan_keys(layers, coll)
    after = engine.plan_keys(layers, coll, refresh=False, overrides={role: version})
    invalidated: set[str] = set()
    for layer in layers:
        li = LayerImpact(layer)
        committed = engine.store.list_layer(layer).committed
        for game in before.games:
            old, new = before.key(layer, game), after.key(layer, game)
            if old == new or old is None:
                continue
            li.games += 1
            m = engine.store.manifest(layer, game, old) if old in committed.get(game, ()) else None
            if m is None:
                li.not_built += 1
            else:
                li.stored_bytes += sum(o.size for o in m.outputs)
                li.recorded_compute_s += m.timings.total_s
        if li.games:
            invalidated.add(layer)
            result.layers.append(li)

    # Models to retrain: fixpoint over trained_with and trains-on edges.
    changing = {role}
    layer_roles = {l: set(engine.registry.get(l).models) for l in layers}
    grew = True
    while grew:
        grew = False
        touched_layers = {l for l in layers if any(r in changing for n in engine.dag.closure([l]) for r in layer_roles[n])}
        for r, v in members.items():
            if r in changing:
                continue
            mv = models.spec.roles[r].versions[v]
            if set(mv.trained_with) & changing or _trains_on(engine, r, v) & touched_layers:
                changing.add(r)
                grew = True
    retrain = sorted(changing - {role})
    result.retrain = retrain

    # Steps and their order: layers whose keys change now, and layers that read a model that
    # is retrained (their keys change once it is).
    precompute = invalidated | {l for l in layers if any(r in retrain for n in engine.dag.closure([l]) for r in layer_roles[n])}
    deps: dict[Step, set[Step]] = {}
    for l in precompute:
        s = Step("precompute", l)
        deps[s] = {Step("precompute", u) for u in engine.dag.upstream[l] if u in precompute}
        deps[s] |= {Step("retrain", r) for r in layer_roles[l] if r in retrain}
    for r in retrain:
        s = Step("retrain", r)
        mv = models.spec.roles[r].versions[members[r]]
        deps[s] = {Step("retrain", u) for u in mv.trained_with if u in retrain}
        deps[s] |= {Step("precompute", l) for l in _trains_on(engine, r, members[r]) if l in precompute}
    for name, ev in models.spec.evaluations.items():
        if set(ev.after) & changing:
            deps[Step("evaluate", name)] = {Step("retrain", r) for r in ev.after if r in retrain} | {
                Step("precompute", l) for l in precompute if set(layer_roles[l]) & set(ev.after)
            }
    sorter = TopologicalSorter(deps)
    sorter.prepare()
    while sorter.is_active():
        wave = sorted(sorter.get_ready())
        result.waves.append(wave)
        sorter.done(*wave)
    return result
