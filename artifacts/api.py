"""The operations behind the CLI commands, as functions over an :class:`Engine`.

The CLI parses and prints; everything it does goes through here, so embedding code and tests
use exactly what users run. What only building or combining needs (the runner, executors,
combiners) is imported by those functions, so that ``status`` loads the plan and no more.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from artifacts.errors import UsageError
from artifacts.layers import ArtifactReader
from artifacts.plan import Engine, ExplainNode, KeyPlan, StatusReport, compute_status, explain

if TYPE_CHECKING:
    from artifacts.build import BuildResult, Task, TaskEvent
    from artifacts.operations import CombineOutcome, CombinePlan
    from artifacts.workspace import ExecutorSettings


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Status allocates some 10^5 small objects that all live until it returns; the cyclic
    collector runs over them repeatedly and frees nothing (measured: ~80 of ~450 ms at
    10,000 games). Reference counting still frees everything; the collector is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _targets(engine: Engine, layers: list[str] | None, collection: str | None) -> tuple[list[str], dict[str, str]]:
    """The layers a command acts on, and the layers left out because they cannot run.

    Named layers are taken as asked (a missing role is then an error naming it); with no
    name, every layer that the collection can run.
    """
    if layers:
        return [engine.registry.get(l).name for l in layers], {}
    unavailable = engine.unavailable_layers(collection)
    return [n for n in engine.dag.order if n not in unavailable], unavailable


def status(
    engine: Engine,
    layers: list[str] | None = None,
    collection: str | None = None,
    games: list[str] | None = None,
    explain_causes: bool = True,
) -> StatusReport:
    """Status of ``layers`` (all when empty) x ``games`` (all when empty) under ``collection``."""
    targets, unavailable = _targets(engine, layers, collection)
    with _gc_paused():
        plan = engine.plan_keys(targets, collection, games)
        engine.store.check_format()  # read-only: status never creates or changes the store
        report = compute_status(engine.store, plan, targets, explain_causes)
    report.unavailable = unavailable
    return report


def artifact(engine: Engine, layer: str, game: str, collection: str | None = None) -> ArtifactReader:
    """Read access to the artifact of ``layer`` for ``game`` that ``collection`` plans now.

    For consumers outside a build (evaluation, datasets, trainers): they read exactly what a
    build of the same collection would read. Raises :class:`UsageError` naming the layer, the
    game and the fix when that artifact is not built (missing, stale or failed).
    """
    name = engine.registry.get(layer).name
    plan = engine.plan_keys([name], collection, [game])
    key = plan.key(name, game)
    manifest = engine.store.manifest(name, game, key) if key else None
    if manifest is None:
        raise UsageError(f"artifact {name} of game", game, f"is not built for collection {plan.collection!r}",
                         f"run `artifacts build {name} --game {game}`")
    return ArtifactReader(engine.store, manifest)


def explain_artifact(engine: Engine, layer: str, game: str, collection: str | None = None) -> ExplainNode:
    plan = engine.plan_keys([layer], collection, [game])
    engine.store.check_format()
    return explain(engine.store, plan, engine.registry.get(layer).name, game)


@dataclass
class BuildReport:
    plan: KeyPlan
    before: StatusReport
    tasks: list[Task]
    result: BuildResult | None
    after: StatusReport | None

    def ok(self) -> bool:
        """True when every requested artifact is FRESH (after the build, or already)."""
        report = self.after if self.after is not None else self.before
        return report.all_fresh()


def build(
    engine: Engine,
    layers: list[str],
    collection: str | None = None,
    games: list[str] | None = None,
    jobs: int = 1,
    retries: int = 2,
    dry_run: bool = False,
    on_event: Callable[[TaskEvent], None] | None = None,
    on_plan: Callable[[list[Task]], None] | None = None,
    executor: ExecutorSettings | None = None,
    on_note: Callable[[str], None] | None = None,
) -> BuildReport:
    """Build ``layers`` and whatever upstream is not FRESH; see :mod:`artifacts.build.runner`.

    ``executor`` says where tasks run (default: the workspace's ``[executor]`` setting); it is
    opened only when there is something to build. ``on_note`` receives its notes.
    """
    from artifacts.build import BuildRunner, open_executor, plan_tasks

    targets, _unavailable = _targets(engine, layers, collection)
    closure = engine.dag.closure(targets)
    with _gc_paused():
        plan = engine.plan_keys(closure, collection, games)
        if dry_run:
            engine.store.check_format()  # a dry run writes nothing
        else:
            engine.store.ensure()
        before = compute_status(engine.store, plan, closure, explain=True)
    tasks = plan_tasks(before, plan)
    if on_plan is not None:
        on_plan(tasks)
    if dry_run or not tasks:
        # With no task, everything in the closure (so every target) is already FRESH.
        return BuildReport(plan, before, tasks, None, None)
    with open_executor(executor or engine.workspace.config.executor, engine, jobs) as ex:
        result = BuildRunner(engine, plan, jobs=jobs, retries=retries, on_event=on_event, executor=ex, on_note=on_note).run(tasks)
    after = compute_status(engine.store, plan, targets, explain=False)
    return BuildReport(plan, before, tasks, result, after)


@dataclass
class CombineReport:
    plan: CombinePlan
    outcome: CombineOutcome | None  # the committed artifact; None: a dry run found none yet


def combine(
    engine: Engine,
    combiner: str,
    set_name: str,
    games: list[str] | None = None,
    collection: str | None = None,
    dry_run: bool = False,
) -> CombineReport:
    """Commit (or find) ``combiner``'s artifact over ``games`` (all when empty), named
    ``set_name``; see :mod:`artifacts.operations.combine`. Build the input layer first (:func:`build`):
    this refuses while any game's input is not FRESH. A dry run commits nothing and returns
    the committed artifact only if it already exists."""
    from artifacts.operations import CombineOutcome, get_combiner, plan_combine, run_combine

    cls = get_combiner(engine, combiner)
    with _gc_paused():
        plan = plan_combine(engine, cls, set_name, games or None, collection)
    if dry_run:
        existing = engine.store.manifest(cls.name, set_name, plan.key)
        return CombineReport(plan, CombineOutcome(existing, False) if existing else None)
    return CombineReport(plan, run_combine(engine, plan))
