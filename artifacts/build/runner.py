"""Build: plan the minimal set of (layer, game) tasks and run them in dependency order.

Planning is status: every non-FRESH (layer, game) in the targets' upstream closure is a task,
with its status as the reason. Running is parallel across games, on an executor
(:mod:`artifacts.build.executors`: local worker processes, inline with ``jobs=1``, or a Ray
cluster); a task starts when the tasks it reads have succeeded. A failed task is recorded
FAILED in the store and only its dependents are skipped; transient failures (a lost worker
included) are retried a bounded number of times with exponential backoff. All of this is
decided here, so it is the same under every executor. Because a commit is atomic, a rerun
after a crash simply finds the committed work FRESH and resumes.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from artifacts.build.execute import Outcome, TaskSpec
from artifacts.build.executors.base import Executor
from artifacts.build.executors.local import LocalExecutor
from artifacts.layers import Resources
from artifacts.plan import Engine, Entry, KeyPlan, State, StatusReport
from artifacts.store import FailureRecord, host_name


@dataclass(frozen=True)
class Task:
    """One (layer, game) to build and why."""

    layer: str
    game: str
    key: str | None
    reason: str
    deps: tuple[tuple[str, str], ...]

    @property
    def id(self) -> tuple[str, str]:
        return (self.layer, self.game)


def reason_of(e: Entry) -> str:
    if e.state is State.STALE:
        return "STALE: " + ("; ".join(c.text() for c in e.causes) or "recipe changed")
    if e.state is State.FAILED:
        return f"FAILED before: {e.note}"
    return "MISSING" + (f": {e.note}" if e.note else "")


def plan_tasks(report: StatusReport, plan: KeyPlan) -> list[Task]:
    """Tasks for every non-FRESH entry of ``report``, in dependency order."""
    todo = {(e.layer, e.game): e for e in report.entries if e.state is not State.FRESH}
    tasks = []
    for layer in report.layers:  # report.layers is in dependency order
        ups = plan.layers[layer].upstream
        for game in plan.games:
            e = todo.get((layer, game))
            if e is None:
                continue
            deps = tuple((u, game) for u in ups if (u, game) in todo)
            tasks.append(Task(layer, game, e.key, reason_of(e), deps))
    return tasks


TaskEventKind = Literal["started", "built", "reused", "retry", "waiting", "failed", "skipped", "blocked"]


@dataclass(frozen=True)
class TaskEvent:
    kind: TaskEventKind
    task: Task
    attempt: int
    outcome: Outcome | None = None
    message: str | None = None


@dataclass
class BuildResult:
    """Per task: its final event, and the outcome of its last attempt when it ran; the
    executor's notes (e.g. a GPU request run on CPUs)."""

    events: dict[tuple[str, str], TaskEvent] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def count(self, kind: TaskEventKind) -> int:
        return sum(1 for e in self.events.values() if e.kind == kind)


