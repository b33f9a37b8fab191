"""Training the dual-stream model from a workspace's artifacts and registering the result.

:func:`train_dual_stream` is what ``artifacts train dual-stream`` runs:

1. pick the training and held-out games (by default the last fifth of the sorted games is held
   out, at least one);
2. require the heatmap and feature artifacts of those games to be FRESH under the collection
   (it never trains on stale data; the error says what to build);
3. ask a :class:`ShotDatasetFactory` for a training and a held-out data set over exactly those
   artifacts (the reader of the caches is plugged in here);
4. run Phase 1 (:func:`~generators.trainers.shooter.train.train_phase1`) and write the weights beside
   models.yaml as ``weights/<role>-<version>.safetensors``;
5. register the version with :func:`artifacts.registry.register.register`: ``trained_with`` is the
   collection's version of every role behind the layers it read (videomae behind the features;
   detector, crop encoder and tracker behind the heatmaps), ``trained_on`` the keys of the
   training games' artifacts (not the held-out games': it never trained on them), so
   ``artifacts promote`` applies the lineage checks of issue 3.

A version given by the caller is checked before training; without one the version is
``ds-`` and the first 8 hex digits of the weights digest (the same data and config give the
same name, since training is reproducible, and a second run is refused as already registered
and leaves no file behind). A weights file of an unregistered version is overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict

from artifacts import api
from artifacts.errors import UsageError
from artifacts.keys import hash_file
from artifacts.plan import Engine, State
from artifacts.registry import TrainedOn, check_new_version, register
from generators.trainers.shooter.config import Phase1Config, Phase1Report

if TYPE_CHECKING:
    from torch.utils.data import Dataset

HEATMAPS_LAYER = "shot-heatmaps"
FEATURES_LAYER = "videomae-features"
ROLE = "shooter"
HELD_OUT_FRACTION = 0.2


class ShotArtifacts(BaseModel):
    """The two artifacts of one game that a shot data set reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    game: str
    heatmaps: TrainedOn
    features: TrainedOn


class ShotDatasetFactory(Protocol):
    """Builds a shot data set (items as :mod:`generators.trainers.shooter.batch` describes) over ``games``."""

    def __call__(self, engine: Engine, games: Sequence[ShotArtifacts]) -> Dataset[dict[str, Any]]: ...


class DualStreamRequest(BaseModel):
    """What to train on and how; empty ``games`` means every registered game."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collection: str | None = None
    games: list[str] = []
    held_out: list[str] = []
    """Games to evaluate on, never trained on; empty: the last fifth of ``games``."""
    version: str | None = None
    role: str = ROLE
    heatmaps_layer: str = HEATMAPS_LAYER
    features_layer: str = FEATURES_LAYER
    training: Phase1Config = Phase1Config()


class DualStreamResult(BaseModel):
    """The registered version, its lineage and the training report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    version: str
    weights: str
    digest: str
    collection: str
    train_games: list[str]
    held_out_games: list[str]
    trained_with: dict[str, str]
    trained_on: list[TrainedOn]
    report: Phase1Report


def split_games(pool: list[str], held_out: list[str]) -> tuple[list[str], list[str]]:
    """(train, held-out): ``held_out`` if given, else the last fifth of sorted ``pool`` (at least one)."""
    pool = sorted(set(pool))
    if held_out:
        held = sorted(set(held_out))
    else:
        if len(pool) < 2:
            raise UsageError("games", pool, "are too few to hold one out for evaluation", "register at least two games or pass --held-out")
        held = pool[-max(1, round(len(pool) * HELD_OUT_FRACTION)):]
    train = [g for g in pool if g not in held]
    if not train:
        raise UsageError("training games", pool, "are all held out", "pass games to train on beside --held-out")
    return train, held


