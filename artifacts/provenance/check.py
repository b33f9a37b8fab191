"""``check``: everything CI should refuse, as one line per problem.

models.yaml is valid; every collection is internally compatible (trained_with and
contracts) and its weights files have their registered digests; the trained_with role graph
has no cycle and trains_on names registered layers; every ``trained_on`` key is what its
collection produces; and stored FRESH manifests record contract values (``contracts`` of a
layer) equal to what the producing model ``provides``.
"""

from __future__ import annotations

from pathlib import Path

from artifacts.errors import ModelsFileError
from artifacts.keys import hash_file, local_path
from artifacts.plan import Engine, State, compute_status
from artifacts.provenance.lineage import Problem, collection_problems, lineage_cycles
from artifacts.provenance.promotion import trained_on_problems


def _manifest_problems(engine: Engine, collection: str) -> list[Problem]:
    out: list[Problem] = []
    members = engine.models.collection(collection)
    unavailable = engine.unavailable_layers(collection)
    layers = [l for l in engine.dag.order if l not in unavailable and engine.registry.get(l).contracts]
    if not layers:
        return out
    plan = engine.plan_keys(layers, collection)
    report = compute_status(engine.store, plan, layers, explain=False)
    for e in report.entries:
        if e.state is not State.FRESH or e.key is None:
            continue
        gen = engine.registry.get(e.layer)
        m = engine.store.manifest(e.layer, e.game, e.key)
        if m is None:
            continue
        for name, role in sorted(gen.contracts.items()):
            provided = engine.models.spec.roles[role].versions[members[role]].provides
            if name not in provided:
                continue
            recorded = m.contracts.get(name)
            if recorded != provided[name]:
                out.append(Problem(
                    "manifest",
                    f"{e.layer} {e.game} {e.key[:12]} records {name} = {recorded!r}, but {role} {members[role]} provides {provided[name]!r}",
                    (role,),
                ))
    return out


def _weights_problems(engine: Engine, collection: str) -> list[Problem]:
    """Each model of the collection: its weights file exists and has the registered digest."""
    out: list[Problem] = []
    models = engine.models
    for role, version in sorted(models.collection(collection).items()):
        url = models.weights_url(role, version)
        path = local_path(url)
        if path is None:
            continue  # remote weights are verified where they are fetched
        if not Path(path).is_file():
            out.append(Problem("weights", f"{role} {version}: weights file {path} not found", (role,)))
            continue
        digest = hash_file(path)
        registered = models.spec.roles[role].versions[version].digest
        if digest != registered:
            out.append(Problem("weights", f"{role} {version}: {path} has digest {digest}, models.yaml records {registered}", (role,)))
    return out


def _layer_name_problems(engine: Engine) -> list[Problem]:
    """trains_on must name registered layers (trained_on layers are checked with their keys)."""
    return [
        Problem("trains_on", f"{role} trains on layer {layer}, which is not registered here", (role,))
        for role, rs in sorted(engine.models.spec.roles.items())
        for layer in rs.trains_on
        if layer not in engine.registry
    ]


def check(engine: Engine, collection: str | None = None) -> list[Problem]:
    """All problems, for one collection or (``None``) every collection of models.yaml."""
    try:
        models = engine.reload_models()
    except ModelsFileError as exc:
        return [Problem("models.yaml", exc.line(), ())]
    names = [collection] if collection else sorted(models.spec.collections)
    problems = lineage_cycles(models.spec) + _layer_name_problems(engine)
    for name in names:
        problems += _weights_problems(engine, name)
        members = models.collection(name)
        problems += collection_problems(models.spec, members, name)
        for role, version in sorted(members.items()):
            problems += trained_on_problems(engine, role, version, name, {})
        problems += _manifest_problems(engine, name)
    return problems
