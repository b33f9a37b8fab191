"""Build: plan the minimal set of (layer, game) tasks and run them in dependency order.

Planning is status: every non-FRESH (layer, game) in the targets' upstream closure is a task,
with its status as the reason. Running is parallel across games, on an executor
(:mod:`artifacts.build.executors`: local worker processes, inline with ``jobs=1``, or a Ray
cluster); a task starts when the tasks it reads have succeeded. A failed task is recorded
FAILED in the store and only its dependents are skipped; transient failures (a lost worker
included) are retried a bounded number of times with exponential backoff. All of this is
decided here, so it is the same under every executor. Because a commit is atomic, a rerun
after a crash simply finds the committed work FRESH and resumes.

A chunked layer's task runs as steps (:mod:`artifacts.build.task`): its plan, then its
unfinished chunks, on as many workers as are free (a chunk that continues another waits for
it), then the merge. Steps of tasks already started go first, so a build finishes games rather
than starting them all. A chunk is retried on its own; one that keeps failing fails its task.
Progress events report, inside such a task, chunks and units done, the rate and the time left.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from artifacts.build.executors.base import Executor
from artifacts.build.executors.local import LocalExecutor
from artifacts.build.task import Outcome, Step, TaskSpec
from artifacts.layers import ChunkPlan, Resources
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


TaskEventKind = Literal["started", "progress", "built", "reused", "retry", "waiting", "failed", "skipped", "blocked"]


@dataclass(frozen=True)
class TaskProgress:
    """Inside a chunked task: chunks and units done, the rate and the time left.

    ``rate`` counts the units this build computed (not chunks found committed) over the time
    since its first chunk started; None until one finished. ``eta_s`` follows from it."""

    chunks_done: int
    chunks_total: int
    units_done: int
    units_total: int
    unit: str
    rate: float | None
    eta_s: float | None

    def text(self) -> str:
        parts = [f"{self.chunks_done}/{self.chunks_total} chunks", f"{self.units_done:,}/{self.units_total:,} {self.unit}"]
        if self.rate is not None:
            parts.append(f"{self.rate:,.1f} {self.unit}/s")
        if self.eta_s is not None:
            m, sec = divmod(round(self.eta_s), 60)
            parts.append(f"ETA {m // 60}:{m % 60:02d}:{sec:02d}")
        return ", ".join(parts)

    def record(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TaskEvent:
    kind: TaskEventKind
    task: Task
    attempt: int
    outcome: Outcome | None = None
    message: str | None = None
    progress: TaskProgress | None = None

    def record(self) -> dict[str, object]:
        """The event as JSON-ready data (``artifacts build --json``)."""
        out: dict[str, object] = {"event": self.kind, "layer": self.task.layer, "game": self.task.game, "key": self.task.key, "attempt": self.attempt}
        if self.message is not None:
            out["message"] = self.message
        if self.progress is not None:
            out["progress"] = self.progress.record()
        if self.outcome is not None:
            out["build_s"] = round(self.outcome.build_s, 4)
            out["total_s"] = round(self.outcome.total_s, 4)
            if self.outcome.warnings:
                out["warnings"] = list(self.outcome.warnings)
            if self.outcome.signals:
                out["signals"] = [sig.model_dump(mode="json") | {"text": sig.text()} for sig in self.outcome.signals]
        return out


@dataclass
class BuildResult:
    """Per task: its final event, and the outcome of its last attempt when it ran; every step's
    outcome; the executor's notes (e.g. a GPU request run on CPUs)."""

    events: dict[tuple[str, str], TaskEvent] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def count(self, kind: TaskEventKind) -> int:
        return sum(1 for e in self.events.values() if e.kind == kind)


TaskId = tuple[str, str]
Work = tuple[TaskId, Step, int]  # (task, step, chunk): one thing to submit