def fresh_artifacts(engine: Engine, layers: list[str], collection: str, games: list[str]) -> dict[tuple[str, str], str]:
    """Key of every (layer, game); raises :class:`UsageError` unless all are FRESH."""
    report = api.status(engine, layers, collection, games, explain_causes=False)
    bad = [e for e in report.entries if e.state is not State.FRESH or e.key is None]
    if bad:
        shown = ", ".join(f"{e.layer} {e.game} {e.state.value}" for e in bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        raise UsageError(f"training data under collection {collection}", shown, "is not FRESH: a model must not train on stale or missing artifacts",
                         f"run 'artifacts build {' '.join(layers)} --collection {collection}' first")
    return {(e.layer, e.game): e.key for e in report.entries if e.key is not None}


def roles_behind(engine: Engine, layers: list[str], collection: str) -> dict[str, str]:
    """role -> version, under ``collection``, of every model that ``layers`` and their upstream ran."""
    members = engine.models.collection(collection)
    roles = {r for name in engine.dag.closure(layers) for r in engine.registry.get(name).models}
    return {r: members[r] for r in sorted(roles) if r in members}


def train_dual_stream(
    engine: Engine,
    factory: ShotDatasetFactory,
    request: DualStreamRequest | None = None,
    log: Callable[[str], None] | None = None,
) -> DualStreamResult:
    """Train Phase 1 on the workspace's FRESH artifacts and register the result (see the module doc)."""
    request = request or DualStreamRequest()
    say = log or (lambda _m: None)
    check_new_version(engine.models, request.role, request.version)
    collection = engine.collection_name(request.collection)
    known = engine.catalog.sources()
    engine.check_games(request.games + request.held_out, known)  # type: ignore[arg-type]
    train_games, held_games = split_games(request.games or sorted(known), request.held_out)
    layers = [engine.registry.get(request.heatmaps_layer).name, engine.registry.get(request.features_layer).name]
    keys = fresh_artifacts(engine, layers, collection, train_games + held_games)

    def artifacts(games: list[str]) -> list[ShotArtifacts]:
        return [
            ShotArtifacts(game=g, heatmaps=TrainedOn(layer=layers[0], game=g, key=keys[(layers[0], g)]),
                          features=TrainedOn(layer=layers[1], game=g, key=keys[(layers[1], g)]))
            for g in games
        ]

    train_arts, held_arts = artifacts(train_games), artifacts(held_games)
    from generators.trainers.shooter.train import train_phase1  # torch, seconds to import: only once there is something to train

    say(f"training on {len(train_games)} games, holding out {len(held_games)} ({', '.join(held_games)}) under {collection}")
    model, report = train_phase1(factory(engine, train_arts), factory(engine, held_arts), request.training, say)

    weights_dir = engine.models.path.parent / "weights"
    weights_dir.mkdir(parents=True, exist_ok=True)
    staged = weights_dir / f".{request.role}-training.safetensors"
    model.save(staged)
    digest = hash_file(staged)
    version = request.version or f"ds-{digest.split(':', 1)[1][:8]}"
    try:
        check_new_version(engine.models, request.role, version)  # the same data and config again: already registered
    except UsageError:
        staged.unlink()
        raise
    path = weights_dir / f"{request.role}-{version}.safetensors"
    staged.replace(path)

    trained_with = roles_behind(engine, layers, collection)
    trained_on = [t for a in train_arts for t in (a.heatmaps, a.features)]
    held = report.held_out
    description = (f"dual-stream shooter model, Phase 1 ({request.training.epochs} epochs) on {len(train_games)} games of {collection}; "
                   f"held-out accuracy {held.accuracy:.1%} on {held.shots} shots (random 20%, nearest player {held.nearest_player:.1%})")
    register(engine.models, request.role, version, Path(path), trained_with, trained_on, description=description)
    engine.reload_models()
    say(f"registered {request.role} {version} ({path.name}) trained with {', '.join(f'{r} {v}' for r, v in trained_with.items())}")
    return DualStreamResult(
        role=request.role, version=version, weights=str(path), digest=digest, collection=collection, train_games=train_games,
        held_out_games=held_games, trained_with=trained_with, trained_on=trained_on, report=report,
    )
