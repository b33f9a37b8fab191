"""The executor interface that :class:`artifacts.build.runner.BuildRunner` drives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Self

from artifacts.build.task import Outcome, TaskSpec
from artifacts.layers import Resources


class Executor(ABC):
    """Runs attempts of build tasks and hands back their outcomes as futures.

    Contract, the same for every executor so that a build behaves the same under each:

    * :meth:`submit` starts one attempt; its future resolves to an :class:`Outcome`. A worker
      that is lost while running it (killed, out of memory, its node gone) is an outcome too:
      a transient failure with ``error="WorkerDied"``, which the runner retries. The future
      raises only for a bug in the engine itself.
    * Retries, ordering and skipping dependents belong to the runner, never to the executor
      (an executor must not retry on its own).
    * Workers open the workspace themselves from an :class:`artifacts.plan.engine.EngineSpec`;
      they need nothing else of the process that submits.
    """

    @property
    @abstractmethod
    def slots(self) -> int:
        """How many tasks the runner keeps submitted at a time."""

    def prepare(self, layers: Mapping[str, Resources]) -> list[str]:
        """Check the resource requests of the layers about to run, before any task starts.

        Returns notes for the user (e.g. a GPU request that will run on CPUs); raises
        :class:`artifacts.errors.ExecutorError` for a request that can never be met.
        """
        return []

    @abstractmethod
    def submit(self, spec: TaskSpec, resources: Resources) -> Future[Outcome]:
        """Start one attempt of ``spec``, reserving ``resources`` where the executor can."""

    @abstractmethod
    def close(self) -> None:
        """Stop workers and release what the executor holds; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def worker_lost(spec: TaskSpec, message: str) -> Outcome:
    """The outcome of an attempt whose worker died under it: transient, so it is retried."""
    return Outcome(spec.layer, spec.game, spec.key, False, error="WorkerDied", message=message, transient=True, step=spec.step, chunk=spec.chunk)


def relay(out: Future[Outcome], inner: Future[Outcome], lost: Callable[[BaseException], Outcome | None]) -> None:
    """Settle ``out`` as ``inner`` ended: its outcome; for an exception, the outcome that
    ``lost`` makes of it (a lost worker), or else the exception itself (an engine bug)."""
    if inner.cancelled():
        out.cancel()
        return
    exc = inner.exception()
    if exc is None:
        out.set_result(inner.result())
        return
    outcome = lost(exc)
    if outcome is None:
        out.set_exception(exc)
    else:
        out.set_result(outcome)