@dataclass
class _Chunks:
    """The runner's view of one chunked task: its plan and which chunks are where."""

    plan: ChunkPlan
    done: set[int]
    queued: set[int] = field(default_factory=set)  # submitted, or waiting to be
    started_at: float | None = None  # when this build submitted its first chunk
    units_built: int = 0  # units this build computed (for the rate)

    def runnable(self) -> list[int]:
        return [c.index for c in self.plan.chunks
                if c.index not in self.done and c.index not in self.queued and (c.after is None or c.after in self.done)]

    def complete(self) -> bool:
        return len(self.done) == len(self.plan.chunks)

    def progress(self) -> TaskProgress:
        units_done = sum(self.plan.chunks[i].units for i in self.done)
        rate = eta = None
        if self.started_at is not None and self.units_built:
            rate = self.units_built / max(1e-9, time.monotonic() - self.started_at)
            eta = (self.plan.units - units_done) / rate if rate > 0 else None
        return TaskProgress(len(self.done), len(self.plan.chunks), units_done, self.plan.units, self.plan.unit, rate, eta)


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

    def _resources(self, layer: str, step: Step) -> Resources:
        # A plan or a merge reads and writes files: what the layer asks for (a GPU) is for its chunks.
        return self.engine.registry.get(layer).resources if step in ("whole", "chunk") else Resources()

    def _spec(self, task: Task, step: Step, chunk: int) -> TaskSpec:
        assert task.key is not None
        return TaskSpec(task.layer, task.game, task.key, self.plan.recipe(task.layer, task.game).model_dump_json(), step, chunk)

    def run(self, tasks: list[Task]) -> BuildResult:
        t0 = time.perf_counter()
        result = BuildResult()
        by_id = {t.id: t for t in tasks}
        waiting = {t.id: {d for d in t.deps if d in by_id} for t in tasks}
        dependents: dict[TaskId, list[TaskId]] = {}
        for t in tasks:
            for d in waiting[t.id]:
                dependents.setdefault(d, []).append(t.id)
        ready: deque[Work] = deque()
        delayed: list[tuple[float, int, Work]] = []  # (not before, tie-break, work)
        seq = itertools.count()
        attempts: dict[Work, int] = {}
        chunks: dict[TaskId, _Chunks] = {}
        warnings: dict[TaskId, list[str]] = {}
        in_flight: dict[Future[Outcome], Work] = {}
        executor = self.executor or LocalExecutor(self.engine, self.jobs)
        chunked = {t.layer: self.engine.registry.get(t.layer).is_chunked() for t in tasks}

        def finish(tid: TaskId, ev: TaskEvent) -> None:
            result.events[tid] = ev
            self.on_event(ev)

        def skip_dependents(tid: TaskId, why: str) -> None:
            for d in dependents.get(tid, ()):
                if d not in result.events:
                    finish(d, TaskEvent("skipped", by_id[d], 0, message=why))
                    skip_dependents(d, why)

        def begin(tid: TaskId) -> None:
            ready.append((tid, "plan" if chunked[by_id[tid].layer] else "whole", -1))

        def release(tid: TaskId) -> None:
            for d in dependents.get(tid, ()):
                waiting[d].discard(tid)
                if not waiting[d] and d not in result.events:
                    begin(d)

        def advance(tid: TaskId) -> None:
            """Queue what a chunked task can run next (ahead of tasks not yet started)."""
            st = chunks[tid]
            if st.complete():
                ready.appendleft((tid, "merge", -1))
                return
            runnable = st.runnable()
            st.queued.update(runnable)
            ready.extendleft(reversed([(tid, "chunk", i) for i in runnable]))

        def later(work: Work, at: float) -> None:
            heapq.heappush(delayed, (at, next(seq), work))

        def fail(tid: TaskId, work: Work, outcome: Outcome) -> None:
            task = by_id[tid]
            label = ""
            if work[1] == "chunk" and tid in chunks:
                c = chunks[tid].plan.chunks[work[2]]
                label = f"chunk {c.index} ({c.label}): "
            self._record_failure(task, outcome, attempts[work], label)
            finish(tid, TaskEvent("failed", task, attempts[work], outcome, label + (outcome.message or "")))
            skip_dependents(tid, f"upstream {task.layer} failed")

        for t in tasks:
            if not waiting[t.id]:
                begin(t.id)
        try:
            result.notes = executor.prepare({t.layer: self._resources(t.layer, "whole") for t in tasks if t.key is not None})
            for note in result.notes:
                self.on_note(note)
            while ready or in_flight or delayed:
                now = time.monotonic()
                while delayed and delayed[0][0] <= now:
                    ready.appendleft(heapq.heappop(delayed)[2])
                while ready and len(in_flight) < executor.slots:
                    work = ready.popleft()
                    tid, step, index = work
                    task = by_id[tid]
                    if tid in result.events:
                        continue  # the task ended while this step waited (a chunk failed)
                    if task.key is None:
                        finish(tid, TaskEvent("blocked", task, 0, message=task.reason))
                        skip_dependents(tid, f"upstream {task.layer} cannot be built")
                        continue
                    attempts[work] = attempts.get(work, 0) + 1
                    if step in ("whole", "plan"):  # an attempt at the task itself starts
                        self.on_event(TaskEvent("started", task, attempts[work]))
                    if step == "chunk" and chunks[tid].started_at is None:
                        chunks[tid].started_at = time.monotonic()
                    in_flight[executor.submit(self._spec(task, step, index), self._resources(task.layer, step))] = work
                if not in_flight:
                    if delayed:
                        time.sleep(max(0.0, delayed[0][0] - time.monotonic()))
                    continue
                done, _ = wait(list(in_flight), timeout=self._timeout(delayed), return_when=FIRST_COMPLETED)
                for fut in done:
                    work = in_flight.pop(fut)
                    tid, step, index = work
                    task = by_id[tid]
                    outcome = fut.result()  # a lost worker is a transient outcome (executor contract)
                    result.outcomes.append(outcome)
                    if tid in result.events:
                        continue  # the task already failed: a late step of it changes nothing
                    warnings.setdefault(tid, []).extend(outcome.warnings)
                    if outcome.ok and (step in ("whole", "merge") or outcome.plan is None and step == "plan"):
                        final = dataclasses.replace(outcome, warnings=tuple(warnings.pop(tid, ())))
                        finish(tid, TaskEvent("built" if outcome.published else "reused", task, attempts[work], final))
                        release(tid)
                    elif outcome.ok and step == "plan":
                        assert outcome.plan is not None
                        chunks[tid] = _Chunks(ChunkPlan.model_validate_json(outcome.plan), set(outcome.chunks_done))
                        self.on_event(TaskEvent("progress", task, attempts[work], progress=chunks[tid].progress()))
                        advance(tid)
                    elif outcome.ok and step == "chunk":
                        st = chunks[tid]
                        st.done.add(index)
                        st.queued.discard(index)
                        if outcome.published:
                            st.units_built += outcome.units
                        self.on_event(TaskEvent("progress", task, attempts[work], outcome, progress=st.progress()))
                        advance(tid)
                    elif outcome.deferred:
                        # Another builder holds this lease: not an attempt. Look again later; by
                        # then it is usually committed, and this step ends as reused.
                        attempts[work] -= 1
                        self.on_event(TaskEvent("waiting", task, attempts[work] + 1, outcome, outcome.message))
                        later(work, time.monotonic() + self._poll_s())
                    elif outcome.transient and attempts[work] <= self.retries:
                        self.on_event(TaskEvent("retry", task, attempts[work], outcome, outcome.message))
                        if step == "merge" and outcome.redo:
                            st = chunks[tid]
                            st.done.difference_update(outcome.redo)
                            advance(tid)
                        else:
                            later(work, time.monotonic() + self.backoff_s * 2 ** (attempts[work] - 1))
                    else:
                        warnings.pop(tid, None)
                        fail(tid, work, outcome)
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
    def _timeout(delayed: list[tuple[float, int, Work]]) -> float | None:
        return max(0.0, delayed[0][0] - time.monotonic()) if delayed else None

    def _record_failure(self, task: Task, outcome: Outcome, attempts: int, label: str = "") -> None:
        assert task.key is not None
        self.engine.store.record_failure(
            FailureRecord(
                layer=task.layer, game=task.game, key=task.key, error=outcome.error or "Error",
                message=label + (outcome.message or ""), transient=outcome.transient, attempts=attempts,
                at=datetime.now(UTC).isoformat(timespec="seconds"), host=host_name(), detail=outcome.detail,
            )
        )
