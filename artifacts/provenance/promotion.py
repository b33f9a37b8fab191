"""Promotion of a model version into a collection, refused when lineage disagrees.

``promote`` refuses, with one line per problem, when after the promotion:

(a) a ``trained_with`` ref of the promoted model disagrees with the collection, or a model
    of the collection was trained with another version of the promoted role;
(b) the promoted model's ``trained_on`` keys differ from the keys the collection would now
    produce for those (layer, game) artifacts: it was trained on stale data (the cause is
    traced like a STALE status);
(c) a contract breaks between the promoted model and its producers or consumers.

An accepted promotion rewrites models.yaml atomically, keeping order and comments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from artifacts.errors import UsageError
from artifacts.plan import Engine, diff_recipes
from artifacts.provenance.lineage import Problem, collection_problems
from artifacts.registry import Models, TrainedOn, child, edit_models


@dataclass
class Promotion:
    """The outcome of a promotion request: ``changes`` (role -> version) into ``collection``."""

    changes: dict[str, str]
    collection: str
    previous: dict[str, str | None]
    problems: list[Problem] = field(default_factory=list)
    accepted: bool = False

    def noop(self) -> bool:
        return all(self.previous[r] == v for r, v in self.changes.items())

    def label(self) -> str:
        return ", ".join(f"{r} {v}" for r, v in self.changes.items())

    def diff(self) -> list[str]:
        """The collection change as diff lines."""
        lines = [f"  collection {self.collection}:"]
        for role, version in self.changes.items():
            if self.previous[role] == version:
                continue
            if self.previous[role] is not None:
                lines.append(f"-   {role}: {self.previous[role]}")
            lines.append(f"+   {role}: {version}")
        return lines


def _require_version(models: Models, role: str, version: str) -> None:
    roles = models.spec.roles
    if role not in roles:
        raise UsageError("role", role, f"is not registered in {models.path}", f"use one of {sorted(roles)}")
    if version not in roles[role].versions:
        raise UsageError(
            f"version of {role}", version, "is not registered",
            f"register it first ('artifacts models register {role} {version} WEIGHTS') or use one of {sorted(roles[role].versions)}",
        )


def trained_on_problems(engine: Engine, role: str, version: str, collection: str, overrides: dict[str, str]) -> list[Problem]:
    """Check (b): the artifacts the model was trained on are what the collection produces."""
    mv = engine.models.spec.roles[role].versions[version]
    if not mv.trained_on:
        return []
    by_layer: dict[str, list[TrainedOn]] = {}
    for t in mv.trained_on:
        by_layer.setdefault(t.layer, []).append(t)
    known = engine.catalog.sources()
    out: list[Problem] = []
    for layer, items in by_layer.items():
        if layer not in engine.registry:
            out.append(Problem("trained_on", f"{role} {version} was trained on layer {layer}, which is not registered here", (role,)))
            continue
        games = sorted({t.game for t in items if t.game in known})
        for t in items:
            if t.game not in known:
                out.append(Problem("trained_on", f"{role} {version} was trained on {layer} of game {t.game}, which this workspace does not know", (role,)))
        if not games:
            continue
        plan = engine.plan_keys([layer], collection, games, overrides=overrides)
        for t in items:
            if t.game not in known:
                continue
            expected = plan.key(layer, t.game)
            if expected == t.key:
                continue
            why = "its recipe is no longer stored"
            old = engine.store.manifest(layer, t.game, t.key)
            if old is not None and expected is not None:
                causes = diff_recipes(engine.store, plan, t.game, plan.recipe(layer, t.game), old.recipe)
                why = "; ".join(c.text() for c in causes) or "recipe changed"
            out.append(Problem(
                "trained_on",
                f"{role} {version} was trained on {layer} {t.game} {t.key[:12]}, but {collection} would produce {(expected or 'nothing')[:12]} ({why})",
                (role,),
            ))
    return out


def check_promotion(engine: Engine, changes: dict[str, str], collection: str) -> Promotion:
    """Every problem that promoting ``changes`` (role -> version) together would cause.

    Several roles move together when a retraining cascade lands (a new crop encoder with the
    tracker and classifiers retrained on it): each alone would be refused.
    """
    models = engine.models
    for role, version in changes.items():
        _require_version(models, role, version)
    members = models.collection(collection)
    new = dict(members) | changes
    result = Promotion(dict(changes), collection, {r: members.get(r) for r in changes})
    result.problems = [p for p in collection_problems(models.spec, new, collection) if set(p.roles) & set(changes)]
    for role, version in changes.items():
        result.problems += trained_on_problems(engine, role, version, collection, changes)
    return result


def promote(engine: Engine, changes: dict[str, str], collection: str) -> Promotion:
    """Promote when :func:`check_promotion` finds no problem; rewrite models.yaml then."""
    result = check_promotion(engine, changes, collection)
    if result.problems:
        return result
    if result.noop():  # already there: nothing to write
        result.accepted = True
        return result

    def change(data: dict[str, object]) -> None:
        target = child(child(data, "collections"), collection)
        for role, version in changes.items():
            target[role] = version

    edit_models(engine.models.path, change)
    engine.reload_models()
    result.accepted = True
    return result