class BuildRunner:
    """Runs planned tasks; see the module docstring for the guarantees."""

    def __init__(
        self,
        engine: Engine,
        plan: KeyPlan,
        jobs: int = 1,
        retries: int = 2,
        backoff_s: float = 0.2,
        on_event: Callable[[TaskEvent], None] | None = None,
        executor: Executor | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        """``executor``: where tasks run, left open (default: a :class:`LocalExecutor` of
        ``jobs`` workers, opened and closed by :meth:`run`)."""
        self.engine = engine
        self.plan = plan
        self.jobs = max(1, jobs)
        self.retries = retries
        self.backoff_s = backoff_s
        self.on_event = on_event or (lambda e: None)
        self.executor = executor
        self.on_note = on_note or (lambda n: None)

    def _resources(self, layer: str) -> Resources:
        return self.engine.registry.get(layer).resources

    def _spec(self, task: Task) -> TaskSpec:
        assert task.key is not None
        return TaskSpec(task.layer, task.game, task.key, self.plan.recipe(task.layer, task.game).model_dump_json())

    def run(self, tasks: list[Task]) -> BuildResult:
        t0 = time.perf_counter()
        result = BuildResult()
        by_id = {t.id: t for t in tasks}
        waiting = {t.id: {d for d in t.deps if d in by_id} for t in tasks}
        dependents: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for t in tasks:
            for d in waiting[t.id]:
                dependents.setdefault(d, []).append(t.id)
        ready = [t.id for t in tasks if not waiting[t.id]]
        delayed: list[tuple[float, int, tuple[str, str]]] = []  # (not before, attempt, task id)
        attempts: dict[tuple[str, str], int] = {}
        in_flight: dict[Future[Outcome], tuple[str, str]] = {}
        executor = self.executor or LocalExecutor(self.engine, self.jobs)

        def finish(tid: tuple[str, str], ev: TaskEvent) -> None:
            result.events[tid] = ev
            self.on_event(ev)

        def skip_dependents(tid: tuple[str, str], why: str) -> None:
            for d in dependents.get(tid, ()):
                if d not in result.events:
                    finish(d, TaskEvent("skipped", by_id[d], 0, message=why))
                    skip_dependents(d, why)

        def release(tid: tuple[str, str]) -> None:
            for d in dependents.get(tid, ()):
                waiting[d].discard(tid)
                if not waiting[d] and d not in result.events:
                    ready.append(d)

        try:
            result.notes = executor.prepare({t.layer: self._resources(t.layer) for t in tasks if t.key is not None})
            for note in result.notes:
                self.on_note(note)
            while ready or in_flight or delayed:
                now = time.monotonic()
                while delayed and delayed[0][0] <= now:
                    ready.append(heapq.heappop(delayed)[2])
                while ready and len(in_flight) < executor.slots:
                    tid = ready.pop(0)
                    task = by_id[tid]
                    if task.key is None:
                        finish(tid, TaskEvent("blocked", task, 0, message=task.reason))
                        skip_dependents(tid, f"upstream {task.layer} cannot be built")
                        continue
                    attempts[tid] = attempts.get(tid, 0) + 1
                    self.on_event(TaskEvent("started", task, attempts[tid]))
                    in_flight[executor.submit(self._spec(task), self._resources(task.layer))] = tid
                if not in_flight:
                    if delayed:
                        time.sleep(max(0.0, delayed[0][0] - time.monotonic()))
                    continue
                done, _ = wait(list(in_flight), timeout=self._timeout(delayed), return_when=FIRST_COMPLETED)
                for fut in done:
                    tid = in_flight.pop(fut)
                    task = by_id[tid]
                    outcome = fut.result()  # a lost worker is a transient outcome (executor contract)
                    result.outcomes.append(outcome)
                    if outcome.ok:
                        finish(tid, TaskEvent("built" if outcome.published else "reused", task, attempts[tid], outcome))
                        release(tid)
                    elif outcome.deferred:
                        # Another builder holds this key's lease: not an attempt. Look again later;
                        # by then it is usually committed, and this task ends as "reused".
                        attempts[tid] -= 1
                        self.on_event(TaskEvent("waiting", task, attempts[tid] + 1, outcome, outcome.message))
                        heapq.heappush(delayed, (time.monotonic() + self._poll_s(), attempts[tid], tid))
                    elif outcome.transient and attempts[tid] <= self.retries:
                        self.on_event(TaskEvent("retry", task, attempts[tid], outcome, outcome.message))
                        heapq.heappush(delayed, (time.monotonic() + self.backoff_s * 2 ** (attempts[tid] - 1), attempts[tid], tid))
                    else:
                        self._record_failure(task, outcome, attempts[tid])
                        finish(tid, TaskEvent("failed", task, attempts[tid], outcome, outcome.message))
                        skip_dependents(tid, f"upstream {task.layer} failed")
        finally:
            if self.executor is None:
                executor.close()
        result.wall_s = time.perf_counter() - t0
        return result

    def _poll_s(self) -> float:
        """How often to look again at a key another builder holds: a quarter of the lease time
        to live, at most 2 s (a dead holder is noticed within one time to live anyway)."""
        return min(2.0, self.engine.workspace.config.lease_ttl_s / 4)

    @staticmethod
    def _timeout(delayed: list[tuple[float, int, tuple[str, str]]]) -> float | None:
        return max(0.0, delayed[0][0] - time.monotonic()) if delayed else None

    def _record_failure(self, task: Task, outcome: Outcome, attempts: int) -> None:
        assert task.key is not None
        self.engine.store.record_failure(
            FailureRecord(
                layer=task.layer, game=task.game, key=task.key, error=outcome.error or "Error",
                message=outcome.message or "", transient=outcome.transient, attempts=attempts,
                at=datetime.now(UTC).isoformat(timespec="seconds"), host=host_name(), detail=outcome.detail,
            )
        )
